"""The settings module: production values pass Django's deploy checks; Celery keeps tasks."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_values():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="portal.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_every_setting_the_code_reads_with_a_default_is_in_the_settings_module():
    """`setting("NAME", default)` falls back quietly: a name missing from the settings module
    would ignore its environment variable (a worker started with PROMOTION_MAX_ATTEMPTS=30
    once still gave up after 8)."""
    read = {
        name
        for app in ("accounts", "drafts", "media_manager", "spark", "listings_portal")
        for path in (ROOT / app).rglob("*.py")
        for name in re.findall(r"\bsetting\(\s*\"([A-Z][A-Z0-9_]*)\"", path.read_text())
    }
    assert "SYNC_MAX_ATTEMPTS" in read  # the scan finds them
    assert sorted(name for name in read if not hasattr(settings, name)) == []


def test_production_cookies_are_hardened():
    code = (
        "import django, os; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0)"
    )
    environment = {**os.environ, "DJANGO_DEBUG": "0", "DJANGO_SETTINGS_MODULE": "listings_portal.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["True"] * 5, result.stderr


def test_celery_settings_keep_tasks():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    # Redis and the embedded broker alike hand out again what a dead worker took, never a running task.
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > settings.CELERY_TASK_TIME_LIMIT


def test_csp_has_no_unsafe_sources():
    for directive, sources in settings.SECURE_CSP.items():
        assert not any("unsafe" in str(source) for source in sources), directive


@pytest.mark.django_db
def test_pages_carry_a_nonce_csp_and_no_inline_script(client, agent):
    client.force_login(agent)
    response = client.get("/drafts/")
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "'nonce-" in policy and "unsafe" not in policy
    body = response.content.decode()
    assert "<script>" not in body
    assert "hx-on" not in body


@pytest.mark.django_db
def test_health_reports_database_and_broker(client):
    response = client.get("/health/?remote=0")
    assert response.status_code == 200
    data = response.json()
    assert data["healthy"] is True
    assert data["checks"]["database"]["ok"] and data["checks"]["broker"]["ok"]
