from __future__ import annotations

from typing import Any

import graphene
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from graphene.types.mutation import MutationOptions

from marketplace.core import permissions as perms

from .errors import Error, errors_from_exception


class BaseMutationOptions(MutationOptions):
    permissions: tuple[perms.Permission, ...] = ()
    atomic: bool = True


class BaseMutation(graphene.Mutation):
    """Checks the declared permissions, then runs ``perform`` in a transaction; domain exceptions
    become typed ``errors``, not GraphQL errors.

    Subclasses declare what the caller needs (Saleor's ``Meta.permissions``)::

        class Meta:
            permissions = (permissions.STATION_STAFF,)   # at least one of them

    (``permissions.PUBLIC`` for the few that anybody may call, e.g. ``tokenCreate``), define
    ``Arguments`` and output fields, and implement ``perform(cls, info, **data) -> dict`` returning
    the output fields. The check runs in the field resolver, before ``mutate``, so a subclass that
    overrides ``mutate`` is still guarded. A refusal returns ``failure(errors)``; override it when
    the payload has other required fields. Object-level tenancy (which household, which partner)
    stays in ``perform``, which starts from the querysets in ``marketplace.core.permissions``.

    ``Meta.atomic = False`` runs ``perform`` without the surrounding transaction, for a service
    that owns its transactions and is called the same way by the pages (e.g. a pledge: its write
    is one short transaction, and a card authorisation is not made inside one).
    """

    errors = graphene.List(graphene.NonNull(Error), required=True)

    class Meta:
        abstract = True

    @classmethod
    def __init_subclass_with_meta__(
        cls,
        permissions: tuple[perms.Permission | str, ...] | None = None,
        atomic: bool = True,
        _meta=None,
        **options: Any,
    ) -> None:
        if not _meta:
            _meta = BaseMutationOptions(cls)
        _meta.permissions = tuple(perms.get_permission(p) for p in permissions or ())
        _meta.atomic = atomic
        mutate = cls.mutate

        def resolve(root: Any, info: Any, **data: Any):
            try:
                cls.check_permissions(info)
            except PermissionDenied as exc:
                return cls.failure(errors_from_exception(exc))
            return mutate(root, info, **data)

        super().__init_subclass_with_meta__(_meta=_meta, resolver=resolve, **options)

    @classmethod
    def check_permissions(cls, info: Any) -> None:
        """The one place a mutation's declared permissions are checked. Undeclared: logged in."""
        perms.check(info.context.user, cls._meta.permissions or (perms.AUTHENTICATED,))

    @classmethod
    def failure(cls, errors: list[dict[str, Any]]):
        return cls(errors=errors)

    @classmethod
    def mutate(cls, root: Any, info: Any, **data: Any):
        try:
            if cls._meta.atomic:
                with transaction.atomic():
                    result = cls.perform(info, **data)
            else:
                result = cls.perform(info, **data)
        except (ValidationError, PermissionDenied, ObjectDoesNotExist) as exc:
            return cls.failure(errors_from_exception(exc))
        return cls(errors=[], **result)
