"""Celery tasks of the sync engine: thin; the work is in spark/sync.py.

Names: ``spark.sync_draft`` (one draft), ``spark.sweep`` (beat, every 10 s),
``spark.check_drift`` (beat, every few minutes), ``spark.promote_draft`` (one publishing
job, spark/promotion.py). Messages carry only a draft id; duplicates
are harmless (the draft's lease decides who works).
"""

from celery import shared_task

from listings_portal.celery import RETRY_WHEN_DATABASE_IS_GONE

from . import promotion, sync

# Once a claim is held, a job waits for the database itself (spark/sync.py
# `_once_the_database_is_back`); before that, the task is simply run again.


@shared_task(name="spark.sync_draft", ignore_result=True, **RETRY_WHEN_DATABASE_IS_GONE)
def sync_draft(draft_id: int) -> str:
    return sync.push_draft(int(draft_id)).value


@shared_task(name="spark.sweep", ignore_result=True)
def sweep() -> int:
    # Publishing jobs resume on the same beat: a released, backed-off or orphaned job.
    return sync.sweep() + promotion.sweep()


@shared_task(name="spark.check_drift", ignore_result=True)
def check_drift() -> int:
    return sync.check_drift()


@shared_task(name="spark.promote_draft", ignore_result=True, **RETRY_WHEN_DATABASE_IS_GONE)
def promote_draft(draft_id: int) -> str:
    return promotion.run(int(draft_id))
