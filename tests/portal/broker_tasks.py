"""Test-only tasks on the project's Celery app, loaded into a real worker with
``celery -A listings_portal worker --include tests.portal.broker_tasks``.

Each delivery is written to an SQLite table beside the broker (``$PORTAL_VAR_DIR/deliveries.sqlite3``),
one row per run, so a test counts what was lost and what was handed out twice.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from listings_portal.celery import app


def deliveries_path(var_dir: Path | str) -> Path:
    return Path(var_dir) / "deliveries.sqlite3"


def _record(message_id: str, stage: str) -> None:
    with sqlite3.connect(deliveries_path(os.environ["PORTAL_VAR_DIR"]), timeout=30) as db:
        db.execute("CREATE TABLE IF NOT EXISTS delivery (message_id TEXT, stage TEXT, pid INTEGER)")
        db.execute("INSERT INTO delivery VALUES (?, ?, ?)", (message_id, stage, os.getpid()))


@app.task(name="tests.record_delivery")
def record_delivery(message_id: str, seconds: float = 0.0) -> None:
    """Idempotent like the project's tasks: running twice only adds a second row."""
    if seconds:
        _record(message_id, "started")
        time.sleep(seconds)
    _record(message_id, "done")


def recorded(var_dir: Path | str, stage: str = "done") -> list[str]:
    path = deliveries_path(var_dir)
    if not path.exists():
        return []
    with sqlite3.connect(path, timeout=30) as db:
        try:
            rows = db.execute("SELECT message_id FROM delivery WHERE stage = ?", (stage,)).fetchall()
        except sqlite3.OperationalError:  # the table is not there yet
            return []
    return [row[0] for row in rows]
