"""bin/run-portal (what `make run` starts): Ctrl-C and SIGTERM stop every process within 10 s,
a worker that dies is started again, and the web server dying stops everything with a message."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.mls.worker_harness import PYTHON, ROOT, free_port, wait_port

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def descendants(pid: int) -> dict[int, str]:
    """Every live process below `pid`, with its command line."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = {}, [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            with contextlib.suppress(OSError):
                command = (Path("/proc") / str(child) / "cmdline").read_bytes()
                found[child] = command.replace(b"\0", b" ").decode(errors="replace")
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Portal:
    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.output = tmp_path / "run-portal.log"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CELERY_", "DATABASE_", "SYNC_", "CACHE_", "SPARK_"))
        }
        self.env.update(
            PORTAL_VAR_DIR=str(tmp_path / "var"), PY=PYTHON, PORT=str(self.port), PYTHONUNBUFFERED="1"
        )
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.output, "wb") as log:
            # A session of its own, like a terminal's foreground job: Ctrl-C is SIGINT to the group.
            self.popen = subprocess.Popen(
                [str(ROOT / "bin" / "run-portal")],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_port(self.port, timeout=60)
        self.wait_for(lambda text: " ready." in text, 60)

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, condition, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self.text()):
            assert time.monotonic() < deadline, self.text()[-4000:]
            time.sleep(0.2)

    def worker_main_pid(self) -> int:
        assert self.popen is not None
        for pid, command in descendants(self.popen.pid).items():
            if " worker " in command and "celery" in command and not self._is_pool_child(pid):
                return pid
        raise AssertionError(f"no worker among {descendants(self.popen.pid)}")

    def web_pid(self) -> int:
        assert self.popen is not None
        return next(pid for pid, command in descendants(self.popen.pid).items() if "runserver" in command)

    def _is_pool_child(self, pid: int) -> bool:
        parent = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        return "celery" in (Path("/proc") / str(parent) / "cmdline").read_bytes().decode(errors="replace")

    def kill_all(self) -> None:
        if self.popen is None:
            return
        for pid in descendants(self.popen.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)


@pytest.fixture
def portal(tmp_path):
    portal = Portal(tmp_path)
    try:
        yield portal
    finally:
        portal.kill_all()


# Ctrl-C in a terminal is SIGINT to the whole foreground group; process managers, `timeout`
# and `kill -TERM -<pgid>` send SIGTERM to the whole group; `kill <pid>` to run-portal alone.
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm-to-group", "sigterm"])
def test_everything_stops_within_ten_seconds(portal, how):
    portal.start()
    assert portal.popen is not None
    processes = descendants(portal.popen.pid)
    assert len(processes) >= 4, processes  # web server, worker, its two pool processes
    started = time.monotonic()
    if how == "ctrl-c":
        os.killpg(portal.popen.pid, signal.SIGINT)
    elif how == "sigterm-to-group":
        os.killpg(portal.popen.pid, signal.SIGTERM)
    else:
        portal.popen.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        portal.popen.wait(15)
    took = time.monotonic() - started
    left = {pid: command for pid, command in processes.items() if alive(pid)}
    print(f"\nrun-portal stopped on {how} in {took:.1f} s")
    assert portal.popen.returncode is not None and took < 10, f"{took:.1f} s\n{portal.text()[-3000:]}"
    assert not left, left


def test_a_dead_worker_is_started_again(portal):
    portal.start()
    first = portal.worker_main_pid()
    os.kill(first, signal.SIGKILL)
    portal.wait_for(lambda text: text.count(" ready.") >= 2, 60)
    assert "the Celery worker stopped (killed by SIGKILL); starting it again" in portal.text()
    assert portal.popen is not None and portal.popen.poll() is None
    assert portal.worker_main_pid() != first


def test_the_web_server_stopping_stops_everything_with_a_message(portal):
    portal.start()
    assert portal.popen is not None
    processes = descendants(portal.popen.pid)
    os.kill(portal.web_pid(), signal.SIGKILL)
    assert portal.popen.wait(15) != 0
    assert "the web server stopped (killed by SIGKILL); stopping the portal" in portal.text()
    assert not [pid for pid in processes if alive(pid)]


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_address_and_the_logins_come_last_once_everything_answers(portal):
    portal.start()
    portal.wait_for(lambda text: "demo-pass-2026" in text, 60)
    time.sleep(3)  # anything printed after the welcome would show by now

    text = portal.text()
    welcome_at = text.index(f"Listing drafts portal:  http://127.0.0.1:{portal.port}/")
    assert text.index("the Celery worker is ready.") < welcome_at < text.index("demo-pass-2026")
    assert text.rstrip().endswith("-" * 90), text[-2000:]  # the welcome's last line is the last
    assert "[tasks]" not in text and "celery@" not in text  # Celery's banner and INFO log: quiet
    status, body = fetch(f"http://127.0.0.1:{portal.port}/no-such-page/")
    assert status == 404 and "We can't find that page" in body  # DEBUG is off: no debug page
    stylesheet = re.search(r'href="(/static/css/app[^"]*\.css)"', body)
    assert stylesheet and fetch(f"http://127.0.0.1:{portal.port}{stylesheet.group(1)}")[0] == 200
