"""Smoke test of the embedded default, as a new user would run it.

Starts `manage.py serve_embedded` (what bin/demo runs) with no DATABASE_URL and no broker, in a
fresh var/ folder, then signs in as a station's information officer and clicks through.
Checks that it serves through gunicorn (not the development server) with hashed, compressed,
cached static files, and that /readyz answers. Prints 'N passed, N failed' and exits non-zero on
any failure.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "nongzi-demo-2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def post(
        self, path: str, data: dict, headers: dict | None = None, raw: bytes | None = None
    ) -> tuple[int, str]:
        body = raw if raw is not None else urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {}, method="POST")
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")


def main() -> int:
    var = tempfile.mkdtemp(prefix="marketplace-smoke-")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "ELASTICSEARCH_URL"}
    }
    env["MARKETPLACE_VAR_DIR"] = var
    env["PYTHONUNBUFFERED"] = "1"  # the server log is readable if the smoke test fails
    port = free_port()
    log = open(Path(var) / "server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve_embedded", "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    passed, failed = 0, []

    def check(name: str, ok: bool, detail: str = "") -> None:
        nonlocal passed
        if ok:
            passed += 1
            print(f"PASS {name}")
        else:
            failed.append(name)
            print(f"FAIL {name} {detail[:300]}")

    try:
        b = Browser(base)
        deadline = time.time() + 600
        status = 0
        while time.time() < deadline and server.poll() is None:
            try:
                status, _ = b.get("/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(1)
        check("server starts on SQLite with demo data", status == 200)
        if status != 200:
            return 1
        check("database is SQLite in the var folder", (Path(var) / "marketplace.sqlite3").exists())
        status, html = b.get("/")
        check("landing page", status == 200 and "登录" in html)
        with urllib.request.urlopen(base + "/") as r:
            server_header = r.headers.get("Server", "")
        check("served by gunicorn, not the development server", "gunicorn" in server_header, server_header)
        status, body = b.get("/readyz")
        check("readiness: database, cache ready; broker disabled", status == 200 and '"ready"' in body, body)
        css = re.search(r'href="(/static/storefront/app\.[0-9a-f]{12}\.css)"', html)
        check("static file URL has a content hash", bool(css), html[:1500])
        if css:
            req = urllib.request.Request(base + css.group(1), headers={"Accept-Encoding": "br, gzip"})
            with urllib.request.urlopen(req) as r:
                headers = r.headers
            check(
                "static file compressed and cached for a year",
                headers.get("Content-Encoding") in {"br", "gzip"}
                and "immutable" in headers.get("Cache-Control", "")
                and "max-age=315360000" in headers.get("Cache-Control", ""),
                str(dict(headers)),
            )
        status, html = b.get("/login/")
        token = b.cookie("csrftoken")
        status, html = b.post(
            "/login/",
            {"username": "station01", "password": PASSWORD, "csrfmiddlewaretoken": token, "next": "/"},
        )
        check("station staff signs in", status == 200 and "station-count" in html, html)
        status, html = b.get("/households/")
        masked = re.findall(r"1\d\d\*\*\*\*\d{4}", html)
        check("households list shows masked phones", status == 200 and len(masked) > 0, html)
        status, html = b.get("/shop/catalogue/")
        check("Oscar catalogue page", status == 200)
        status, html = b.get("/catalogue/?q=%E5%A4%8D%E5%90%88%E8%82%A5")
        check("search 复合肥 finds products", status == 200 and "复合肥" in html, html[-500:])
        for path in ("/p/group-buy/", "/p/fertilizer/", "/p/routing/deliveries/"):
            status, html = b.get(path)
            check(f"plugin page {path}", status == 200, html[-500:])
        api = Browser(base)  # a fresh client: no session cookie, so no CSRF; the token authenticates
        status, body = api.post(
            "/graphql/",
            {},
            {"Content-Type": "application/json"},
            json.dumps(
                {
                    "query": f'mutation{{tokenCreate(username:"station02",password:"{PASSWORD}"){{token errors{{code}}}}}}'
                }
            ).encode(),
        )
        tok = json.loads(body)["data"]["tokenCreate"]["token"] if status == 200 else None
        check("GraphQL token", bool(tok), body)
        status, body = api.post(
            "/graphql/",
            {},
            {"Content-Type": "application/json", "Authorization": f"Bearer {tok}"},
            json.dumps({"query": "{ me { username } households(first: 5) { totalCount } }"}).encode(),
        )
        data = json.loads(body).get("data") or {}
        check(
            "GraphQL households for station02",
            status == 200
            and data.get("me", {}).get("username") == "station02"
            and 0 < data["households"]["totalCount"] < 500,
            body,
        )
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if failed:
            print((Path(var) / "server.log").read_text()[-3000:])
    print(f"smoke: {passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
