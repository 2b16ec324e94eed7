"""Tell whoever pushes drafts to the remote that a draft changed.

The database already records the change (`Draft.change_seq`); this only rings after
commit so the push starts at once. The sync engine registers its listener at start-up
(drafts must not import spark). A listener that fails is logged, never raised: the
periodic sweep finds what a missed ring left behind, and a save must not fail for it.
"""

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

_listeners: list[Callable[[int], None]] = []


def listen(listener: Callable[[int], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def ring(draft_id: int) -> None:
    for listener in list(_listeners):
        try:
            listener(draft_id)
        except Exception:
            logger.exception("Doorbell listener failed for draft %s; the sweep will catch up", draft_id)


def ring_after_commit(draft_id: int) -> None:
    transaction.on_commit(lambda: ring(draft_id))
