"""The portal under gunicorn for the benchmarks that measure it as deployed (bench/web, bench/uploads)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 60


def deployed_env(var_dir: Path) -> dict[str, str]:
    """The environment of a portal process as deployed (DEBUG off, production settings) whose
    files live under `var_dir`: the same for every bench, each adding its database and broker."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "listings_portal.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-only-secret-" + "k" * 40,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_SECURE_COOKIES": "0",
            "PORTAL_VAR_DIR": str(var_dir),
            "STATIC_ROOT": str(var_dir / "static"),
            "FILE_UPLOAD_TEMP_DIR": str(var_dir),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    env: dict[str, str], port: int, *, workers: int = 1, extra: tuple[str, ...] = ()
) -> subprocess.Popen:
    """gunicorn serving the portal on `port`, answering its sign-in page, in a session of its own."""
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    command = [gunicorn, "listings_portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers), *extra]
    server = subprocess.Popen(
        [*command, "--log-level", "warning"], env=env, cwd=ROOT, start_new_session=True
    )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=10)
            return server
        except requests.RequestException:
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError("gunicorn did not start")


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=15)
