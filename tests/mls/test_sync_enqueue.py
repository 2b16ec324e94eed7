"""A save succeeds, stays fast and is kept while Redis is down or frozen; the doorbell
publishes everything rung meanwhile once Redis is back (docs/reliability.md#j1-redis-outage-at-save-time).
Uses a redis-server of its own on a free port (the machine's Redis is never stopped)."""

from __future__ import annotations

import itertools
import json
import shutil
import signal
import subprocess
import time

import pytest
import redis
from celery import Celery
from django.db import transaction

from drafts.models import Draft
from mls import enqueue
from tests.factories import DraftFactory
from tests.mls.worker_harness import free_port, wait_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed"),
]


class RedisServer:
    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)

    def queued_draft_ids(self) -> list[int]:
        client = redis.Redis.from_url(self.url, socket_timeout=2)
        ids = []
        for raw in client.lrange("celery", 0, -1):
            headers = json.loads(raw)["headers"]
            assert headers["task"] == "spark.sync_draft"
            ids.extend(json.loads(headers["argsrepr"].replace("(", "[").replace(",)", "]").replace(")", "]")))
        return ids


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def doorbell(redis_server, settings):
    """The production doorbell, its broker our throwaway Redis (production's Redis options)."""
    settings.SYNC_ENQUEUE_ENABLED = True
    app = Celery("j1", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    # All three: with a real broker configured, Celery copies it into the read/write URLs.
    app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = redis_server.url
    app.conf.broker_transport_options = {
        "visibility_timeout": 900,
        "socket_timeout": 2,
        "socket_connect_timeout": 2,
    }
    bell = enqueue.doorbell_for(app, retry_pause=0.5)
    with enqueue.using(bell):
        yield bell
    app.close()


PRICES = itertools.count(300000)


def timed_saves(drafts, agent, seconds: float) -> list[float]:
    latencies = []
    deadline = time.monotonic() + seconds
    index = 0
    while time.monotonic() < deadline:
        draft = Draft.objects.get(pk=drafts[index % len(drafts)].pk)
        started = time.monotonic()
        # A price never used before: every save is a change, however few the last phase made
        # on a slow machine (a phase starting over at 300000 could repeat a draft's price).
        saved = draft.save_field(
            "list_price",
            str(next(PRICES)),
            by=agent,
            seen_version=draft.version,
            seen_value=draft.list_price,
        )
        latencies.append(time.monotonic() - started)
        assert saved.changed
        index += 1
        time.sleep(0.03)
    return latencies


def p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def test_saves_stay_fast_and_kept_while_redis_is_frozen_then_down(redis_server, doorbell, agent):
    drafts = [DraftFactory(list_agent=agent) for _ in range(8)]
    seqs = {d.pk: d.change_seq for d in drafts}

    normal = timed_saves(drafts, agent, 1.0)
    assert doorbell.flush(10)
    failed_before = doorbell.failed

    redis_server.signal(signal.SIGSTOP)  # frozen: connections hang instead of failing
    frozen = timed_saves(drafts, agent, 3.0)
    redis_server.signal(signal.SIGCONT)
    redis_server.kill()  # down: connections refused, queued messages gone
    down = timed_saves(drafts, agent, 3.0)
    outage_ids = {d.pk for d in drafts}

    restarted = time.monotonic()
    redis_server.start()
    assert doorbell.flush(30), "the doorbell did not catch up within 30 s of Redis coming back"
    caught_up = time.monotonic() - restarted
    queued = set(redis_server.queued_draft_ids())

    saves = len(normal) + len(frozen) + len(down)
    print(
        f"\nJ1: {saves} saves, 0 errors; p99 normal {1000 * p99(normal):.0f} ms, Redis frozen "
        f"{1000 * p99(frozen):.0f} ms, Redis down {1000 * p99(down):.0f} ms; doorbell rung {doorbell.rung}, "
        f"published {doorbell.published}, failed attempts {doorbell.failed}; "
        f"caught up {caught_up:.1f} s after Redis came back"
    )
    assert p99(frozen) < 0.5 and p99(down) < 0.5
    assert doorbell.failed > failed_before  # it did try during the outage
    assert outage_ids <= queued  # every draft changed during the outage was published afterwards
    for draft in drafts:  # every save is kept
        draft.refresh_from_db()
        assert draft.change_seq > seqs[draft.pk]
    total_changes = sum(Draft.objects.get(pk=pk).change_seq - seq for pk, seq in seqs.items())
    assert total_changes == saves


def test_a_failure_before_commit_keeps_neither_the_change_nor_its_mark(doorbell, agent):
    draft = DraftFactory(list_agent=agent)
    rung = doorbell.rung
    with pytest.raises(RuntimeError), transaction.atomic():
        draft.save_field("city", "Moorhead", by=agent, seen_version=draft.version, seen_value="Fargo")
        raise RuntimeError("crash before commit")
    fresh = Draft.objects.get(pk=draft.pk)
    assert (fresh.city, fresh.version, fresh.change_seq) == ("Fargo", draft.version, draft.change_seq)
    assert doorbell.rung == rung  # no message for a change that never happened
