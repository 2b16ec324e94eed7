"""Fixtures of the media manager's model, view, order, file and browser tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from listings_portal.celery import app as celery_app


@pytest.fixture
def upload_temp_dir(settings, tmp_path) -> Path:
    """Uploads stream to this directory; tests assert it is empty afterwards."""
    path = tmp_path / "upload-tmp"
    path.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(path)
    return path


@pytest.fixture
def media_root(settings) -> Path:
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def eager_celery():
    """Tasks sent after commit run at once, in this process."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def broker_down():
    """The broker refuses connections (nothing listens on port 1)."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.broker_transport_options, conf.task_always_eager)
    saved_urls = (conf.broker_write_url, conf.broker_read_url)
    # Celery copies broker_url into the read/write URLs when a real broker is configured.
    conf.broker_url = conf.broker_write_url = conf.broker_read_url = "redis://127.0.0.1:1/0"
    conf.broker_transport_options = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    conf.task_always_eager = False
    _reset_connections()
    yield
    conf.broker_url, conf.broker_transport_options, conf.task_always_eager = saved
    conf.broker_write_url, conf.broker_read_url = saved_urls
    _reset_connections()


def _reset_connections() -> None:
    # Celery keeps its connection and producer pools; drop them so the new URL is used.
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None
