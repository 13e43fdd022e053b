"""Object-store media (MinIO / S3): signed URLs name the address browsers reach, while the app keeps
talking to the in-network endpoint. Signing is local to boto3, so no store has to run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from marketplace.core.storage import S3MediaStorage

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = {
    "bucket_name": "marketplace-media",
    "endpoint_url": "http://minio:9000",
    "access_key": "minio-user",
    "secret_key": "minio-secret-key",
    "region_name": "us-east-1",
    "querystring_auth": True,
    "querystring_expire": 600,
    "addressing_style": "path",
    "signature_version": "s3v4",
}


def test_signed_url_names_the_public_endpoint():
    storage = S3MediaStorage(**OPTIONS, public_endpoint_url="https://media.example.cn")
    url = urlsplit(storage.url("products/玉米 种子.png"))
    assert (url.scheme, url.netloc) == ("https", "media.example.cn")
    assert url.path == "/marketplace-media/products/%E7%8E%89%E7%B1%B3%20%E7%A7%8D%E5%AD%90.png"
    query = parse_qs(url.query)
    assert query["X-Amz-Expires"] == ["600"] and query["X-Amz-Signature"][0]
    # The app's own client still talks to the in-network endpoint.
    assert storage.connection.meta.client.meta.endpoint_url == "http://minio:9000"


def test_without_a_public_endpoint_the_url_is_the_configured_one():
    url = urlsplit(S3MediaStorage(**OPTIONS).url("products/a.png", expire=60))
    assert url.netloc == "minio:9000" and parse_qs(url.query)["X-Amz-Expires"] == ["60"]


def test_settings_choose_the_public_endpoint_storage():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "MEDIA_STORAGE_BACKEND": "storages.backends.s3.S3Storage",
        "MEDIA_S3_ENDPOINT_URL": "http://minio:9000",
        "MEDIA_S3_PUBLIC_ENDPOINT_URL": "https://media.example.cn",
        "MEDIA_S3_ACCESS_KEY_ID": "minio-user",
        "MEDIA_S3_SECRET_ACCESS_KEY": "minio-secret-key",
    }
    code = (
        "import django; django.setup();"
        "from django.core.files.storage import storages; s = storages['default'];"
        "print(type(s).__name__, s.url('a.png').split('?')[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["S3MediaStorage", "https://media.example.cn/marketplace-media/a.png"]
