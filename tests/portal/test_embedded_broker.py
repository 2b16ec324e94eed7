"""The embedded broker (the default without CELERY_BROKER_URL) under real processes: several
producers and a real worker lose nothing and crash nothing, and a message whose worker was
stopped cold mid-task is handed out again to the next worker."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.portal.broker_tasks import recorded

ROOT = Path(__file__).resolve().parents[2]

PRODUCER = textwrap.dedent(
    """
    import sys
    import django

    django.setup()
    from listings_portal.celery import app

    producer, count = sys.argv[1], int(sys.argv[2])
    for number in range(count):
        app.send_task("tests.record_delivery", args=[f"{producer}-{number}"])
    """
)


class EmbeddedWorker:
    """Celery workers on the settings' default broker, inside a throwaway PORTAL_VAR_DIR."""

    def __init__(self, var_dir: Path, **settings: str) -> None:
        self.var_dir = var_dir
        self.settings = settings
        self.worker: subprocess.Popen | None = None
        self.started = 0

    @property
    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CELERY_", "DATABASE_", "SYNC_", "CACHE_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="listings_portal.settings",
            PORTAL_VAR_DIR=str(self.var_dir),
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="WARNING",
            **self.settings,
        )
        return env

    @property
    def log(self) -> Path:
        return self.var_dir / f"worker-{self.started}.log"

    def start(self) -> None:
        self.started += 1
        with open(self.log, "wb") as log:
            self.worker = subprocess.Popen(
                [
                    *(sys.executable, "-m", "celery", "-A", "listings_portal", "worker"),
                    *("--include=tests.portal.broker_tasks", "--concurrency=2", "--loglevel=INFO"),
                    *("--without-gossip", "--without-mingle", "-n", f"broker-test-{self.started}@%h"),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while " ready." not in self.log.read_text(errors="replace"):
            assert self.worker.poll() is None, f"the worker exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, f"the worker was not ready:\n{self.log.read_text()}"
            time.sleep(0.1)

    def produce(self, producers: int, per_producer: int) -> None:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", PRODUCER, f"p{number}", str(per_producer)], cwd=ROOT, env=self.env
            )
            for number in range(producers)
        ]
        for proc in procs:
            assert proc.wait(60) == 0

    def send(self, message_id: str, seconds: float) -> None:
        code = (
            "import django; django.setup(); from listings_portal.celery import app; "
            f"app.send_task('tests.record_delivery', args=[{message_id!r}, {seconds}])"
        )
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=self.env, check=True, timeout=60)

    def kill(self, sig: signal.Signals) -> None:
        """`sig` to the main process (as run-portal does: pool children hit by it directly leave
        their parent waiting ~30 s), SIGKILL to the whole group."""
        assert self.worker is not None
        with contextlib.suppress(ProcessLookupError):
            if sig == signal.SIGKILL:
                os.killpg(self.worker.pid, sig)
            else:
                self.worker.send_signal(sig)
        self.worker.wait(20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.worker.pid, signal.SIGKILL)  # children a cold stop left behind

    def stop(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.kill(signal.SIGQUIT)


def wait_until(condition, timeout: float, worker: EmbeddedWorker) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if worker.worker is not None and worker.worker.poll() is not None:
            return condition()
        time.sleep(0.2)
    return condition()


@pytest.mark.worker
@pytest.mark.slow
def test_producers_and_a_worker_lose_and_crash_nothing(tmp_path):
    producers, per_producer = 4, 500
    expected = {f"p{p}-{n}" for p in range(producers) for n in range(per_producer)}
    # A worker whose processes are all busy waits one polling interval before it takes the
    # next message: production's 0.05 s bounds these instant tasks to about 40 a second, too
    # slow to run 2000 in well under a minute on a busy test machine.
    broker = EmbeddedWorker(tmp_path / "var", CELERY_BROKER_POLLING_INTERVAL="0.01")
    broker.var_dir.mkdir()
    broker.start()
    started = time.monotonic()
    try:
        broker.produce(producers, per_producer)
        published = time.monotonic() - started
        wait_until(lambda: len(recorded(broker.var_dir)) >= len(expected), 60, broker)
        elapsed = time.monotonic() - started
        alive = broker.worker is not None and broker.worker.poll() is None
    finally:
        broker.stop()
    log = broker.log.read_text(errors="replace")
    done = collections.Counter(recorded(broker.var_dir))
    lost = expected - set(done)
    duplicates = sum(count - 1 for count in done.values())
    print(
        f"\n{producers} producers x {per_producer} messages: published in {published:.1f} s, "
        f"all run in {elapsed:.1f} s; lost {len(lost)}, duplicates {duplicates}, worker alive {alive}"
    )
    assert alive and "Unrecoverable error" not in log, log[-3000:]
    assert not lost, f"{len(lost)} lost, e.g. {sorted(lost)[:5]}"
    assert duplicates == 0


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGQUIT, signal.SIGKILL], ids=["cold-shutdown", "killed"])
def test_a_task_stopped_cold_midway_runs_again_on_the_next_worker(tmp_path, stop):
    # A short visibility timeout so that a message whose worker died unannounced (SIGKILL)
    # comes back within the test; production's is longer than the task time limit.
    broker = EmbeddedWorker(tmp_path / "var", CELERY_BROKER_VISIBILITY_TIMEOUT="4")
    broker.var_dir.mkdir()
    broker.start()
    try:
        broker.send("midway", seconds=3)
        assert wait_until(lambda: recorded(broker.var_dir, "started"), 20, broker), broker.log.read_text()
        broker.kill(stop)
        assert recorded(broker.var_dir) == []  # stopped before it finished
        broker.start()
        assert wait_until(lambda: recorded(broker.var_dir) == ["midway"], 30, broker), broker.log.read_text()
    finally:
        broker.stop()


def test_an_idle_poll_looks_again_after_any_commit_and_at_least_once_a_second(tmp_path, monkeypatch):
    """The poll gate: an empty queue is not queried again until another connection commits
    (a publish from any process), or the full look is due (a visibility timeout ran out)."""
    from queue import Empty

    from kombu import Connection

    from listings_portal.lib import sqlite_broker

    monkeypatch.setattr(sqlite_broker, "FULL_LOOK_EVERY_SECONDS", 0.5)
    monkeypatch.setattr(sqlite_broker, "GATE_READ_REUSE_SECONDS", 0.0)  # every look reads the gate
    url = f"portal-sqlite+sqlite:///{tmp_path / 'broker.sqlite3'}"
    options = {"visibility_timeout": 0.2}
    with Connection(url, transport_options=options) as consumer, Connection(url) as producer:
        channel, sender = consumer.default_channel, producer.default_channel
        channel._new_queue("q")
        with pytest.raises(Empty):
            channel._get("q")
        looks = []
        monkeypatch.setattr(
            channel.session,
            "query",
            lambda *entities, real=channel.session.query: looks.append(entities) or real(*entities),
        )
        with pytest.raises(Empty):
            channel._get("q")
        assert looks == []  # nothing committed since the empty look: no query

        sender._put("q", {"body": "first", "properties": {"delivery_tag": "t1"}})
        assert channel._get("q")["body"] == "first"  # the publish's commit opened the gate
        with pytest.raises(Empty):
            channel._get("q")  # taken (invisible); this look found the queue empty again
        time.sleep(0.3)  # its visibility timeout ran out, with no commit since
        looks.clear()
        with pytest.raises(Empty):
            channel._get("q")
        assert looks == []
        time.sleep(0.5)
        assert channel._get("q")["body"] == "first"  # the full look is due: handed out again


def test_one_poll_of_several_queues_reads_the_gate_once(tmp_path, monkeypatch):
    """A worker polls each of its queues in turn (celery, photos): one read of SQLite's
    data_version serves them all, and a publish is seen once the read is older than
    GATE_READ_REUSE_SECONDS (in production a few ms, less than one polling interval)."""
    from queue import Empty

    from kombu import Connection

    from listings_portal.lib import sqlite_broker

    monkeypatch.setattr(sqlite_broker, "GATE_READ_REUSE_SECONDS", 3600.0)
    url = f"portal-sqlite+sqlite:///{tmp_path / 'broker.sqlite3'}"
    with Connection(url) as consumer, Connection(url) as producer:
        channel, sender = consumer.default_channel, producer.default_channel
        for queue in ("celery", "photos"):
            channel._new_queue(queue)
            with pytest.raises(Empty):
                channel._get(queue)  # the first look at each queue is a full one
        reads: list[str] = []
        channel._gate[1].set_trace_callback(reads.append)
        for _poll in range(3):
            for queue in ("celery", "photos"):
                with pytest.raises(Empty):
                    channel._get(queue)
        assert reads == []  # the read before the full looks still serves: no commit since

        sender._put("photos", {"body": "photo", "properties": {"delivery_tag": "t1"}})
        with pytest.raises(Empty):
            channel._get("photos")  # the gate was read before the publish, within the window
        monkeypatch.setattr(sqlite_broker, "GATE_READ_REUSE_SECONDS", 0.0)
        with pytest.raises(Empty):
            channel._get("celery")
        assert channel._get("photos")["body"] == "photo"
        assert len(reads) == 2  # one read per look once the window is over


def test_a_queues_row_is_read_once_per_channel(tmp_path, monkeypatch):
    """Kombu reads the queue's row on every look (and again when a commit expired it): the
    channel keeps its id instead, so a busy worker's look is the message's query alone."""
    from queue import Empty

    from kombu import Connection

    url = f"portal-sqlite+sqlite:///{tmp_path / 'broker.sqlite3'}"
    with Connection(url) as consumer, Connection(url) as producer:
        channel, sender = consumer.default_channel, producer.default_channel
        rows_read: list[str] = []
        monkeypatch.setattr(
            channel,
            "_get_or_create",
            lambda queue, real=channel._get_or_create: rows_read.append(queue) or real(queue),
        )
        for number in range(3):
            for queue in ("celery", "photos"):
                sender._put(
                    queue, {"body": f"{queue}-{number}", "properties": {"delivery_tag": f"{queue}{number}"}}
                )
                assert channel._get(queue)["body"] == f"{queue}-{number}"
                channel.basic_ack(f"{queue}{number}")
        with pytest.raises(Empty):
            channel._get("celery")
        assert rows_read == ["celery", "photos"]
    with Connection(url) as consumer:
        assert consumer.default_channel._size("celery") == 0  # every acked message deleted


BACKLOG_THEN_PHOTO = textwrap.dedent(
    """
    import django

    django.setup()
    from listings_portal.celery import app

    for number in range(12):
        app.send_task("tests.record_delivery", args=[f"push-{number}", 0.3])
    app.send_task("tests.record_delivery", args=["photo", 0.3], queue="photos")
    """
)


def test_photo_processing_is_routed_to_a_queue_every_worker_takes_from():
    from listings_portal.celery import app

    assert app.amqp.router.route({}, "media_manager.tasks.process_photo")["queue"].name == "photos"
    assert app.amqp.router.route({}, "spark.sweep")["queue"].name == "celery"
    # A worker started without -Q consumes every declared queue.
    assert {"celery", "photos"} <= set(app.amqp.queues)


@pytest.mark.worker
@pytest.mark.slow
def test_a_photo_does_not_wait_behind_a_backlog_of_pushes(tmp_path):
    """A worker takes from its queues in turn: a photo queued behind a dozen pushes runs next."""
    broker = EmbeddedWorker(tmp_path / "var", CELERY_BROKER_POLLING_INTERVAL="0.01")
    broker.var_dir.mkdir()
    subprocess.run(
        [sys.executable, "-c", BACKLOG_THEN_PHOTO], cwd=ROOT, env=broker.env, check=True, timeout=60
    )
    broker.start()
    try:
        assert wait_until(lambda: len(recorded(broker.var_dir)) >= 13, 60, broker), broker.log.read_text()
    finally:
        broker.stop()
    order = recorded(broker.var_dir)
    # Two processes each take one message at a time; with one FIFO queue the photo would be last.
    assert order.index("photo") <= 3, order
