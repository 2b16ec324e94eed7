"""Ask for a photo to be processed once the transaction commits.

The models record that a photo waits (state "uploaded", `queued_at`) and ask here; the
Celery side, `media_manager.tasks`, sits above the models and plugs its sender in at start-up
(`MediaManagerConfig.ready`), so the models never import the tasks. A photo asked for with
no sender plugged in is not lost: the stuck-photo sweep finds it by its state.
"""

from collections.abc import Callable

from django.db import transaction

_senders: list[Callable[[int], None]] = []


def connect(sender: Callable[[int], None]) -> None:
    if sender not in _senders:
        _senders.append(sender)


def send(photo_id: int) -> None:
    for sender in list(_senders):
        sender(photo_id)


def send_after_commit(photo_id: int) -> None:
    # Robust: a sender that fails is logged, and the save that asked stays saved (the sweep retries).
    transaction.on_commit(lambda: send(photo_id), robust=True)
