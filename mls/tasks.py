"""Celery tasks of the push, publishing and the MLS metadata: thin; the work is in mls/push.py,
mls/drift.py, mls/publishing.py and mls/metadata.py. Sync messages carry only a draft id;
duplicates are harmless (the draft's lease decides who works). The names keep the `spark.`
prefix of the former app (messages in flight).
"""

from celery import shared_task

from listings_portal.celery import RETRY_WHEN_DATABASE_IS_GONE

from . import drift, metadata, open_houses, publishing, push
from .enqueue import PROMOTE_DRAFT_TASK, PUSH_OPEN_HOUSE_TASK, REFRESH_METADATA_TASK, SYNC_DRAFT_TASK

# Once a claim is held, a job waits for the database itself (mls/leased.py
# `once_the_database_is_back`); before that, the task is simply run again.


@shared_task(name=SYNC_DRAFT_TASK, ignore_result=True, **RETRY_WHEN_DATABASE_IS_GONE)
def sync_draft(draft_id: int) -> str:
    return push.push_draft(int(draft_id)).value


@shared_task(name="spark.sweep", ignore_result=True)
def sweep() -> int:
    # Publishing jobs resume on the same beat: a released, backed-off or orphaned job.
    return push.sweep() + publishing.sweep()


@shared_task(name="spark.check_drift", ignore_result=True)
def check_drift() -> int:
    return drift.check_drift()


@shared_task(name=PROMOTE_DRAFT_TASK, ignore_result=True, **RETRY_WHEN_DATABASE_IS_GONE)
def promote_draft(draft_id: int) -> str:
    return publishing.run(int(draft_id))


@shared_task(name=REFRESH_METADATA_TASK, ignore_result=True)
def refresh_metadata(mls_id: str | None = None) -> int:
    """Beat (daily) and the office admin's button: returns how many copies changed."""
    return metadata.refresh(mls_id).changed


@shared_task(name=PUSH_OPEN_HOUSE_TASK, ignore_result=True, **RETRY_WHEN_DATABASE_IS_GONE)
def push_open_house(open_house_id: int) -> str:
    return open_houses.push_open_house(int(open_house_id))


@shared_task(name="mls.sweep_open_houses", ignore_result=True)
def sweep_open_houses() -> int:
    return open_houses.sweep()
