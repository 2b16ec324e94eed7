"""gunicorn's settings for the portal as deployed (the Dockerfile, docker-compose and bench/load):

    gunicorn -c python:listings_portal.gunicorn_conf listings_portal.wsgi

Five processes, gunicorn's (2 x cores) + 1 for the two cores the portal is sized for, each
with eight threads (gthread). A photo's upload lasts as long as the agent's uplink takes to
send it (a 12 MP photo over a home line: seconds), and the photo page sends four at once; on
sync workers each upload held a whole process, so a few agents dropping photos left the
office's autosaves queued behind their bodies. A thread waiting for a body (or for
PostgreSQL) holds no CPU and no GIL, so the other requests of its process go on. On
bench/load (100 agents, 10 uploading), back to back: on a quiet machine autosave p95 went from
3.4 s (the saves of the upload minute waiting behind the bodies, the web's CPU idle) to
100 ms, on a busy one p50 from 3.1 s to 0.24 s and the throughput from 23 to 48 requests a
second, at the same web CPU per request. Five processes still spread the CPU-bound pages
over both cores; eight threads each keep the database connections (one per thread, kept
CONN_MAX_AGE) at 40, well under PostgreSQL's default 100. Every figure can be set from the
environment (WEB_WORKER_CLASS=sync for one request per process).
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = _int("WEB_WORKERS", 5)
worker_class = os.environ.get("WEB_WORKER_CLASS", "gthread")
# gthread only: gunicorn turns sync workers with more than one thread into gthread.
threads = _int("WEB_THREADS", 8 if worker_class == "gthread" else 1)
timeout = _int("WEB_TIMEOUT", 60)
# No keep-alive: a gthread worker closing an idle kept-alive connection races the client's next
# request on it, which then fails with a reset (bench/load saw dozens a run at gunicorn's 2 s
# while agents autosave every 2-5 s). Each request on a connection of its own, as sync did.
keepalive = _int("WEB_KEEPALIVE", 0)
