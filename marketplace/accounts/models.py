"""People: one user model for every role, and API tokens for the GraphQL API."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

phone_validator = RegexValidator(r"^1[3-9]\d{9}$", _("请输入11位中国大陆手机号码"))


class Role(models.TextChoices):
    OPERATOR = "operator", _("平台运营")
    STATION_STAFF = "station_staff", _("信息员")
    FARMER = "farmer", _("农户")
    SUPPLIER = "supplier", _("供应商")
    COOPERATIVE = "cooperative", _("合作社")
    CITY_BUYER = "city_buyer", _("城市采购商")
    AGRONOMIST = "agronomist", _("农技人员")
    COUNTY_STAFF = "county_staff", _("县级管理员")


class User(AbstractUser):
    """A person who can log in. Farmer households without a login live in stations.Household."""

    phone = models.CharField(
        _("手机号"), max_length=11, unique=True, null=True, blank=True, validators=[phone_validator]
    )
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices, default=Role.CITY_BUYER)
    display_name = models.CharField(_("姓名"), max_length=64, blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    def get_full_name(self) -> str:
        return self.display_name or super().get_full_name()

    @property
    def is_operator(self) -> bool:
        return self.is_active and (self.is_superuser or self.role == Role.OPERATOR)


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class ApiToken(models.Model):
    """Bearer token for the GraphQL API. Only a SHA-256 digest is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.user} ({self.name or 'token'})"

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, name: str = "") -> tuple[ApiToken, str]:
        raw = secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            digest=cls.hash(raw),
            name=name,
            expires_at=timezone.now() + timedelta(days=settings.API_TOKEN_TTL_DAYS),
        )
        return token, raw

    #: ``last_used_at`` is a minute-resolution "last seen": written at most once per this interval.
    TOUCH_INTERVAL = timedelta(minutes=1)

    @classmethod
    def authenticate(cls, raw: str) -> User | None:
        """The token's active user, or None. One indexed SELECT (token and user); ``last_used_at``
        is written only when it is older than :attr:`TOUCH_INTERVAL`, by a conditional UPDATE (so
        concurrent requests of one token write it once), not on every request."""
        rows = list(cls.objects.active().select_related("user").filter(digest=cls.hash(raw))[:1])
        token = rows[0] if rows else None
        if token is None or not token.user.is_active:
            return None
        now = timezone.now()
        stale = now - cls.TOUCH_INTERVAL
        if token.last_used_at is None or token.last_used_at < stale:
            cls.objects.filter(pk=token.pk).filter(
                models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lt=stale)
            ).update(last_used_at=now)
        return token.user
