"""The database goes away in the middle of a push (docs/reliability.md#j13-postgresql-restart,
short form): PostgreSQL ends every other connection while a remote call is in flight. The push
records its retry on a fresh connection and gives the claim back, instead of dying with the
claim held until its lease expires; the next push finishes the job without a duplicate."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from mls import push
from mls.models import DraftSync, SyncState
from tests.factories import DraftFactory
from tests.mls.sync_support import add_photo, assert_in_sync, drain

pytestmark = pytest.mark.django_db(transaction=True)


def end_every_other_connection() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_push_whose_database_went_away_gives_its_claim_back(sync_env, agent):
    if connection.vendor != "postgresql":
        pytest.skip("ends server connections: PostgreSQL only")
    draft = DraftFactory(list_agent=agent, beds_total=3, baths_total=2, year_built=1984)
    add_photo(draft, by=agent, name="Front", seed=31)
    assert drain(draft)[-1] == push.Outcome.SYNCED

    draft.refresh_from_db()
    draft.save_field("city", "Moorhead", by=agent, seen_version=draft.version, seen_value=draft.city)
    sync_env.control.faults(
        {"kind": "hang", "routes": ["incomplete.update"], "hang_seconds": 1.0, "times": 1}
    )
    outcome: list[object] = []

    def run_push() -> None:
        try:
            outcome.append(push.push_draft(draft.pk))
        except BaseException as error:  # what the task would have died of
            outcome.append(error)
        finally:
            connection.close()

    pusher = threading.Thread(target=run_push)
    pusher.start()
    deadline = time.monotonic() + 15
    while not any(rule["injected"] for rule in sync_env.fault_rules()):
        assert time.monotonic() < deadline, "the update never reached the sandbox"
        time.sleep(0.02)
    ended = end_every_other_connection()
    pusher.join(timeout=60)

    assert ended >= 1
    assert outcome and isinstance(outcome[0], push.Outcome), outcome
    row = DraftSync.objects.get(pk=draft.pk)
    assert row.lease_owner == "" and row.lease_expires_at is None
    assert row.state in (SyncState.RETRYING, SyncState.PENDING, SyncState.SYNCED), row.state
    # The next push (the sweep's, a worker's) finishes without a duplicate.
    assert drain(draft)[-1] == push.Outcome.SYNCED
    assert_in_sync(sync_env, draft)
    assert sync_env.count("incomplete.create") == 1
    assert sync_env.count("uploads.photo") == 1
