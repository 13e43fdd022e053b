"""Logging: one JSON object per line, a request id on every line, personal data and secrets masked.

* ``RequestIdMiddleware`` takes the caller's ``X-Request-ID`` (from nginx or a load balancer) or
  makes one, returns it in the response and logs one ``marketplace.request`` line per request.
* Celery tasks inherit the id of the request (or task) that queued them: ``before_task_publish``
  puts it in the message headers and ``task_prerun`` restores it in the worker.
* ``MaskingFilter`` sits on every handler, so whatever a logger, a library or a traceback writes,
  phone numbers, ID-card numbers, pickup/verification codes, tokens, signed links, password-reset
  links and credentials in URLs leave the process masked. Sentry events pass through the same
  ``mask`` (``sentry_before_send``).
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

request_logger = logging.getLogger("marketplace.request")


def get_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str) -> contextvars.Token[str]:
    return _request_id.set(value)


def new_request_id() -> str:
    return uuid.uuid4().hex


# --- Masking --------------------------------------------------------------------------------

# Order matters: whole URLs and key=value pairs first, then bare numbers.
_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # Credentials inside URLs: scheme://user:password@host
    (
        re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):[^@/\s]+@", re.I),
        r"\g<scheme>\g<user>:***@",
    ),
    # Django password-reset links /reset/<uidb64>/<token>/ (and any .../reset/.../set-password/)
    (re.compile(r"(/reset/)[^/\s]+/[^/\s?#]+"), r"\1***/***"),
    # Bearer / token authorisation headers
    (re.compile(r"\b(Bearer|Token|Basic)\s+[A-Za-z0-9._~+/=-]{6,}", re.I), r"\1 ***"),
    # Query-string or key=value secrets: ?t=..., token=..., sig=..., password=..., code=...
    (
        re.compile(
            r"(?P<key>(?<![A-Za-z0-9_-])(?:t|token|access_token|refresh_token|api_key|secret_key|access_key|sig|signature|secret|"
            r"password|passwd|pwd|otp|client_secret|csrfmiddlewaretoken|sessionid)"
            r"[\"']?\s*[=:]\s*[\"']?)[^&\s\"',;}]+",
            re.I,
        ),
        r"\g<key>***",
    ),
    # Stripe secrets and client secrets (sk_live_..., rk_..., whsec_..., pi_..._secret_...)
    (re.compile(r"\b(sk|rk|whsec)_(live|test)?_?[A-Za-z0-9]{6,}"), r"\1_***"),
    (re.compile(r"\b((?:pi|seti|pm)_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+"), r"\1_secret_***"),
    # Pickup / verification codes written next to their name (SMS texts, messages)
    (
        re.compile(
            r"(取货码|提货码|验证码|校验码|pickup code|verification code|code)(\W{0,4})\d{4,8}\b", re.I
        ),
        r"\1\2******",
    ),
    # Chinese resident ID numbers (18 digits, last may be X; old 15-digit form)
    (
        re.compile(r"(?<![0-9A-Za-z])\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[0-9Xx](?![0-9A-Za-z])"),
        "[身份证号]",
    ),
    (
        re.compile(r"(?<![0-9A-Za-z])\d{6}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![0-9A-Za-z])"),
        "[身份证号]",
    ),
    # Mainland mobile numbers, optionally +86: keep the first 3 and last 4 digits as pages do
    (
        re.compile(r"(?<![0-9])(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?![0-9])"),
        lambda m: f"{m.group(1)}****{m.group(3)}",
    ),
]


def mask(text: str) -> str:
    """``text`` with personal data and secrets replaced (idempotent)."""
    if not text:
        return text
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask_value(v) for v in value)
    return value


_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class MaskingFilter(logging.Filter):
    """Renders the message, the traceback and extra fields once, masked (put it on every handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask(message), None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                setattr(record, key, _mask_value(value))
        record._masked = True
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = get_request_id()
        return True


def logging_config(fmt: str = "text", level: str = "INFO") -> dict[str, Any]:
    """The ``LOGGING`` dict (also used by gunicorn's ``logconfig_dict`` and the Celery worker)."""
    formatters = {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "json_ensure_ascii": False,
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "marketplace.core.logs.RequestIdFilter"},
            "mask": {"()": "marketplace.core.logs.MaskingFilter"},
        },
        "formatters": {"main": formatters["json" if fmt == "json" else "text"]},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "main",
                "filters": ["request_id", "mask"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            "jieba": {"level": "WARNING"},
            "oscar": {"level": "WARNING"},
            # gunicorn's own loggers write through the same handler (no access log: the request
            # line comes from RequestIdMiddleware, with the request id and masked).
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


# --- Requests ---------------------------------------------------------------------------------


class RequestIdMiddleware:
    """First middleware: a request id for the whole request, echoed back, and one log line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        rid = incoming if _VALID_ID.match(incoming) else new_request_id()
        request.request_id = rid  # type: ignore[attr-defined]
        token = set_request_id(rid)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = rid
            if not request.path.startswith(("/healthz", "/readyz", "/static/")):
                request_logger.info(
                    "%s %s %s",
                    request.method,
                    request.get_full_path(),
                    response.status_code,
                    extra={
                        "method": request.method,
                        "path": request.get_full_path(),
                        "status": response.status_code,
                        "duration_ms": round((time.monotonic() - started) * 1000, 1),
                        "user_id": getattr(getattr(request, "user", None), "pk", None),
                    },
                )
            return response
        finally:
            _request_id.reset(token)


# --- Celery -----------------------------------------------------------------------------------


def install_celery_signals() -> None:
    """Carry the request id from the publisher into the task (called from marketplace.celery)."""
    from celery.signals import before_task_publish, task_postrun, task_prerun

    tokens: dict[str, contextvars.Token[str]] = {}

    @before_task_publish.connect(weak=False)
    def _publish(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
        rid = get_request_id()
        if headers is not None and rid and "request_id" not in headers:
            headers["request_id"] = rid

    @task_prerun.connect(weak=False)
    def _prerun(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
        request = getattr(task, "request", None)
        rid = getattr(request, "request_id", None) or (request.get("request_id") if request else None)
        if not rid and request is not None and request.is_eager:
            rid = get_request_id()  # in-process: the caller's id is already in this context
        if task_id:
            tokens[task_id] = set_request_id(rid or f"task-{task_id}")

    @task_postrun.connect(weak=False)
    def _postrun(task_id: str | None = None, **kwargs: Any) -> None:
        token = tokens.pop(task_id or "", None)
        if token is not None:
            try:
                _request_id.reset(token)
            except ValueError:  # reset from another context (should not happen with solo/prefork)
                set_request_id("")


# --- Sentry -----------------------------------------------------------------------------------


def sentry_before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Masks every string of the event and tags it with the request id."""
    event = _mask_value(event)
    rid = get_request_id()
    if rid:
        event.setdefault("tags", {})["request_id"] = rid
    return event


def init_sentry(dsn: str, environment: str, release: str = "", traces_sample_rate: float = 0.0) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        before_send=sentry_before_send,  # type: ignore[arg-type]
        before_send_transaction=sentry_before_send,  # type: ignore[arg-type]
    )
