"""Brute-force protection in one place (issue 11 item 4).

- Password logins (``/login/`` and GraphQL ``tokenCreate``, every alias) go through
  ``django.contrib.auth.authenticate``, which django-axes watches (``AxesStandaloneBackend``, cache
  handler on the shared cache): ``AXES_FAILURE_LIMIT`` failures for one username from one address
  lock that pair out for ``AXES_COOLOFF_TIME``, and the right password is refused meanwhile.
  ``lockout_response`` answers a locked-out request (JSON for GraphQL, the login page otherwise).
- Pickup-code attempts and SMS sends are throttled with django-ratelimit (``hit``), on the same cache.

``client_ip`` is the caller's address behind ``TRUSTED_PROXY_COUNT`` reverse proxies (nginx sets
``X-Forwarded-For``); both libraries use it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django_ratelimit.core import is_ratelimited


def client_ip(request: HttpRequest) -> str:
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = gettext("登录失败次数过多，请 %(minutes)d 分钟后再试") % {"minutes": minutes}
    if request.path.startswith("/graphql"):
        return JsonResponse(
            {"errors": [{"message": message, "extensions": {"code": "LOCKED_OUT"}}]}, status=429
        )
    return render(request, "registration/locked_out.html", {"message": message}, status=429)


def _limited(group: str, key: str, rate: str, increment: bool) -> bool:
    if not settings.RATELIMIT_ENABLE:
        return False
    return is_ratelimited(HttpRequest(), group=group, key=lambda _g, _r: key, rate=rate, increment=increment)


def pickup_code_guard(actor: Any):
    """Around a pickup-code lookup by ``actor``: refuse while PICKUP_CODE_FAILURE_RATE failed lookups
    are on record (a lockout, like axes for passwords); the caller reports misses with the returned
    ``miss()``. Hand-outs that find their pickup do not count."""
    key = f"user:{actor.pk}"
    rate = settings.PICKUP_CODE_FAILURE_RATE
    if _limited("pickup-code", key, rate, increment=False):
        raise ValidationError(
            {"code": ValidationError(gettext("取货码错误次数过多，请稍后再试"), code="limit_exceeded")}
        )
    return lambda: _limited("pickup-code", key, rate, increment=True)


def sms_send_allowed(phone: str) -> bool:
    """At most SMS_PER_PHONE_RATE messages to one number (a runaway loop or abuse cannot flood it)."""
    return not _limited("sms", phone, settings.SMS_PER_PHONE_RATE, increment=True)
