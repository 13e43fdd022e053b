"""Test support: run a local `localstripe` server (a fake of the Stripe API) as a subprocess.

Used by the test suites' session fixtures; nothing here talks to the internet.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def localstripe_server(timeout: float = 20.0) -> Iterator[str]:
    """Start localstripe on a free port; yield its base URL; stop it afterwards."""
    exe = Path(sys.executable).with_name("localstripe")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="localstripe-")
    proc = subprocess.Popen(
        [str(exe), "--port", str(port), "--from-scratch"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(f"{base}/v1/customers", auth=("sk_test_local", ""), timeout=1)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("localstripe did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
