"""Fixtures of the media manager's model, view, order, file and browser tests."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from listings_portal.celery import app as celery_app
from listings_portal.lib.doorbell import Doorbell
from media_manager import tasks


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
    with _doorbell_to("redis://127.0.0.1:1/0", socket_connect_timeout=0.5, socket_timeout=0.5):
        yield
    conf.broker_url, conf.broker_transport_options, conf.task_always_eager = saved
    conf.broker_write_url, conf.broker_read_url = saved_urls
    _reset_connections()


@contextlib.contextmanager
def _doorbell_to(url: str, **transport_options) -> Iterator[Doorbell]:
    """Ring, for a while, a processing doorbell whose thread publishes through a Celery app of
    its own to `url`: the thread never shares the project app's pools (which the fixtures here
    swap). Afterwards whatever it still holds is dropped, so its thread stops retrying."""
    app = Celery("media-tests", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = url
    app.conf.broker_transport_options = transport_options
    over = threading.Event()

    def send(photo_id: int) -> None:
        if not over.is_set():
            tasks.publish_processing(photo_id, app=app)

    bell = Doorbell(send, retry_pause=0.2)
    try:
        with tasks.using(bell):
            yield bell
    finally:
        over.set()
        bell.flush(timeout=5)
        app.close()


@pytest.fixture
def frozen_broker():
    """The broker accepts connections and never answers (a hung Redis): publishing blocks
    until the socket timeouts. Yields the processing doorbell the request path rings."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)  # read nothing, answer nothing

    threading.Thread(target=accept, name="frozen-broker", daemon=True).start()

    def hang_up() -> None:
        # Stop listening first (a reconnect is refused, not held again), then drop the held
        # connections: the publish the doorbell's thread is blocked in fails at once.
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)  # also wakes the accepting thread
        server.close()
        for connection in held:
            connection.close()

    # Production's socket timeouts (settings: 2 s): each publish attempt hangs that long.
    url = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    try:
        with _doorbell_to(url, socket_connect_timeout=2, socket_timeout=2) as bell:
            yield bell
            hang_up()
    finally:
        hang_up()


def _reset_connections() -> None:
    # Celery keeps its connection and producer pools; drop them so the new URL is used.
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None
