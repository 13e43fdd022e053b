"""Issue 11 item 4: brute force on passwords (pages, tokenCreate with aliases) and SMS floods."""

from __future__ import annotations

import json

import pytest
from axes.utils import reset
from django.test import Client, override_settings
from testkit import PASSWORD

from marketplace.accounts.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def unlock(staff_a):
    yield
    reset(ip="127.0.0.1", username="staff_a")


def login(client: Client, password: str):
    return client.post("/login/", {"username": "staff_a", "password": password})


def token_create(password: str, n: int = 1):
    fields = " ".join(
        f'g{i}: tokenCreate(username: "staff_a", password: "{password}") {{ token errors {{ code }} }}'
        for i in range(n)
    )
    return Client().post(
        "/graphql/", json.dumps({"query": f"mutation {{ {fields} }}"}), content_type="application/json"
    )


def test_100_wrong_passwords_on_the_login_page_lock_the_account_out(staff_a, unlock, settings):
    client = Client()
    answers = [login(client, f"wrong-{i}").status_code for i in range(100)]
    limit = settings.AXES_FAILURE_LIMIT
    assert answers[: limit - 1] == [200] * (limit - 1)  # the form again, with its error
    assert set(answers[limit:]) == {429}
    # The right password is refused while locked …
    locked = login(client, PASSWORD)
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    assert "登录失败次数过多" in locked.content.decode()
    # … and works once the window has passed (the library's reset stands in for the wait).
    reset(ip="127.0.0.1", username="staff_a")
    assert login(client, PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(staff_a.pk)


def test_token_create_counts_every_alias(staff_a, unlock, settings):
    assert settings.AXES_FAILURE_LIMIT == 10
    # Five aliased guesses per request (the cost limit allows nine): each alias is one failure.
    first = token_create("wrong", n=5).json()
    assert [v["errors"][0]["code"] for v in first["data"].values()] == ["INVALID_CREDENTIALS"] * 5
    second = token_create("wrong", n=5)  # failures 6–10: the tenth locks the account out
    assert second.status_code == 429
    # Every alias counted: the account is now locked, even for the right password.
    r = token_create(PASSWORD)
    assert r.status_code == 429
    assert r.json()["errors"][0]["extensions"]["code"] == "LOCKED_OUT"
    assert not ApiToken.objects.filter(user=staff_a).exists()
    reset(ip="127.0.0.1", username="staff_a")
    ok = token_create(PASSWORD).json()["data"]["g0"]
    assert ok["errors"] == [] and ok["token"]


def test_lockout_is_per_caller_address_behind_the_proxy(staff_a, unlock, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    attacker = Client(HTTP_X_FORWARDED_FOR="203.0.113.9", REMOTE_ADDR="10.0.0.2")
    for i in range(settings.AXES_FAILURE_LIMIT + 1):
        login(attacker, f"wrong-{i}")
    assert login(attacker, PASSWORD).status_code == 429
    # The station officer at another address is not locked out by the attacker.
    officer = Client(HTTP_X_FORWARDED_FOR="198.51.100.7", REMOTE_ADDR="10.0.0.2")
    assert login(officer, PASSWORD).status_code == 302
    reset(ip="203.0.113.9", username="staff_a")


@override_settings(SMS_PER_PHONE_RATE="3/h")
def test_sms_flood_to_one_number_is_refused_and_recorded(db, django_capture_on_commit_callbacks):
    from marketplace.core.models import Notification
    from marketplace.core.sms import send_sms

    phone = "13700000042"
    with django_capture_on_commit_callbacks(execute=True):
        notes = [send_sms(phone, f"消息 {i}") for i in range(5)]
    statuses = [Notification.objects.get(pk=n.pk).status for n in notes]
    assert statuses == [Notification.Status.SENT] * 3 + [Notification.Status.FAILED] * 2
    assert Notification.objects.get(pk=notes[-1].pk).error == "rate_limited"
    with django_capture_on_commit_callbacks(execute=True):
        other = send_sms("13700000043", "另一个号码")
    assert Notification.objects.get(pk=other.pk).status == Notification.Status.SENT


def test_sms_log_lines_carry_no_number_or_code(db, caplog, django_capture_on_commit_callbacks):
    import logging

    from marketplace.core.sms import send_sms

    with (
        caplog.at_level(logging.INFO, logger="marketplace.sms"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        send_sms("13700000099", "取货码 834201")
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "recorded" in text
    assert "13700000099" not in text and "834201" not in text
