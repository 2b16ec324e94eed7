"""Opt-in cProfile of upload requests and Celery tasks, for the benchmarks (bench/photos/portal.py).

Set PORTAL_PROFILE_DIR to a directory and every POST the web process serves, and every task a
worker runs, writes one `.prof` file there (read it with `python -m pstats`). Unset, nothing is
wrapped: the switch costs nothing in production.
"""

from __future__ import annotations

import cProfile
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

PROFILE_DIR = os.environ.get("PORTAL_PROFILE_DIR", "")


def _dump(profiler: cProfile.Profile, label: str) -> None:
    safe = "".join(c if c.isalnum() else "-" for c in label)[:80]
    profiler.dump_stats(Path(PROFILE_DIR) / f"{time.time():.6f}-{os.getpid()}-{safe}.prof")


def profiled_wsgi(application: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The WSGI application, each POST run under cProfile (the multipart parse included)."""
    if not PROFILE_DIR:
        return application

    def profiled(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return application(environ, start_response)
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        try:
            # Consumed here so the profile covers the whole body: it is small (a page or a redirect).
            return list(application(environ, start_response))
        finally:
            profiler.disable()
            _dump(profiler, "web" + environ.get("PATH_INFO", ""))

    return profiled


_task_profiles: dict[str, cProfile.Profile] = {}


def start_task_profile(task_id: str) -> None:
    if PROFILE_DIR:
        profiler = _task_profiles[task_id] = cProfile.Profile(time.process_time)
        profiler.enable()


def stop_task_profile(task_id: str, task_name: str) -> None:
    profiler = _task_profiles.pop(task_id, None)
    if profiler is not None:
        profiler.disable()
        _dump(profiler, f"task-{task_name}")
