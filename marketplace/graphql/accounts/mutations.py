from __future__ import annotations

from typing import Any

import graphene
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from marketplace.accounts.models import ApiToken
from marketplace.core import permissions

from ..core.mutations import BaseMutation
from .types import UserType


class TokenCreate(BaseMutation):
    """Exchange a username (or phone) and password for a bearer token."""

    class Meta:
        permissions = (permissions.PUBLIC,)

    class Arguments:
        username = graphene.String(required=True)
        password = graphene.String(required=True)

    token = graphene.String()
    user = graphene.Field(UserType)

    @classmethod
    def perform(cls, info: Any, username: str, password: str) -> dict[str, Any]:
        user = authenticate(info.context, username=username, password=password)
        if user is None:
            raise ValidationError(
                {"password": ValidationError(gettext("用户名或密码错误"), code="invalid_credentials")}
            )
        _, raw = ApiToken.issue(user, name="graphql")
        return {"token": raw, "user": user}


class TokenRevoke(BaseMutation):
    """Revoke the bearer token this request was made with."""

    class Meta:
        permissions = (permissions.AUTHENTICATED,)

    revoked = graphene.Boolean()

    @classmethod
    def perform(cls, info: Any) -> dict[str, Any]:
        from django.utils import timezone

        raw = getattr(info.context, "api_token", None)
        if not raw:
            raise ValidationError(gettext("此请求未使用令牌"), code="invalid")
        count = ApiToken.objects.filter(digest=ApiToken.hash(raw), revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        return {"revoked": bool(count)}
