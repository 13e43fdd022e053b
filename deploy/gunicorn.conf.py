"""gunicorn settings, for production and for the embedded server (serve_embedded / bin/demo).

Production: `gunicorn marketplace.wsgi -c deploy/gunicorn.conf.py`. Every value can be set from the
environment (docs/settings.md). nginx's proxy timeouts and body limit (deploy/nginx.conf) are set to
match GUNICORN_TIMEOUT and the app's upload limit.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# One process per core plus one, two threads each. A request is ~20 short SQL round trips, and each
# return from one waits for the GIL: with more threads per process they queue behind each other
# (measured on 2 cores, benchmarks/peak_pledges.py: 2 x 4 gave 64 pledges/s, 3 x 2 gave 106-111,
# 4 x 2 95-109, 6 x 1 85-91; docs/capacity.md). The preloaded, frozen application is shared
# between the forks, so a process more costs little memory.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
worker_class = "gthread"
# A request running longer than this is answered 502 by nginx and its worker is restarted.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
# The application is loaded and warmed (marketplace.core.warmup) once, in the master, and its
# objects are frozen out of the garbage collector's reach: every worker — the first ones and each
# one recycled by max_requests — is a fork that serves warm at once, instead of ~4.5 s of CPU for
# imports, URLconf, schema and jieba's dictionary while its connections wait (the p99 of the
# cached catalogue reads was 0.6-1.3 s from that), and a full collection in a worker no longer
# walks the ~200,000 objects of the loaded application (a 100+ ms pause of all its threads).
# Code changes need a restart of the master (systemctl restart / a new container), not a HUP.
# GUNICORN_PRELOAD=0: each worker loads and warms the application itself before it accepts.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") != "0"
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


def when_ready(server) -> None:  # noqa: ANN001  (gunicorn hook: master, before the first fork)
    if server.cfg.preload_app:
        import gc

        from marketplace.core.warmup import warm_up

        warm_up()
        server.log.info(
            "Application preloaded and warmed in the master (%d objects frozen)", gc.get_freeze_count()
        )


def post_worker_init(worker) -> None:  # noqa: ANN001  (gunicorn hook)
    """Warm the application here when it is not preloaded (before the worker accepts anything).

    Embedded default (no broker): each worker runs the periodic tasks in a thread of its own.
    serve_embedded starts one worker and sets MARKETPLACE_EMBEDDED_BEAT=1."""
    if not worker.cfg.preload_app:
        from marketplace.core.warmup import warm_up

        warm_up()
    if os.environ.get("MARKETPLACE_EMBEDDED_BEAT") == "1":
        from marketplace.core.periodic import start_in_thread

        start_in_thread(interval=float(os.environ.get("MARKETPLACE_EMBEDDED_BEAT_INTERVAL", "60")))
        worker.log.info("Periodic tasks: running in-process in worker %s (no broker configured)", worker.pid)
