"""listings_portal/gunicorn_conf.py: what the Dockerfile, docker-compose and bench/load run the web with."""

from __future__ import annotations

import importlib
from pathlib import Path

from listings_portal import gunicorn_conf

ROOT = Path(__file__).resolve().parents[2]
COMMAND = '"gunicorn", "-c", "python:listings_portal.gunicorn_conf", "listings_portal.wsgi"'


def test_five_processes_of_eight_threads_by_default(monkeypatch):
    for name in ("WEB_WORKERS", "WEB_WORKER_CLASS", "WEB_THREADS", "WEB_TIMEOUT", "WEB_BIND"):
        monkeypatch.delenv(name, raising=False)
    conf = importlib.reload(gunicorn_conf)
    assert (conf.worker_class, conf.workers, conf.threads, conf.timeout) == ("gthread", 5, 8, 60)
    assert conf.keepalive == 0
    assert conf.bind == "0.0.0.0:8000"


def test_every_figure_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("WEB_WORKERS", "3")
    monkeypatch.setenv("WEB_WORKER_CLASS", "gthread")
    monkeypatch.setenv("WEB_THREADS", "4")
    monkeypatch.setenv("WEB_BIND", "127.0.0.1:9000")
    try:
        conf = importlib.reload(gunicorn_conf)
        assert (conf.worker_class, conf.workers, conf.threads, conf.bind) == (
            "gthread",
            3,
            4,
            "127.0.0.1:9000",
        )
    finally:
        monkeypatch.undo()
        importlib.reload(gunicorn_conf)


def test_the_image_and_compose_run_the_web_with_it():
    assert COMMAND in (ROOT / "Dockerfile").read_text()
    assert COMMAND in (ROOT / "docker-compose.yml").read_text()


def test_sync_workers_get_one_thread(monkeypatch):
    """gunicorn runs sync workers with more than one thread as gthread: WEB_WORKER_CLASS=sync
    must mean one request per process."""
    monkeypatch.setenv("WEB_WORKER_CLASS", "sync")
    monkeypatch.delenv("WEB_THREADS", raising=False)
    try:
        assert importlib.reload(gunicorn_conf).threads == 1
    finally:
        monkeypatch.undo()
        importlib.reload(gunicorn_conf)
