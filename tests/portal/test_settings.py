"""The settings module: production values pass Django's deploy checks; Celery keeps tasks."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import global_settings, settings

from listings_portal import settings as portal_settings

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SPARK_"))}
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
        SPARK_ACCESS_TOKEN="a-personal-access-token",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


PRODUCTION = {"DJANGO_DEBUG": "0", "DJANGO_ALLOWED_HOSTS": "portal.example.com"}
COMMITTED_DEVELOPMENT_KEY = "dev-only-insecure-key-change-me-" + "x" * 32


@pytest.mark.parametrize("key", [None, "", COMMITTED_DEVELOPMENT_KEY], ids=["unset", "empty", "committed"])
def test_production_refuses_to_start_without_a_secret_key_of_its_own(key):
    result = run_manage(
        "check", "--deploy", **PRODUCTION, **({} if key is None else {"DJANGO_SECRET_KEY": key})
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in result.stderr, result.stderr[-2000:]
    assert "secrets.token_urlsafe(50)" in result.stderr


def test_development_still_starts_with_the_committed_key():
    result = run_manage("check", DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr[-2000:]


def production_settings(code: str, **env: str) -> list[str]:
    """What a production process (DJANGO_DEBUG=0, a real key) prints after django.setup()."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SPARK_"))}
    environment.update(
        {
            **PRODUCTION,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_SETTINGS_MODULE": "listings_portal.settings",
            **env,
        }
    )
    script = "import django; django.setup(); from django.conf import settings as s\n" + code
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


SANDBOX_MOUNTED = (
    "from django.urls import resolve, Resolver404\n"
    "try:\n    resolve('/sandbox/v1/listings'); print('mounted')\n"
    "except Resolver404:\n    print('absent')\n"
    "print(s.SPARK_SANDBOX_ENABLED, repr(s.SPARK_ACCESS_TOKEN))"
)


def test_production_does_not_mount_the_sandbox_or_use_its_token_by_default():
    assert production_settings(SANDBOX_MOUNTED) == ["absent", "False", "''"]


def test_production_mounts_the_sandbox_only_when_asked():
    mounted = production_settings(SANDBOX_MOUNTED, SPARK_SANDBOX_ENABLED="1")
    assert mounted == ["mounted", "True", "'sandbox-access-token'"]


def test_check_deploy_warns_when_no_spark_credentials_are_set():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
    )
    assert result.returncode != 0
    assert "mls.W001" in result.stderr and "SPARK_ACCESS_TOKEN" in result.stderr, result.stderr[-2000:]


def test_every_setting_the_code_reads_is_in_the_settings_module():
    """Settings are read directly (`settings.NAME`), their defaults only in the settings module:
    a name missing there would raise, or, read through a fallback, quietly ignore its
    environment variable (a worker started with PROMOTION_MAX_ATTEMPTS=30 once still gave up
    after 8). So every name the code reads is defined there (or is one of Django's own), and
    the sync and publishing code keeps no fallback of its own."""
    sources = {
        path: path.read_text()
        for app in ("accounts", "drafts", "media_manager", "mls", "spark", "listings_portal")
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    }
    pattern = r"\bsettings\.([A-Z][A-Z0-9_]*)\b"
    read = {name for text in sources.values() for name in re.findall(pattern, text)}
    assert {"SYNC_MAX_ATTEMPTS", "PROMOTION_MAX_ATTEMPTS", "SPARK_API_URL"} <= read  # the scan finds them
    defined = set(dir(portal_settings)) | set(dir(global_settings))
    assert sorted(read - defined) == []
    fallbacks = [
        str(path.relative_to(ROOT))
        for path, text in sources.items()
        if path.parts[len(ROOT.parts)] in ("mls", "spark")
        and re.search(r"\bsetting\(\s*\"|getattr\(settings,", text)
        and "sandbox" not in path.parts
    ]
    assert fallbacks == []


def test_production_cookies_are_hardened():
    code = (
        "import django, os; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0)"
    )
    environment = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SETTINGS_MODULE": "listings_portal.settings",
    }
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
