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
from dataclasses import dataclass, field
from pathlib import Path

MAX_WORKER_RESTARTS = 3
STABLE_SECONDS = 60.0
WARM_SECONDS = 4.0
STOP_SECONDS = 8.0
POLL_SECONDS = 0.2


def _die_with_parent() -> None:
    # Linux: the process gets SIGTERM if the supervisor itself is killed (SIGKILL leaves no
    # chance to stop it otherwise). Elsewhere nothing happens.
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Service:
    name: str
    args: list[str]
    cold_signal: signal.Signals | None = None  # sent after WARM_SECONDS if still running
    popen: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    stopping: bool = field(default=False, repr=False)

    def start(self, cwd: Path) -> None:
        self.popen = subprocess.Popen(self.args, cwd=cwd, start_new_session=True, preexec_fn=_die_with_parent)
        self.started_at = time.monotonic()

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


class Supervisor:
    def __init__(self, services: list[Service], *, cwd: Path, worker_name: str = "worker") -> None:
        self.services = services
        self.cwd = cwd
        self.worker_name = worker_name
        self._stop_requested: str | None = None

    def say(self, text: str) -> None:
        print(f"\n*** run-portal: {text}\n", file=sys.stderr, flush=True)

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
    return [
        Service(
            "worker",
            [
                *(python, "-m", "celery", "-A", "listings_portal", "worker", "--beat", "--loglevel=INFO"),
                *("--concurrency=2", f"--schedule={var_dir / 'celerybeat-schedule'}"),
            ],
            cold_signal=signal.SIGQUIT,
        ),
        Service("web server", [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    options = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[2]
    var_dir = Path(os.environ.get("PORTAL_VAR_DIR", root / "var"))
    var_dir.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(portal_services(sys.executable, options.port, var_dir), cwd=root)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
