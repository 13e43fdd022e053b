"""Issue #14: a bearer token's ``last_used_at`` is written at most once a minute, not by every
request (each write was a commit and a WAL flush of its own per request)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketplace.accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def me(raw: str):
    return Client().post(
        "/graphql/",
        json.dumps({"query": "{ me { username } }"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )


def token_updates(ctx: CaptureQueriesContext) -> int:
    return sum(
        1 for q in ctx.captured_queries if q["sql"].startswith("UPDATE") and "accounts_apitoken" in q["sql"]
    )


def test_last_used_is_written_once_a_minute(staff_a):
    token, raw = ApiToken.issue(staff_a)
    assert token.last_used_at is None
    with CaptureQueriesContext(connection) as first:
        assert me(raw).json()["data"]["me"]["username"] == "staff_a"
    token.refresh_from_db()
    assert token.last_used_at is not None and token_updates(first) == 1
    seen = token.last_used_at
    with CaptureQueriesContext(connection) as later:
        for _ in range(3):
            assert me(raw).json()["data"]["me"]["username"] == "staff_a"
    token.refresh_from_db()
    assert token.last_used_at == seen and token_updates(later) == 0
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(seconds=61))
    with CaptureQueriesContext(connection) as stale:
        me(raw)
    token.refresh_from_db()
    assert token_updates(stale) == 1 and token.last_used_at > seen


def test_revoked_and_expired_tokens_are_still_refused_at_once(staff_a):
    token, raw = ApiToken.issue(staff_a)
    assert me(raw).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert me(raw).status_code == 401
    token2, raw2 = ApiToken.issue(staff_a)
    assert me(raw2).status_code == 200
    ApiToken.objects.filter(pk=token2.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert me(raw2).status_code == 401
