"""Celery tasks of the sync engine: thin; the work is in spark/sync.py.

Names: ``spark.sync_draft`` (one draft), ``spark.sweep`` (beat, every 10 s),
``spark.check_drift`` (beat, every few minutes), ``spark.promote_draft`` (one publishing
job, spark/promotion.py). Messages carry only a draft id; duplicates
are harmless (the draft's lease decides who works).
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import promotion, sync

# The database unreachable before a job holds its claim (a restart, a failover): try the job
# again in a few seconds rather than wait for the sweep. Once a claim is held the job itself
# waits for the database (spark/sync.py `_once_the_database_is_back`). After each task the
# worker's Django fixup closes a connection that broke, so the retry starts on a fresh one.
DATABASE_GONE = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 6,
}


@shared_task(name="spark.sync_draft", ignore_result=True, **DATABASE_GONE)
def sync_draft(draft_id: int) -> str:
    return sync.push_draft(int(draft_id)).value


@shared_task(name="spark.sweep", ignore_result=True)
def sweep() -> int:
    # Publishing jobs resume on the same beat: a released, backed-off or orphaned job.
    return sync.sweep() + promotion.sweep()


@shared_task(name="spark.check_drift", ignore_result=True)
def check_drift() -> int:
    return sync.check_drift()


@shared_task(name="spark.promote_draft", ignore_result=True, **DATABASE_GONE)
def promote_draft(draft_id: int) -> str:
    return promotion.run(int(draft_id))
