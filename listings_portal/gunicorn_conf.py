"""gunicorn's settings for the portal as deployed (the Dockerfile, docker-compose and bench/load):

    gunicorn -c python:listings_portal.gunicorn_conf listings_portal.wsgi

Threaded workers (gthread): a request that mostly waits (an upload's body arriving, its check
in a child process, a query) holds a thread rather than a whole process, so the autosaves of
a busy office are not queued behind it as they are behind three sync workers. Each thread keeps
its own database connection (CONN_MAX_AGE). Every figure can be set from the environment.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = _int("WEB_WORKERS", 3)
worker_class = os.environ.get("WEB_WORKER_CLASS", "gthread")
threads = _int("WEB_THREADS", 4)
timeout = _int("WEB_TIMEOUT", 60)
# Idle keep-alive connections hold a thread of a gthread worker only while a request is read.
keepalive = _int("WEB_KEEPALIVE", 5)
