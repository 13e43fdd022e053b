"""deploy/: compose file against the compose-spec schema, Kubernetes manifests against the
Kubernetes schemas (both vendored inside PyPI packages: no network), plus what the runbook relies
on (health checks, probes, limits, autoscaling, one beat, migrations as a Job, secrets from env)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
BIN = Path(sys.executable).parent
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _resources() -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for p in MANIFESTS for d in _docs(p)}


def test_compose_file_matches_the_compose_spec_schema():
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", DEPLOY / "compose.yaml"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_can_fail(tmp_path):
    bad = tmp_path / "compose.yaml"
    bad.write_text(
        "services:\n  web:\n    image: x\n    healthcheck:\n      interval: 10\n      tset: [CMD]\n"
    )
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", bad], capture_output=True
    )
    assert result.returncode != 0


def test_compose_services_and_health_checks():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "nginx", "minio", "migrate"} <= set(services)
    for name, service in services.items():
        one_shot = service.get("restart") == "no"
        if not one_shot:
            assert "test" in service.get("healthcheck", {}), f"{name} has no health check"
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["beat"]["deploy"]["replicas"] == 1
    assert services["web"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    # Secrets are interpolated from the environment, never written in the file.
    text = (DEPLOY / "compose.yaml").read_text()
    assert "${POSTGRES_PASSWORD:?" in text and "${MINIO_ROOT_PASSWORD:?" in text
    assert not re.search(r"(PASSWORD|SECRET_KEY|SECRET_ACCESS_KEY):\s+[A-Za-z0-9]{6,}\s*$", text, re.M)
    # The files compose mounts into nginx exist.
    for volume in services["nginx"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./") and "TLS" not in volume:
            assert (DEPLOY / source).exists(), source


def test_kubernetes_manifests_match_the_kubernetes_schemas():
    result = subprocess.run(
        [BIN / "kubernetes-validate", "--strict", *MANIFESTS], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == len(_resources())


def test_kubernetes_schema_check_can_fail(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"
        "spec: {replicas: two, selector: {matchLabels: {a: b}}, template: {spec: {containers: []}}}\n"
    )
    result = subprocess.run([BIN / "kubernetes-validate", "--strict", bad], capture_output=True)
    assert result.returncode != 0


def test_kubernetes_workloads_are_production_ready():
    res = _resources()
    for name in ("marketplace-web", "marketplace-worker", "marketplace-beat"):
        container = res[("Deployment", name)]["spec"]["template"]["spec"]["containers"][0]
        assert container["resources"]["requests"] and container["resources"]["limits"], name
        assert {"configMapRef": {"name": "marketplace-config"}} in container["envFrom"]
        assert {"secretRef": {"name": "marketplace-secrets"}} in container["envFrom"]
        assert "livenessProbe" in container, name
    web = res[("Deployment", "marketplace-web")]["spec"]
    probes = web["template"]["spec"]["containers"][0]
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert (
        "readinessProbe"
        in res[("Deployment", "marketplace-worker")]["spec"]["template"]["spec"]["containers"][0]
    )
    for name in ("marketplace-web", "marketplace-worker"):
        hpa = res[("HorizontalPodAutoscaler", name)]["spec"]
        assert hpa["scaleTargetRef"]["name"] == name
        assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    beat = res[("Deployment", "marketplace-beat")]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"
    assert ("HorizontalPodAutoscaler", "marketplace-beat") not in res
    job = res[("Job", "marketplace-migrate")]["spec"]["template"]["spec"]["containers"][0]
    assert job["command"][-2:] == ["migrate", "--noinput"]
    for external in ("postgres", "redis"):
        assert res[("Service", external)]["spec"]["type"] == "ExternalName"
    config = res[("ConfigMap", "marketplace-config")]["data"]
    assert not [k for k in config if re.search("SECRET|PASSWORD|DATABASE_URL|DSN", k) and "BACKEND" not in k]


def test_kustomization_lists_every_manifest_and_generates_the_secret():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in MANIFESTS)
    assert kustomization["secretGenerator"][0]["name"] == "marketplace-secrets"
    example = {line.split("=")[0] for line in (K8S / "secrets.env.example").read_text().splitlines() if line}
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL"} <= example
    assert (ROOT / ".gitignore").read_text().count("deploy/k8s/secrets.env") == 1


def test_dockerfile_installs_from_the_lock_file():
    text = (DEPLOY / "Dockerfile").read_text()
    assert "COPY pyproject.toml uv.lock ./" in text
    assert re.search(r"uv sync --frozen --no-default-groups", text)
    assert "USER app" in text
    for source in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", text, re.M):
        for item in source.split():
            assert (ROOT / item).exists(), item
    cmd = re.search(r'^CMD \["gunicorn", "-c", "([^"]+)"\]', text, re.M)
    assert cmd and (ROOT / cmd.group(1)).exists()


def test_nginx_limits_match_the_app():
    conf = (DEPLOY / "nginx.conf").read_text() + (DEPLOY / "nginx-proxy.conf").read_text()
    namespace: dict = {}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)  # noqa: S102
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s", conf).group(1))
    assert read_timeout > namespace["timeout"], "nginx must outwait gunicorn's own timeout"
    assert "gzip on;" in conf and 'X-Content-Type-Options "nosniff"' in conf
    assert "client_max_body_size 25m;" in conf
    # Only product images and thumbnails are read from disk; other media goes to the app.
    assert re.search(r"location ~ \^/media/\(images\|cache\)/", conf)
    media = re.search(r"location /media/ \{(.*?)\}", conf, re.S).group(1)
    assert "proxy_pass http://marketplace_web" in media and "alias" not in media


def test_nginx_accepts_the_config(tmp_path):
    """`nginx -t` on deploy/nginx.conf as installed (its includes and a throw-away certificate)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx must be installed (bin/test installs Debian's nginx)"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=test",
            "-keyout",
            tmp_path / "privkey.pem",
            "-out",
            tmp_path / "fullchain.pem",
        ],
        check=True,
        capture_output=True,
    )
    site = (DEPLOY / "nginx.conf").read_text()
    site = site.replace("/etc/nginx/marketplace_proxy.conf", str(DEPLOY / "nginx-proxy.conf"))
    site = site.replace("/etc/ssl/marketplace/", f"{tmp_path}/")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  include /etc/nginx/mime.types;\n  access_log off;\n"
        f"  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
        f"  include {DEPLOY / 'nginx-upstream.conf'};\n  include {tmp_path / 'site.conf'};\n}}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
