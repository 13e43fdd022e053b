"""Logs: JSON lines with a request id (also inside Celery tasks) and no personal data or secrets."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.test import Client
from pythonjsonlogger.json import JsonFormatter

from marketplace.celery import app
from marketplace.core.logs import (
    MaskingFilter,
    RequestIdFilter,
    logging_config,
    mask,
    sentry_before_send,
    set_request_id,
)
from marketplace.core.models import Notification
from marketplace.core.sms import LoggingSMSBackend, send_sms
from marketplace.core.tasks import deliver_notification

PHONE = "13812345678"
ID_NUMBER = "22011219800101123X"


@pytest.fixture
def log_lines():
    """The production handler (JSON formatter, request-id and masking filters) on our loggers (the
    Celery test worker reconfigures the root logger)."""
    conf = logging_config("json")["formatters"]["main"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        JsonFormatter(conf["format"], rename_fields=conf["rename_fields"], json_ensure_ascii=False)
    )
    handler.addFilter(RequestIdFilter())
    handler.addFilter(MaskingFilter())
    root = logging.getLogger("marketplace")
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    lines.raw = stream  # type: ignore[attr-defined]
    yield lines
    root.removeHandler(handler)
    root.setLevel(previous)


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (f"SMS to {PHONE}: 您好", PHONE, "138****5678"),
        ("SMS to +86 138-1234-5678: 您好", "1234-5678", "138****5678"),
        (f"身份证 {ID_NUMBER} 已登记", ID_NUMBER, "[身份证号]"),
        ("身份证 220112800101123 已登记", "220112800101123", "[身份证号]"),
        ("【益农直采】已成团，应付 ¥120.00。到货后凭取货码 482913 到东岗站取货。", "482913", "取货码 ******"),
        ("您的团购农资已到东岗站，取货码 004217，营业时间 8:00-17:00。", "004217", "取货码 ******"),
        ("Your pickup code: 482913", "482913", "pickup code: ******"),
        ("reset: http://localhost:8000/reset/MTI/cf1k2x-4b1e7d0c9e2f3a4b5c6d/", "cf1k2x", "/reset/***/***/"),
        ("GET /p/routing/plans/3/routes/7/sheet/?t=7:1q2w3e:abcdEFGH 200", "abcdEFGH", "?t=***"),
        ("Authorization: Bearer 9f8e7d6c5b4a39281706", "9f8e7d6c5b4a", "Bearer ***"),
        ("db postgres://market:s3cr3t-pw@db:5432/market", "s3cr3t-pw", "market:***@db"),
        ('{"password": "nongzi-demo-2026", "user": "station01"}', "nongzi-demo", "station01"),
        ("stripe key sk_live_51Habcdefghij and whsec_abcdef123456", "51Habcdef", "sk_***"),
        ("client pi_3Nx1_secret_AbCdEf123 confirmed", "AbCdEf123", "pi_3Nx1_secret_***"),
    ],
)
def test_mask_removes_personal_data_and_secrets(text, secret, kept):
    masked = mask(text)
    assert secret not in masked
    assert kept in masked
    assert mask(masked) == masked


def test_mask_keeps_ordinary_figures():
    text = "campaign 42: 7200 stations, ¥1234567.89, order 100023, 15-15-15 复合肥 2026-03-01"
    assert mask(text) == text


def test_sms_log_line_is_masked_json_with_request_id(log_lines):
    set_request_id("req-abcdef12")
    try:
        LoggingSMSBackend().send(PHONE, "到货后凭取货码 482913 到东岗站取货。")
    finally:
        set_request_id("")
    raw = log_lines.raw.getvalue()
    assert PHONE not in raw and "482913" not in raw
    line = log_lines()[-1]
    assert line["logger"] == "marketplace.sms" and line["level"] == "INFO"
    assert line["request_id"] == "req-abcdef12"
    # The default backend records that a message went out, never to whom or what it said.
    assert "138****5678" not in line["message"] and "取货码" not in line["message"]


def test_traceback_and_extra_fields_are_masked(log_lines):
    try:
        raise ValueError(f"household phone {PHONE} id {ID_NUMBER}")
    except ValueError:
        logging.getLogger("marketplace.test").exception("failed for %s", PHONE, extra={"phone": PHONE})
    raw = log_lines.raw.getvalue()
    assert PHONE not in raw and ID_NUMBER not in raw
    line = log_lines()[-1]
    assert "ValueError" in line["exc_info"] and line["phone"] == "138****5678"


@pytest.mark.django_db
def test_request_id_echoed_logged_and_carried_into_task(
    log_lines, station_a, django_capture_on_commit_callbacks
):
    client = Client()
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234567890")
    assert response["X-Request-ID"] == "lb-1234567890"
    response = client.get("/login/?next=/households/%3Ft%3Dsecret-token-value")
    rid = response["X-Request-ID"]
    assert len(rid) == 32
    request_line = next(line for line in log_lines() if line["logger"] == "marketplace.request")
    assert request_line["request_id"] == rid and request_line["status"] == 200
    assert request_line["path"].startswith("/login/")
    # A malformed incoming id (log injection) is replaced.
    response = client.get("/healthz", HTTP_X_REQUEST_ID='x" \n{"level":"ERROR"}')
    assert response["X-Request-ID"] != 'x" \n{"level":"ERROR"}' and len(response["X-Request-ID"]) == 32
    # In-process task (embedded default): same id as the caller.
    set_request_id("req-eager-0001")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            note = send_sms(PHONE, "到货通知 取货码 123456")
    finally:
        set_request_id("")
    assert note is not None
    sms_lines = [line for line in log_lines() if line["logger"] == "marketplace.sms"]
    assert sms_lines and sms_lines[-1]["request_id"] == "req-eager-0001"
    assert "123456" not in log_lines.raw.getvalue()


@pytest.mark.django_db(transaction=True)
def test_request_id_travels_through_the_broker_to_the_worker(log_lines):
    note = Notification.objects.create(recipient=PHONE, text="到货通知 取货码 654321")
    app.conf.update(task_always_eager=False, broker_url=settings.CELERY_BROKER_URL or "memory://")
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            set_request_id("req-through-broker")
            try:
                deliver_notification.delay(note.pk)
            finally:
                set_request_id("")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                note.refresh_from_db()
                if note.status != Notification.Status.QUEUED:
                    break
                time.sleep(0.2)
    finally:
        app.conf.update(task_always_eager=True)
    assert note.status == Notification.Status.SENT
    sms = [line for line in log_lines() if line["logger"] == "marketplace.sms"]
    assert sms and sms[-1]["request_id"] == "req-through-broker"
    assert PHONE not in log_lines.raw.getvalue() and "654321" not in log_lines.raw.getvalue()


def test_sentry_events_are_masked_and_tagged():
    set_request_id("req-sentry-0001")
    try:
        event = sentry_before_send(
            {
                "message": f"SMS to {PHONE}",
                "exception": {"values": [{"value": f"id {ID_NUMBER}"}]},
                "request": {"query_string": "t=abc123secret"},
            },
            {},
        )
    finally:
        set_request_id("")
    text = json.dumps(event, ensure_ascii=False)
    assert PHONE not in text and ID_NUMBER not in text
    assert event["tags"]["request_id"] == "req-sentry-0001"


def test_production_settings_log_json():
    assert logging_config("json")["formatters"]["main"]["()"].endswith("JsonFormatter")
    handler = settings.LOGGING["handlers"]["console"]
    assert handler["filters"] == ["request_id", "mask"]
