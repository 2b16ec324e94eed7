"""The web as deployed (gunicorn with listings_portal/gunicorn_conf.py) goes on answering while
uploads arrive slowly: a body still coming over an agent's uplink holds a thread, not a process.

A real gunicorn on a free port; the slow uploads are real sockets that send a multipart POST's
headers and the start of its body, then nothing more while the test asks for a page."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def web(tmp_path):
    """gunicorn as the Dockerfile runs it (its settings from the conf), with two processes."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "listings_portal.settings",
        "DJANGO_DEBUG": "1",  # static files without collectstatic's manifest
        "DJANGO_SECRET_KEY": "test-only-" + "k" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "PORTAL_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "WEB_WORKERS": str(WORKERS),
        "WEB_BIND": f"127.0.0.1:{port}",
    }
    env.pop("WEB_WORKER_CLASS", None)
    env.pop("WEB_THREADS", None)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    server = subprocess.Popen(
        [
            gunicorn,
            "-c",
            "python:listings_portal.gunicorn_conf",
            "listings_portal.wsgi",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/accounts/login/", timeout=10)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield base, port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def start_slow_upload(port: int) -> socket.socket:
    """An upload whose body is still on its way: headers and the first bytes sent, then nothing
    (the request reads the body as it comes, so it waits for the rest)."""
    boundary = "slowupload"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="IMG_4101.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        (
            "POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            # A CSRF cookie without the header: the CSRF check reads the form's token from the body.
            f"Cookie: csrftoken={'c' * 32}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {4 * 1024 * 1024}\r\n\r\n"
        ).encode()
        + head
        + b"\xff\xd8" * 512
    )
    return sock


def test_pages_are_answered_while_more_uploads_arrive_than_there_are_processes(web):
    base, port = web
    uploads = [start_slow_upload(port) for _ in range(WORKERS * 2)]
    try:
        time.sleep(0.5)  # every upload taken up by the server and waiting for its body
        began = time.monotonic()
        answer = requests.get(base + "/accounts/login/", timeout=10)
        assert answer.status_code == 200
        assert time.monotonic() - began < 3
    finally:
        for sock in uploads:
            sock.close()


def test_every_answer_closes_its_connection(web):
    """No keep-alive: the server never closes an idle connection under a client's next request."""
    base, _port = web
    answer = requests.get(base + "/accounts/login/", timeout=10)
    assert answer.headers["Connection"].lower() == "close"
