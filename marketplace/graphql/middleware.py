"""GraphQL execution middleware: a request deadline and input bounds on every root field.

Every argument of every query and mutation is checked before its resolver runs, the same way for
every plugin:

- ``ID``: a positive integer that fits the database's bigint (``"abc"`` is refused instead of
  reaching the ORM as ``Field 'id' expected a number``);
- ``String``: no NUL byte, at most ``GRAPHQL_MAX_STRING_LENGTH`` characters;
- ``Decimal``: finite, below 10¹² in size, at most 6 decimal places;
- ``MoneyAmount``: 0 ≤ amount < 10¹⁰ with at most 2 decimal places (never silently rounded).

A mutation with a bad argument returns its typed ``errors`` (field in camelCase, code INVALID);
a query gets one GraphQL error with ``extensions.code`` BAD_USER_INPUT and the field.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext
from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)

from .core.errors import CommonErrorCode

_ID = re.compile(r"[1-9][0-9]{0,18}")
_BIGINT_MAX = 2**63 - 1


class BadInput(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _decimal_problem(value: Decimal, max_abs: Decimal, places: int, non_negative: bool) -> str | None:
    if not value.is_finite():
        return gettext("请输入有效数字")
    if non_negative and value < 0:
        return gettext("金额不能为负数")
    if abs(value) >= max_abs:
        return gettext("数值过大")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        return gettext("最多 %(places)d 位小数") % {"places": places}
    return None


def check_value(value: Any, gtype: Any, path: str) -> None:
    """Raise BadInput for the first out-of-bounds value under ``path`` (camelCase, dotted)."""
    if value is None:
        return
    if isinstance(gtype, GraphQLNonNull):
        gtype = gtype.of_type
    if isinstance(gtype, GraphQLList):
        for item in value:
            check_value(item, gtype.of_type, path)
        return
    if isinstance(gtype, GraphQLInputObjectType):
        for name, field in gtype.fields.items():
            key = field.out_name or name
            if isinstance(value, dict) and key in value:
                check_value(value[key], field.type, f"{path}.{name}")
        return
    if not isinstance(gtype, GraphQLScalarType):
        return
    if gtype.name == "ID":
        text = str(value)
        if not _ID.fullmatch(text) or int(text) > _BIGINT_MAX:
            raise BadInput(path, gettext("无效的编号"))
    elif gtype.name == "String" and isinstance(value, str):
        if "\x00" in value:
            raise BadInput(path, gettext("不能包含空字符 (NUL)"))
        if len(value) > settings.GRAPHQL_MAX_STRING_LENGTH:
            raise BadInput(path, gettext("最多 %(n)d 个字符") % {"n": settings.GRAPHQL_MAX_STRING_LENGTH})
    elif gtype.name == "MoneyAmount" and isinstance(value, Decimal):
        problem = _decimal_problem(value, Decimal("1e10"), 2, non_negative=True)
        if problem:
            raise BadInput(path, problem)
    elif gtype.name == "Decimal" and isinstance(value, Decimal):
        problem = _decimal_problem(value, Decimal("1e12"), 6, non_negative=False)
        if problem:
            raise BadInput(path, problem)


class DeadlineExceeded(GraphQLError):
    def __init__(self) -> None:
        super().__init__(gettext("请求处理超时"), extensions={"code": "TIMEOUT"})


class EdgeMiddleware:
    """Bounds root-field arguments and stops resolving once the request's deadline has passed."""

    def resolve(self, next_: Any, root: Any, info: Any, **args: Any) -> Any:
        deadline = getattr(info.context, "graphql_deadline", None)
        if deadline is not None and time.monotonic() > deadline:
            raise DeadlineExceeded()
        field = info.parent_type.fields.get(info.field_name)
        if info.path.prev is None and field is not None:  # a root field: check its arguments once
            try:
                for name, arg in field.args.items():
                    key = arg.out_name or name
                    if key in args:
                        check_value(args[key], arg.type, name)
            except BadInput as bad:
                return self._refuse(info, bad)
        return next_(root, info, **args)

    @staticmethod
    def _refuse(info: Any, bad: BadInput) -> Any:
        graphene_type = getattr(info.return_type, "graphene_type", None)
        if graphene_type is None:
            inner = getattr(info.return_type, "of_type", None)
            graphene_type = getattr(inner, "graphene_type", None)
        fields = getattr(info.return_type, "fields", None) or {}
        if graphene_type is not None and "errors" in fields:
            errors = [{"field": bad.field, "code": CommonErrorCode.INVALID, "message": bad.message}]
            failure = getattr(graphene_type, "failure", None)  # BaseMutation's refusal payload
            return failure(errors) if failure else graphene_type(errors=errors)
        raise GraphQLError(
            f"{bad.field}: {bad.message}", extensions={"code": "BAD_USER_INPUT", "field": bad.field}
        )
