"""A real Celery worker (and beat) behind `live_server`, for browser tests that need the
background work done as in production: photo processing, pushes to the MLS, publishing.

    from .worker import celery_worker_fixture  # noqa: F401  (provides `celery_worker`)

    @pytest.mark.browser
    def test_something(browser_page, live_server, celery_worker):
        ...

The worker runs as a subprocess on the live server's own database (the SQLite file the
browser conftest names, or the PostgreSQL test database) and the test's MEDIA_ROOT, and it
talks to the sandbox mounted in the live server (SPARK_API_URL = live_server.url/sandbox).
The broker is a redis-server of our own on a free port (no persistence), or, where Redis is
not installed, the embedded SQLite broker in the test's directory. This process (the live server's
requests and the doorbell thread) publishes to the same broker: the project's Celery app is
pointed at it for the test and put back afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from listings_portal.celery import app as celery_app
from mls import enqueue
from tests.mls.worker_harness import PYTHON, ROOT, free_port, redis_server_command, wait_port
from tests.sandbox_support import SANDBOX_CONTROL_TOKEN, SANDBOX_TOKEN

CELERY = [PYTHON, "-m", "celery", "-A", "listings_portal"]
# Fast enough for a test, otherwise production's values (settings.py says what they mean).
WORKER_SETTINGS = {
    "SPARK_RATE_LIMIT_PER_SECOND": "50",
    "SPARK_CONNECT_TIMEOUT": "3",
    "SPARK_READ_TIMEOUT": "10",
    "SYNC_BACKOFF_BASE_SECONDS": "0.2",
    "SYNC_BACKOFF_CAP_SECONDS": "2",
    "SYNC_ORDER_SETTLE_SECONDS": "0.3",
    "SYNC_ORDER_MIN_INTERVAL_SECONDS": "1",
    "SYNC_SWEEP_SECONDS": "2",
    "SYNC_REQUEUE_AFTER_SECONDS": "4",
    "SYNC_DRIFT_INTERVAL_SECONDS": "3600",
}


def database_url() -> str:
    """The URL of the database this test process uses (the test database by now)."""
    from django.db import connection

    config = connection.settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        name = str(config["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("a worker process needs a database file, not in-memory SQLite")
        return f"sqlite:///{name}"
    if "postgresql" in config["ENGINE"]:
        credentials = quote(config.get("USER") or "", safe="")
        if config.get("PASSWORD"):
            credentials += ":" + quote(config["PASSWORD"], safe="")
        host = config.get("HOST") or "127.0.0.1"
        port = f":{config['PORT']}" if config.get("PORT") else ""
        return f"postgres://{credentials}{'@' if credentials else ''}{host}{port}/{config['NAME']}"
    raise RuntimeError(f"no worker URL for database engine {config['ENGINE']}")


@dataclass
class CeleryWorker:
    """The broker, worker and beat processes of one test."""

    workdir: Path
    server_url: str
    media_root: Path
    broker_url: str = ""
    transport_options: dict[str, Any] = field(default_factory=dict)
    # More environment for the worker and beat (e.g. MEDIA_S3_* to share a bucket, not a disk).
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    # --- broker ------------------------------------------------------------------------------
    def start_broker(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            self.broker_url = f"portal-sqlite+sqlite:///{self.workdir / 'broker.sqlite3'}"
            self.transport_options = {"visibility_timeout": 900, "polling_interval": 0.05}
            return
        port = free_port()
        data = self.workdir / "redis"
        data.mkdir(exist_ok=True)
        self._spawn("redis", redis_server_command(binary, port, data))
        wait_port(port)
        self.broker_url = f"redis://127.0.0.1:{port}/0"
        self.transport_options = {"visibility_timeout": 900, "socket_timeout": 2, "socket_connect_timeout": 2}

    @property
    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CELERY_", "SYNC_", "SPARK_", "DATABASE_"))
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "listings_portal.settings",
                "DATABASE_URL": database_url(),
                "DATABASE_CONN_MAX_AGE": "0",
                "CELERY_BROKER_URL": self.broker_url,
                # The shared rate limit and OAuth token store: Redis db 1 next to the broker,
                # else a file bucket under PORTAL_VAR_DIR.
                "SYNC_REDIS_URL": self.broker_url[:-1] + "1" if self.broker_url.startswith("redis") else "",
                "CACHE_URL": "",
                "SPARK_API_URL": f"{self.server_url}/sandbox",
                "SPARK_ACCESS_TOKEN": SANDBOX_TOKEN,
                "PORTAL_VAR_DIR": str(self.workdir / "var"),
                "MEDIA_ROOT": str(self.media_root),
                "PORTAL_FAST_PASSWORD_HASHER": "1",
                "LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
                **WORKER_SETTINGS,
                **self.extra_env,
            }
        )
        return env

    # --- processes ---------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as log:
            popen = subprocess.Popen(
                args,
                cwd=ROOT,
                env=self.env if name != "redis" else None,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[name] = popen
        return popen

    def start_worker(self) -> None:
        # INFO: the log says when the worker is ready (wait_ready) and what it ran.
        self._spawn(
            "worker",
            [
                *CELERY,
                "worker",
                "-n",
                f"story-{uuid.uuid4().hex[:6]}@%h",
                "--concurrency=2",
                "--pool=prefork",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
            ],
        )

    def start_beat(self) -> None:
        """The periodic sweeps re-queue what a lost message would leave behind, as in production."""
        self._spawn(
            "beat",
            [*CELERY, "beat", "--loglevel=WARNING", "-s", str(self.workdir / "celerybeat-schedule")],
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the worker consumes; raises with its log if it died or never got there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if " ready." in self.log_tail("worker", 200):
                return
            time.sleep(0.1)
        log = self.log_tail("worker")
        raise TimeoutError(f"the Celery worker was not ready within {timeout:.0f} s:\n{log}")

    def check_alive(self) -> None:
        for name, popen in self.procs.items():
            if popen.poll() is not None:
                raise RuntimeError(f"{name} exited with {popen.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 60) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        # The worker and beat first (a warm shutdown, then SIGKILL), the broker last.
        for name in sorted(self.procs, key=lambda name: name == "redis"):
            popen = self.procs.pop(name)
            if popen.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGTERM)
            try:
                popen.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(5)


def _reset_connections() -> None:
    # Celery keeps its connection and producer pools: drop them so the new URL is used.
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture(name="celery_worker")
def celery_worker_fixture(live_server, settings, tmp_path) -> Iterator[CeleryWorker]:
    """A worker and beat on the live server's database, media and sandbox (see the module)."""
    with running_worker(live_server, settings, tmp_path) as worker:
        yield worker


@contextlib.contextmanager
def running_worker(
    live_server,
    settings,
    tmp_path: Path,
    *,
    media_root: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[CeleryWorker]:
    """The `celery_worker` fixture's worker and beat; `media_root` (else the test's own) and
    `extra_env` for a worker that shares less with the live server than the database."""
    settings.SPARK_API_URL = f"{live_server.url}/sandbox"
    settings.SPARK_ACCESS_TOKEN = SANDBOX_TOKEN
    settings.SPARK_SANDBOX_CONTROL_ENABLED = True
    settings.SPARK_SANDBOX_CONTROL_TOKEN = SANDBOX_CONTROL_TOKEN
    settings.SPARK_SANDBOX_FAULTS = ""
    settings.SPARK_SANDBOX_OPTIONS = ""
    settings.SYNC_ENQUEUE_ENABLED = True
    settings.SYNC_REDIS_URL = ""
    settings.VAR_DIR = tmp_path / "var"  # the file rate limit of this process's own calls
    settings.VAR_DIR.mkdir()
    worker = CeleryWorker(
        tmp_path / "celery",
        live_server.url,
        media_root if media_root is not None else Path(settings.MEDIA_ROOT),
        extra_env=dict(extra_env or {}),
    )
    worker.workdir.mkdir(parents=True, exist_ok=True)
    conf = celery_app.conf
    saved = {
        name: getattr(conf, name)
        for name in (
            "broker_url",
            "broker_read_url",
            "broker_write_url",
            "broker_transport_options",
            "task_always_eager",
        )
    }
    try:
        worker.start_broker()
        # Celery copies broker_url into the read/write URLs when a real broker is configured.
        conf.broker_url = conf.broker_read_url = conf.broker_write_url = worker.broker_url
        conf.broker_transport_options = worker.transport_options
        conf.task_always_eager = False
        _reset_connections()
        worker.start_worker()
        worker.start_beat()
        yield worker
    finally:
        try:
            # What the doorbell still holds goes to this test's broker, not the next test's.
            enqueue.doorbell.flush(5)
            worker.stop()
        finally:
            for name, value in saved.items():
                setattr(conf, name, value)
            _reset_connections()
            print(f"\n--- worker log (tail) ---\n{worker.log_tail('worker', 80)}")
