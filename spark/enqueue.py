"""The doorbell: tell a worker "look at draft N" without ever holding up a request.

The database already holds the change (`Draft.change_seq`); the message only makes the push
start now instead of at the next sweep. A request therefore never talks to the broker: the
after-commit hook hands the draft id to a background thread (a bounded, de-duplicated queue)
and returns at once. With Redis stopped or frozen, saves stay fast and succeed; the thread
keeps retrying, and the periodic sweep (spark.sweep) re-queues whatever is still pending.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)


def publish(draft_id: int, countdown: float = 0.0, *, app=None) -> None:
    """Send the task message (may block for the broker's timeouts: never call from a request).

    `app`: another Celery app (another broker) than the project's, e.g. in tests."""
    from .sync import MAX_BROKER_COUNTDOWN
    from .tasks import sync_draft

    delay = max(0.0, countdown)
    if app is None:
        sync_draft.apply_async(args=[draft_id], retry=False, countdown=min(delay, MAX_BROKER_COUNTDOWN))
    else:
        app.send_task(
            sync_draft.name, args=[draft_id], retry=False, countdown=min(delay, MAX_BROKER_COUNTDOWN)
        )


def publish_from_worker(draft_id: int, *, countdown: float = 0.0, mark: bool = True) -> None:
    """Queue a push from a worker or the sweep; records when, so the sweep does not repeat it."""
    from .models import DraftSync

    try:
        publish(draft_id, countdown)
    except Exception:
        if not mark:
            raise
        logger.warning("draft %s: could not queue the next push; the sweep will", draft_id)
        return
    if mark:
        DraftSync.objects.filter(pk=draft_id).update(enqueued_at=timezone.now())


class Doorbell:
    """A de-duplicated, bounded queue of draft ids drained by one daemon thread per process."""

    def __init__(
        self,
        send: Callable[[int], None] | None = None,
        *,
        app=None,
        maxsize: int = 10_000,
        retry_pause: float = 2.0,
    ) -> None:
        self._send = send or (lambda draft_id: publish(draft_id, app=app))
        self.maxsize = maxsize
        self.retry_pause = retry_pause
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._pending: dict[int, None] = {}
        self._busy = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.rung = 0
        self.published = 0
        self.failed = 0
        self.dropped = 0

    def ring(self, draft_id: int) -> None:
        """Never blocks on the broker; never raises for it."""
        if self._pid != os.getpid():
            # A forked web worker: the parent's thread and lock did not come along.
            self._reset()
        with self._cond:
            self.rung += 1
            if draft_id in self._pending:
                return
            if len(self._pending) >= self.maxsize:
                self.dropped += 1  # the sweep finds it
                return
            self._pending[draft_id] = None
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._drain, name="spark-doorbell", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _drain(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                draft_id = next(iter(self._pending))
                del self._pending[draft_id]
                self._busy = True
            try:
                self._send(draft_id)
            except Exception as error:
                with self._cond:
                    self.failed += 1
                    if draft_id not in self._pending and len(self._pending) < self.maxsize:
                        self._pending[draft_id] = None
                logger.warning(
                    "doorbell: could not publish draft %s (%s); retrying", draft_id, type(error).__name__
                )
                time.sleep(self.retry_pause)
            else:
                with self._cond:
                    self.published += 1
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    @property
    def pending(self) -> int:
        return len(self._pending) + (1 if self._busy else 0)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every ring so far was published (tests, shutdown). False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True


doorbell = Doorbell()
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
    if getattr(settings, "SYNC_ENQUEUE_ENABLED", True):
        _active[-1].ring(draft_id)
