"""Telling a worker "look at draft N" without ever holding up a request.

The database already holds the change (`Draft.change_seq`); the message only makes the push
start now instead of at the next sweep. A request rings the doorbell (listings_portal/lib/
doorbell.py: a background publisher) after commit and returns at once; with the broker down,
saves stay fast and the sweep (`spark.sweep`) re-queues whatever is still pending.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from celery import Celery, current_app
from django.conf import settings
from django.utils import timezone

from listings_portal.lib.doorbell import Doorbell

from .models import DraftSync

logger = logging.getLogger(__name__)

# The Celery task names (mls/tasks.py); kept from the `spark` app so messages in flight still run.
SYNC_DRAFT_TASK = "spark.sync_draft"
PROMOTE_DRAFT_TASK = "spark.promote_draft"
REFRESH_METADATA_TASK = "mls.refresh_metadata"
PUSH_OPEN_HOUSE_TASK = "mls.push_open_house"
# A broker countdown never exceeds this; longer waits live in `next_attempt_at` and the sweep.
MAX_BROKER_COUNTDOWN = 60


def publish(draft_id: int, countdown: float = 0.0, *, app: Celery | None = None) -> None:
    """Send the task message (may block for the broker's timeouts: never call from a request).

    `app`: another Celery app (another broker) than the project's, e.g. in tests."""
    delay = max(0.0, countdown)
    if app is None:
        task = current_app.tasks[SYNC_DRAFT_TASK]
        task.apply_async(args=(draft_id,), retry=False, countdown=min(delay, MAX_BROKER_COUNTDOWN))
    else:
        app.send_task(
            SYNC_DRAFT_TASK, args=[draft_id], retry=False, countdown=min(delay, MAX_BROKER_COUNTDOWN)
        )


def publish_from_worker(draft_id: int, *, countdown: float = 0.0, mark: bool = True) -> None:
    """Queue a push from a worker or the sweep; records when, so the sweep does not repeat it."""
    try:
        publish(draft_id, countdown)
    except Exception:
        if not mark:
            raise
        logger.warning("draft %s: could not queue the next push; the sweep will", draft_id)
        return
    if mark:
        DraftSync.objects.filter(pk=draft_id).update(enqueued_at=timezone.now())


def request_metadata_refresh(mls_id: str) -> bool:
    """Queue a refresh of the MLS's metadata (an office admin's button); False when the broker
    does not take the message (the daily refresh still runs)."""
    try:
        current_app.tasks[REFRESH_METADATA_TASK].apply_async((mls_id,), retry=False)
    except Exception:
        logger.warning("could not queue the MLS metadata refresh", exc_info=True)
        return False
    return True


def doorbell_for(app: Celery | None = None, **options: Any) -> Doorbell:
    """A doorbell publishing sync messages through `app` (the project's when None)."""
    return Doorbell(lambda draft_id: publish(draft_id, app=app), **options)


doorbell = doorbell_for()
_active: list[Doorbell] = [doorbell]


@contextlib.contextmanager
def using(other: Doorbell) -> Iterator[Doorbell]:
    """Ring `other` instead of the process's doorbell for a while (tests, benchmarks)."""
    _active.append(other)
    try:
        yield other
    finally:
        _active.remove(other)


def ring(draft_id: int) -> None:
    """The listener `drafts.doorbell` calls after a change commits."""
    if settings.SYNC_ENQUEUE_ENABLED:
        _active[-1].ring(draft_id)


# --- Open houses (mls/open_houses.py): the same doorbell pattern, keyed by open house id ----------


def publish_open_house(open_house_id: int, countdown: float = 0.0) -> None:
    current_app.tasks[PUSH_OPEN_HOUSE_TASK].apply_async(
        args=(open_house_id,), retry=False, countdown=min(max(0.0, countdown), MAX_BROKER_COUNTDOWN)
    )


open_house_doorbell = Doorbell(publish_open_house)


def ring_open_house(open_house_id: int) -> None:
    """Called after the change of an open house commits (the sweep catches a lost ring)."""
    if settings.SYNC_ENQUEUE_ENABLED:
        open_house_doorbell.ring(open_house_id)
