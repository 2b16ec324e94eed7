"""Upkeep of the drafts' database that no request should pay for."""

from __future__ import annotations

from celery import shared_task
from django.db import connection

REFRESH_PLANNER_STATISTICS_TASK = "drafts.refresh_planner_statistics"


def refresh_planner_statistics() -> bool:
    """Give SQLite's query planner statistics of the tables as they are now.

    Without them SQLite guesses: an agent's nearby drafts in the editor took a union of three
    indexes over all of the agent's rows (3 ms at 2,000 drafts) instead of the coordinates index
    (0.25 ms). `analysis_limit` bounds the work to a sample of each index, so it stays cheap as the
    office grows. PostgreSQL's autovacuum keeps its own statistics: nothing to do there.
    """
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA analysis_limit=1000")
        cursor.execute("ANALYZE")
    return True


@shared_task(name=REFRESH_PLANNER_STATISTICS_TASK, ignore_result=True)
def refresh_planner_statistics_task() -> bool:
    return refresh_planner_statistics()
