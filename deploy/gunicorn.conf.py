"""gunicorn settings, for production and for the embedded server (serve_embedded / bin/demo).

Production: `gunicorn marketplace.wsgi -c deploy/gunicorn.conf.py`. Every value can be set from the
environment (docs/settings.md). nginx's proxy timeouts and body limit (deploy/nginx.conf) are set to
match GUNICORN_TIMEOUT and the app's upload limit.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# A request running longer than this is answered 502 by nginx and its worker is restarted.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
# Jitter of half the limit: workers recycle at well-separated moments, never all at once (a
# ±10 % jitter restarted both workers of a 2-worker host within seconds of each other).
max_requests_jitter = max_requests // 2
limit_request_line = 8190
limit_request_fields = 100
# Logs: gunicorn's own lines go through Django's LOGGING (JSON, masked); the per-request line is
# written by marketplace.core.logs.RequestIdMiddleware (with the request id, query tokens masked).
accesslog = None
errorlog = "-"
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108  (heartbeat file)
wsgi_app = "marketplace.wsgi:application"
# No control socket: its default path is per user, so two servers on one host would share it.
control_socket_disable = True


def _logconfig() -> dict:
    from marketplace.core.logs import logging_config

    production = os.environ.get("MARKETPLACE_ENV") == "production"
    fmt = os.environ.get("LOG_FORMAT") or ("json" if production else "text")
    return logging_config(fmt, os.environ.get("LOG_LEVEL") or "INFO")


logconfig_dict = _logconfig()


def post_worker_init(worker) -> None:  # noqa: ANN001  (gunicorn hook)
    """Embedded default (no broker): each worker runs the periodic tasks in a thread of its own.
    serve_embedded starts one worker and sets MARKETPLACE_EMBEDDED_BEAT=1."""
    if os.environ.get("MARKETPLACE_EMBEDDED_BEAT") == "1":
        from marketplace.core.periodic import start_in_thread

        start_in_thread(interval=float(os.environ.get("MARKETPLACE_EMBEDDED_BEAT_INTERVAL", "60")))
        worker.log.info("Periodic tasks: running in-process in worker %s (no broker configured)", worker.pid)
