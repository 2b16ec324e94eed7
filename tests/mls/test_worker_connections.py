"""A worker keeps its PostgreSQL connection from one task to the next (as a web process does
with CONN_MAX_AGE), instead of a new server process per task; a broken one is replaced."""

from __future__ import annotations

import os

import psycopg
import pytest

from tests.mls.worker_harness import Harness, wait_until_synced

pytestmark = [
    pytest.mark.worker,
    pytest.mark.timeout(240),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="persistent connections are a PostgreSQL setting (SQLite opens one per task)",
    ),
]


def worker_backends(harness: Harness) -> set[int]:
    """Server processes serving the run's database, other than this query's own."""
    with psycopg.connect(harness.database_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return {pid for (pid,) in rows}


def test_a_worker_keeps_its_connection_across_tasks(tmp_path):
    with Harness(tmp_path, worker_concurrency=1, settings_env={"DATABASE_CONN_MAX_AGE": "60"}) as harness:
        harness.start_worker()
        first = harness.run("seed", drafts=3, photos=1, documents=0, seed=3)
        wait_until_synced(harness, first["ids"], 90)
        kept = worker_backends(harness)
        # The pool process is idle now and still connected (the fix-up used to close it).
        assert kept
        second = harness.run("seed", drafts=3, photos=1, documents=0, seed=4)
        wait_until_synced(harness, second["ids"], 90)
        # Six more tasks (three pushes, three photos) ran on the connection already open.
        assert worker_backends(harness) == kept

        # A connection the server ended is dropped after the task that found it broken, and
        # the next task connects afresh.
        with psycopg.connect(harness.database_url, autocommit=True) as connection:
            for pid in kept:
                connection.execute("SELECT pg_terminate_backend(%s)", [pid])
        third = harness.run("seed", drafts=2, photos=1, documents=0, seed=5)
        wait_until_synced(harness, third["ids"], 120)
        assert worker_backends(harness).isdisjoint(kept)
