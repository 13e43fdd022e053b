from __future__ import annotations

from typing import Any

import graphene
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext

from .errors import Error, errors_from_exception


class BaseMutation(graphene.Mutation):
    """Runs ``perform`` in a transaction; domain exceptions become typed ``errors``, not GraphQL errors.

    Subclasses define ``Arguments`` and output fields, and implement
    ``perform(cls, info, **data) -> dict`` returning the output fields.
    """

    errors = graphene.List(graphene.NonNull(Error), required=True)

    class Meta:
        abstract = True

    @classmethod
    def mutate(cls, root: Any, info: Any, **data: Any):
        try:
            with transaction.atomic():
                result = cls.perform(info, **data)
        except (ValidationError, PermissionDenied, ObjectDoesNotExist) as exc:
            return cls(errors=errors_from_exception(exc))
        return cls(errors=[], **result)


def require_login(info: Any):
    user = info.context.user
    if not user.is_authenticated:
        raise PermissionDenied(gettext("请先登录"))
    return user
