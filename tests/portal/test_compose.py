"""docker-compose.yml: nothing of the sandbox is exposed unless asked, and no committed secret key.

Read as text (PyYAML is not a dependency); `.ci/run` validates the file with `docker-compose config`.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def service(file: str, name: str) -> str:
    """The lines of one service (indented under ``services:``) of a compose file."""
    lines = (ROOT / file).read_text().splitlines()
    start = lines.index(f"  {name}:")
    block = []
    for line in lines[start + 1 :]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line.strip())
    return "\n".join(block)


def test_the_sandbox_port_is_published_only_by_the_override_file():
    assert "ports:" not in service("docker-compose.yml", "sandbox")
    assert '- "8001:8001"' in service("docker-compose.sandbox-port.yml", "sandbox")


def test_the_sandbox_control_interface_is_off_unless_asked():
    sandbox = service("docker-compose.yml", "sandbox")
    assert "SPARK_SANDBOX_CONTROL_ENABLED: ${SPARK_SANDBOX_CONTROL_ENABLED:-0}" in sandbox
    assert "SPARK_SANDBOX_CONTROL_TOKEN: ${SPARK_SANDBOX_CONTROL_TOKEN:-}" in sandbox


def test_compose_has_no_committed_secret_key():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "DJANGO_SECRET_KEY: ${DJANGO_SECRET_KEY:-}" in text
    assert "change-me" not in text


def test_the_web_health_check_needs_only_liveness():
    web = service("docker-compose.yml", "web")
    assert "urlopen('http://127.0.0.1:8000/health/')" in web


def test_the_s3_profile_runs_minio_on_the_compose_network_only():
    for name in ("minio", "minio-bucket"):
        block = service("docker-compose.yml", name)
        assert 'profiles: ["s3"]' in block, name
        assert "ports:" not in block, name
    assert "MINIO_ROOT_PASSWORD: ${MEDIA_S3_SECRET_ACCESS_KEY:-}" in service("docker-compose.yml", "minio")
    bucket_job = service("docker-compose.yml", "minio-bucket")
    assert 'mc mb --ignore-existing "media/$$MEDIA_S3_BUCKET"' in bucket_job


def test_web_worker_and_beat_read_the_bucket_from_the_environment():
    """One environment for every portal service: with MEDIA_S3_BUCKET set they share the bucket."""
    text = (ROOT / "docker-compose.yml").read_text()
    env = text[text.index("x-portal-env:") : text.index("x-portal:")]
    assert "MEDIA_S3_BUCKET: ${MEDIA_S3_BUCKET:-}" in env
    assert "MEDIA_S3_ENDPOINT_URL: ${MEDIA_S3_ENDPOINT_URL-http://minio:9000}" in env
    assert "MEDIA_S3_SECRET_ACCESS_KEY: ${MEDIA_S3_SECRET_ACCESS_KEY:-}" in env
    for name in ("web", "worker", "beat"):
        assert "<<: *portal" in service("docker-compose.yml", name)
