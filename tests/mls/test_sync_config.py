"""The Celery and sync settings that keep tasks, and no long broker countdown anywhere.

docs/reliability.md#j15-configuration-guards
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from mls import enqueue, leased

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 60  # seconds: longer waits belong in next_attempt_at, not in the broker
SKIP_DIRS = {".venv", "var", "node_modules", ".git", "static", "__pycache__"}


def settings_with(env: dict[str, str]) -> dict:
    """The settings module evaluated in a fresh process with `env` (e.g. a Redis broker)."""
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in dir(s) if k.startswith(('CELERY_', 'SYNC_', 'SPARK_'))},"
        " default=str))"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "listings_portal.settings", **env}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_celery_keeps_tasks():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_TASK_TIME_LIMIT == 300
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_SERIALIZER == "json" and settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_TASK_PUBLISH_RETRY is False
    assert settings.CELERY_BROKER_CONNECTION_TIMEOUT <= 2
    assert settings.CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS is True


def test_the_redis_broker_outlives_the_time_limit_and_times_out_fast():
    values = settings_with({"CELERY_BROKER_URL": "redis://127.0.0.1:6399/0"})
    options = values["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert options["visibility_timeout"] > values["CELERY_TASK_TIME_LIMIT"]
    assert options["visibility_timeout"] == 900
    assert options["socket_timeout"] <= 2 and options["socket_connect_timeout"] <= 2
    # The shared rate limit and token store follow the broker's Redis unless told otherwise.
    assert values["SYNC_REDIS_URL"] == "redis://127.0.0.1:6399/0"


def test_beat_runs_the_sweep_and_the_drift_check():
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["spark.sweep"] <= 10
    assert 60 <= schedule["spark.check_drift"] <= 900


def test_sync_timing_fits_the_task_limits():
    assert settings.SYNC_PUSH_BUDGET_SECONDS < settings.CELERY_TASK_SOFT_TIME_LIMIT
    # A live worker never loses its claim during one request (plus a rate-limit wait).
    assert leased.lease_seconds() > settings.SPARK_CONNECT_TIMEOUT + settings.SPARK_READ_TIMEOUT
    assert settings.SYNC_AMBIGUOUS_SETTLE_SECONDS > settings.SPARK_READ_TIMEOUT
    assert settings.SYNC_BACKOFF_BASE_SECONDS == 2 and settings.SYNC_BACKOFF_CAP_SECONDS == 600
    assert settings.SYNC_MAX_ATTEMPTS == 10
    assert enqueue.MAX_BROKER_COUNTDOWN <= LIMIT


# --- No long broker countdown anywhere (AST) ---------------------------------------------------


def _bounded(node: ast.expr) -> bool:
    """A countdown that provably stays <= LIMIT: a small constant, or min(..., small)."""
    if isinstance(node, ast.Constant):
        return node.value is None or (isinstance(node.value, int | float) and node.value <= LIMIT)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "min":
        return any(
            _bounded(arg) or (isinstance(arg, ast.Name) and arg.id == "MAX_BROKER_COUNTDOWN")
            for arg in node.args
        )
    return False


def long_countdowns(source: str, filename: str = "<string>") -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        for keyword in node.keywords:
            if keyword.arg in ("countdown", "eta") and name in (
                "apply_async",
                "retry",
                "send_task",
                "signature",
                "s",
            ):
                if keyword.arg == "eta" and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value is None
                ):
                    problems.append(f"{filename}:{node.lineno} {name}(eta=...)")
                elif keyword.arg == "countdown" and not _bounded(keyword.value):
                    problems.append(
                        f"{filename}:{node.lineno} {name}(countdown={ast.unparse(keyword.value)})"
                    )
            if keyword.arg == "default_retry_delay" and not _bounded(keyword.value):
                problems.append(f"{filename}:{node.lineno} default_retry_delay={ast.unparse(keyword.value)}")
    return problems


def project_sources():
    for path in ROOT.rglob("*.py"):
        if not SKIP_DIRS.intersection(path.relative_to(ROOT).parts):
            yield path


def test_no_broker_countdown_or_eta_over_sixty_seconds_anywhere():
    problems = []
    scanned = 0
    for path in project_sources():
        scanned += 1
        problems += long_countdowns(path.read_text(), str(path.relative_to(ROOT)))
    assert scanned > 30
    assert problems == []


def test_the_scan_sees_a_long_countdown():
    assert long_countdowns("task.apply_async(args=[1], countdown=120)")
    assert long_countdowns("task.apply_async(args=[1], countdown=delay)")
    assert long_countdowns("self.retry(countdown=2 ** attempt)")
    assert long_countdowns("task.apply_async(eta=when)")
    assert long_countdowns("@shared_task(default_retry_delay=300)\ndef f(): pass")
    assert not long_countdowns("task.apply_async(args=[1], countdown=30)")
    assert not long_countdowns("task.apply_async(countdown=min(delay, MAX_BROKER_COUNTDOWN))")
