"""`make run`'s processes: the web server and a Celery worker (with beat), kept together.

    python -m listings_portal.lib.supervisor --port 8000

* A worker that exits is started again, up to MAX_WORKER_RESTARTS times in a row (a worker
  that ran for STABLE_SECONDS starts the count afresh); after that, or when the web server
  exits, everything stops with a message saying which process stopped and why.
* Ctrl-C or SIGTERM stops everything within STOP_SECONDS. Each process runs in a session
  of its own, so the terminal's Ctrl-C reaches only this supervisor: Celery's pool children
  hit directly by the signal leave their parent waiting about 30 s for them. A worker gets
  SIGTERM (warm: finish the running task), SIGQUIT after WARM_SECONDS (cold: its unfinished
  messages go back to the broker; the tasks are acked late and idempotent), and the whole
  process group SIGKILL at the end, so no child outlives `make run`.
* The log stays quiet (WARNING, unless PORTAL_LOG_LEVEL or LOG_LEVEL says otherwise), and the
  welcome (the address and the demo logins, `--welcome FILE`) is printed last, once the web server
  answers /health/ and the worker said it is ready (listings_portal/celery.py writes
  PORTAL_WORKER_READY_FILE), so a newcomer finds the password at the bottom of the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

MAX_WORKER_RESTARTS = 3
STABLE_SECONDS = 60.0
WARM_SECONDS = 4.0
STOP_SECONDS = 8.0
POLL_SECONDS = 0.2
READY_TIMEOUT_SECONDS = 0.5


def _die_with_parent() -> None:
    # Linux: the process gets SIGTERM if the supervisor itself is killed (SIGKILL leaves no
    # chance to stop it otherwise). Elsewhere nothing happens.
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def log_level() -> str:
    return os.environ.get("PORTAL_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "WARNING"


@dataclass
class Service:
    name: str
    args: list[str]
    cold_signal: signal.Signals | None = None  # sent after WARM_SECONDS if still running
    ready_file: Path | None = None  # the service writes it once ready (removed before each start)
    popen: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    announced_ready: bool = False
    stopping: bool = field(default=False, repr=False)

    def start(self, cwd: Path) -> None:
        env = dict(os.environ)
        if self.ready_file is not None:
            self.ready_file.unlink(missing_ok=True)
            env["PORTAL_WORKER_READY_FILE"] = str(self.ready_file)
        self.announced_ready = False
        self.popen = subprocess.Popen(
            self.args, cwd=cwd, env=env, start_new_session=True, preexec_fn=_die_with_parent
        )
        self.started_at = time.monotonic()

    @property
    def is_ready(self) -> bool:
        return self.ready_file is None or self.ready_file.exists()

    @property
    def exit_code(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def signal_group(self, sig: signal.Signals, *, main_only: bool = False) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if main_only:
                self.popen.send_signal(sig)
            else:
                os.killpg(self.popen.pid, sig)


def describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def answers(url: str) -> bool:
    """Whether a web server answers at `url` (any HTTP status counts: it is up)."""
    try:
        with urllib.request.urlopen(url, timeout=READY_TIMEOUT_SECONDS):  # noqa: S310 (our own http URL)
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


class Supervisor:
    def __init__(
        self,
        services: list[Service],
        *,
        cwd: Path,
        worker_name: str = "worker",
        health_url: str = "",
        welcome: str = "",
    ) -> None:
        self.services = services
        self.cwd = cwd
        self.worker_name = worker_name
        self.health_url = health_url
        self.welcome = welcome
        self.welcomed = False
        self._stop_requested: str | None = None

    def say(self, text: str) -> None:
        print(f"\n*** run-portal: {text}\n", file=sys.stderr, flush=True)

    def _announce_readiness(self) -> None:
        for service in self.services:
            if service.ready_file is not None and not service.announced_ready and service.is_ready:
                service.announced_ready = True
                self.say(f"the Celery {service.name} is ready.")
        if self.welcomed or not all(service.is_ready for service in self.services):
            return
        if self.health_url and not answers(self.health_url):
            return
        self.welcomed = True
        print(self.welcome, file=sys.stderr, flush=True)

    def _on_signal(self, signum, _frame) -> None:
        self._stop_requested = signal.Signals(signum).name

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        for service in self.services:
            service.start(self.cwd)
        while True:
            if self._stop_requested:
                self.say(f"{self._stop_requested}: stopping the web server and the worker")
                self.stop_all()
                return 0
            for service in self.services:
                code = service.exit_code
                if code is None:
                    continue
                if service.name != self.worker_name:
                    self.say(
                        f"the {service.name} stopped ({describe_exit(code)}); stopping the portal. "
                        "Its last lines above say why."
                    )
                    self.stop_all()
                    return 1
                if time.monotonic() - service.started_at >= STABLE_SECONDS:
                    service.restarts = 0
                if service.restarts >= MAX_WORKER_RESTARTS:
                    self.say(
                        f"the Celery {service.name} stopped again ({describe_exit(code)}) after "
                        f"{MAX_WORKER_RESTARTS} restarts; stopping the portal. Its last lines above say why."
                    )
                    self.stop_all()
                    return 1
                service.restarts += 1
                self.say(
                    f"the Celery {service.name} stopped ({describe_exit(code)}); starting it again "
                    f"(restart {service.restarts} of {MAX_WORKER_RESTARTS})"
                )
                service.signal_group(signal.SIGKILL)  # its pool children, if any were left
                service.start(self.cwd)
            self._announce_readiness()
            time.sleep(POLL_SECONDS)

    def stop_all(self) -> None:
        """Everything is gone within STOP_SECONDS: warm, then cold, then SIGKILL."""
        started = time.monotonic()
        for service in self.services:
            service.signal_group(signal.SIGTERM, main_only=True)
        cold_sent = False
        while time.monotonic() - started < STOP_SECONDS:
            if all(service.exit_code is not None for service in self.services):
                break
            if not cold_sent and time.monotonic() - started >= WARM_SECONDS:
                cold_sent = True
                for service in self.services:
                    if service.cold_signal and service.exit_code is None:
                        service.signal_group(service.cold_signal, main_only=True)
            time.sleep(0.1)
        for service in self.services:
            # Whatever is left in its process group: a main process past the deadline, or a
            # pool child its parent did not reap.
            service.signal_group(signal.SIGKILL)
            if service.popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    service.popen.wait(1)


def portal_services(python: str, port: int, var_dir: Path) -> list[Service]:
    level = log_level()
    # Celery's banner and runserver's start lines are INFO-level chatter too.
    quiet = level.upper() in ("WARNING", "ERROR", "CRITICAL")
    return [
        Service(
            "worker",
            [
                *(python, "-m", "celery", "-A", "listings_portal", *(["--quiet"] if quiet else [])),
                *("worker", "--beat", f"--loglevel={level}"),
                *("--concurrency=2", f"--schedule={var_dir / 'celerybeat-schedule'}"),
            ],
            cold_signal=signal.SIGQUIT,
            ready_file=var_dir / "worker.ready",
        ),
        Service(
            "web server",
            [
                *(python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"),
                *(["--skip-checks"] if quiet else []),
            ],
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--welcome", type=Path, help="a file printed once everything answers")
    options = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[2]
    var_dir = Path(os.environ.get("PORTAL_VAR_DIR", root / "var"))
    var_dir.mkdir(parents=True, exist_ok=True)
    os.environ["LOG_LEVEL"] = log_level()  # the web server's and the worker's Django logging
    supervisor = Supervisor(
        portal_services(sys.executable, options.port, var_dir),
        cwd=root,
        health_url=f"http://127.0.0.1:{options.port}/health/",
        welcome=options.welcome.read_text() if options.welcome else "",
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
