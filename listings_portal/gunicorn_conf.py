"""gunicorn's settings for the portal as deployed (the Dockerfile, docker-compose and bench/load):

    gunicorn -c python:listings_portal.gunicorn_conf listings_portal.wsgi

Five sync workers, gunicorn's (2 x cores) + 1 for the two cores the portal is sized for: a
request that waits (an upload's body arriving, its check in a child process) holds one process
while four go on answering autosaves, which three workers could not promise with a few uploads
under way. Threaded workers (WEB_WORKER_CLASS=gthread) admit more at once but share one GIL per
process: on bench/load a CPU-bound page then delays the autosaves of its process (web CPU 49
against 40 ms per request, autosave p50 456 against 273 ms, in back-to-back runs). Every figure
can be set from the environment.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = _int("WEB_WORKERS", 5)
worker_class = os.environ.get("WEB_WORKER_CLASS", "sync")
threads = _int("WEB_THREADS", 1)  # gthread only
timeout = _int("WEB_TIMEOUT", 60)
