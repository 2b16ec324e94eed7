"""The claim is a single conditional UPDATE: workers racing for one draft's lease get exactly one
winner. On PostgreSQL this depends on the UPDATE's shape (a join turned into `pk IN (SELECT ...)`
let the row be taken twice), so the race is run for real, with threads on separate connections."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from mls import push
from mls.models import DraftSync
from tests.factories import DraftFactory

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 6
ROUNDS = 15


def _race(draft_id: int) -> list[str]:
    """All racers call claim() at once; returns the owners that say they hold the lease."""
    barrier = threading.Barrier(RACERS)
    winners: list[str] = []
    lock = threading.Lock()

    def racer(index: int) -> None:
        pusher = push.Pusher(draft_id, owner=f"racer-{index}")
        try:
            barrier.wait(timeout=10)
            if pusher.claim():
                with lock:
                    winners.append(pusher.owner)
        finally:
            connection.close()

    threads = [threading.Thread(target=racer, args=(index,)) for index in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return winners


def test_racing_workers_get_one_lease(agent):
    draft = DraftFactory(list_agent=agent)
    DraftSync.ensure(draft.pk)
    for _ in range(ROUNDS):
        winners = _race(draft.pk)
        assert len(winners) == 1, winners
        row = DraftSync.objects.get(pk=draft.pk)
        assert row.lease_owner == winners[0]
        DraftSync.objects.filter(pk=draft.pk).update(lease_owner="", lease_expires_at=None)
