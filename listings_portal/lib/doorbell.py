"""The doorbell: a background publisher, so a request never waits on the message broker.

A request's after-commit hook rings with an id and returns at once; one daemon thread per
process sends the ids (de-duplicated, bounded) and keeps retrying while the broker is down.
Whatever is lost is found by a periodic sweep of the database, which is the record. Why a
background thread rather than `delay_on_commit`: docs/decisions.md.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

# Ids waiting at most; past that a ring is dropped (the sweep finds it).
DEFAULT_MAXSIZE = 10_000
# Seconds between tries while `send` fails.
DEFAULT_RETRY_PAUSE = 2.0


class Doorbell:
    """A de-duplicated, bounded queue of ids drained by one daemon thread per process, which
    hands each to `send` (retrying every `retry_pause` seconds while `send` raises)."""

    def __init__(
        self,
        send: Callable[[int], None],
        *,
        maxsize: int = DEFAULT_MAXSIZE,
        retry_pause: float = DEFAULT_RETRY_PAUSE,
    ) -> None:
        self._send = send
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

    def ring(self, item_id: int) -> None:
        """Never blocks on the broker; never raises for it."""
        if self._pid != os.getpid():
            # A forked web worker: the parent's thread and lock did not come along.
            self._reset()
        with self._cond:
            self.rung += 1
            if item_id in self._pending:
                return
            if len(self._pending) >= self.maxsize:
                self.dropped += 1  # the sweep finds it
                return
            self._pending[item_id] = None
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._drain, name="doorbell", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _drain(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                item_id = next(iter(self._pending))
                del self._pending[item_id]
                self._busy = True
            try:
                self._send(item_id)
            except Exception as error:
                with self._cond:
                    self.failed += 1
                    if item_id not in self._pending and len(self._pending) < self.maxsize:
                        self._pending[item_id] = None
                logger.warning("doorbell: could not publish %s (%s); retrying", item_id, type(error).__name__)
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
