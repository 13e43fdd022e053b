"""Typed mutation errors, Saleor-style: every mutation returns ``errors { field code message }``."""

from __future__ import annotations

from enum import Enum
from typing import Any

import graphene
from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist, PermissionDenied, ValidationError
from django.utils.translation import gettext


class CommonErrorCode(Enum):
    REQUIRED = "required"
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    UNIQUE = "unique"
    PERMISSION_DENIED = "permission_denied"
    INVALID_CREDENTIALS = "invalid_credentials"
    OUT_OF_STOCK = "out_of_stock"
    LIMIT_EXCEEDED = "limit_exceeded"
    INVALID_STATE = "invalid_state"
    INFEASIBLE = "infeasible"
    PAYMENT_FAILED = "payment_failed"
    LICENCE_REQUIRED = "licence_required"
    REAL_NAME_REQUIRED = "real_name_required"
    GRAPHQL_ERROR = "graphql_error"


ErrorCode = graphene.Enum.from_enum(CommonErrorCode, description="Machine-readable error code.")


class Error(graphene.ObjectType):
    field = graphene.String(description="camelCase input field the error is about; null for the whole input.")
    code = graphene.Field(ErrorCode, required=True)
    message = graphene.String(required=True)


_DJANGO_CODES = {
    "required": CommonErrorCode.REQUIRED,
    "blank": CommonErrorCode.REQUIRED,
    "null": CommonErrorCode.REQUIRED,
    "unique": CommonErrorCode.UNIQUE,
    "unique_together": CommonErrorCode.UNIQUE,
    "not_found": CommonErrorCode.NOT_FOUND,
    "permission_denied": CommonErrorCode.PERMISSION_DENIED,
    "invalid_credentials": CommonErrorCode.INVALID_CREDENTIALS,
    "out_of_stock": CommonErrorCode.OUT_OF_STOCK,
    "limit_exceeded": CommonErrorCode.LIMIT_EXCEEDED,
    "invalid_state": CommonErrorCode.INVALID_STATE,
    "infeasible": CommonErrorCode.INFEASIBLE,
}


def camel(name: str | None) -> str | None:
    if not name or name == NON_FIELD_ERRORS:
        return None
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _code(raw: str | None) -> CommonErrorCode:
    if raw is None:
        return CommonErrorCode.INVALID
    try:
        return CommonErrorCode(raw)
    except ValueError:
        return _DJANGO_CODES.get(raw, CommonErrorCode.INVALID)


def errors_from_exception(exc: Exception) -> list[dict[str, Any]]:
    if isinstance(exc, PermissionDenied):
        return [
            {
                "field": None,
                "code": CommonErrorCode.PERMISSION_DENIED,
                "message": str(exc) or gettext("无权操作"),
            }
        ]
    if isinstance(exc, ObjectDoesNotExist):
        return [
            {"field": None, "code": CommonErrorCode.NOT_FOUND, "message": gettext("对象不存在或无权访问")}
        ]
    if isinstance(exc, ValidationError):
        out = []
        if hasattr(exc, "error_dict"):
            for field, errs in exc.error_dict.items():
                for err in errs:
                    out.append(
                        {"field": camel(field), "code": _code(err.code), "message": " ".join(err.messages)}
                    )
        else:
            for err in exc.error_list:
                out.append({"field": None, "code": _code(err.code), "message": " ".join(err.messages)})
        return out
    raise exc
