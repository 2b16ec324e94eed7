"""Celery tasks of the media manager: thin, idempotent, each taking an id.

`process_photo(photo_id)` runs the sandboxed pipeline for one photo; delivering it twice,
or for a photo that was trashed, rotated or replaced meanwhile, does no harm (see
`Photo.claim_for_processing` / `finish_processing`). The request path never talks to the
broker: after commit it rings `processing_doorbell` (listings_portal/lib/doorbell.py: a bounded,
de-duplicated queue drained by a background thread), so a stopped or frozen Redis cannot hold
up an upload. The photo is already recorded as queued in the database; if the message is
lost (the process dies, the broker stays down), `requeue_stuck_photos` (beat, every minute,
and the media page's polling) sends it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator

from celery import shared_task
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from listings_portal.celery import RETRY_WHEN_DATABASE_IS_GONE
from listings_portal.lib.doorbell import Doorbell

from .checks import MediaLimits, UploadRejected
from .isolation import process_photo_isolated
from .models import Photo, ProcessingState, random_storage_name
from .storage_io import local_copy

logger = logging.getLogger(__name__)

# A publish (never from a request: docs/decisions.md#background-doorbell-not-delay-on-commit)
# waits at most this for a producer; connecting is bounded by CELERY_BROKER_CONNECTION_TIMEOUT.
PUBLISH_TIMEOUT_SECONDS = 0.5
COULD_NOT_PROCESS = "This photo could not be processed. Please export it again and upload the new copy."


def publish_processing(photo_id: int, *, app=None) -> None:
    """Send the processing message; raises if the broker cannot take it. It may wait for the
    broker's connect and socket timeouts: never call it from a request.

    `app`: another Celery app (another broker) than the project's, e.g. in tests."""
    if app is None:
        process_photo.apply_async(args=[photo_id], retry=False, timeout=PUBLISH_TIMEOUT_SECONDS)
    else:
        app.send_task(process_photo.name, args=[photo_id], retry=False)


def enqueue_processing(photo_id: int) -> bool:
    """Ask a worker to process the photo now, in this thread; False (logged) if the broker
    could not be told. Never raises and never retries: the database already says the photo is
    queued. Blocks for the broker's timeouts at worst: requests use `enqueue_processing_soon`."""
    try:
        publish_processing(photo_id)
    except Exception:
        logger.warning(
            "Could not queue photo %s for processing; it will be re-queued", photo_id, exc_info=True
        )
        return False
    return True


# One per process, its thread started on the first ring (and again in a forked child). A send
# that fails is retried by the thread every 2 s; the stuck-photo sweep covers a lost process.
processing_doorbell = Doorbell(publish_processing)
_active: list[Doorbell] = [processing_doorbell]


@contextlib.contextmanager
def using(other: Doorbell) -> Iterator[Doorbell]:
    """Ring `other` instead of the process's processing doorbell for a while (tests, benchmarks):
    its thread then never touches the project app's connection pools."""
    _active.append(other)
    try:
        yield other
    finally:
        _active.remove(other)


def enqueue_processing_soon(photo_id: int) -> None:
    """Queue the photo for processing without waiting for the broker (called after commit)."""
    if process_photo.app.conf.task_always_eager:
        # Eager Celery (tests, a demo without a worker) has no broker to wait for, and its
        # callers expect the task to have run when the request returns.
        enqueue_processing(photo_id)
        return
    _active[-1].ring(photo_id)


@shared_task(
    acks_late=True, time_limit=300, soft_time_limit=270, ignore_result=True, **RETRY_WHEN_DATABASE_IS_GONE
)
def process_photo(photo_id: int) -> str:
    """Process one photo from its original; idempotent. Returns what happened."""
    photo = Photo.claim_for_processing(photo_id)
    if photo is None:
        return "skipped"
    image_version = photo.image_version
    try:
        with local_copy(photo.original.name) as source:
            # The upload handler hashed the original as it arrived: no second read to hash it.
            result = process_photo_isolated(
                source,
                rotate_quarter_turns=photo.rotation,
                limits=MediaLimits.from_settings(),
                source_sha256=photo.original_sha256 or None,
            )
    except UploadRejected as rejected:
        photo.reject_processing(rejected.reason, image_version=image_version)
        return "rejected"
    except FileNotFoundError:
        logger.exception("Original of photo %s is missing", photo_id)
        photo.reject_processing(COULD_NOT_PROCESS, image_version=image_version)
        return "rejected"
    except Exception:
        # Not the file's fault as far as we know (storage, a bug): queue it again; the
        # attempt limit turns a failure that keeps happening into a rejection.
        logger.exception("Processing photo %s failed; it will be tried again", photo_id)
        photo.release_after_failure(image_version=image_version)
        return "failed"

    try:
        master_name, variant_names = _store_outputs(result.master, result.variants)
    except Exception:
        # The storage failed (S3 unreachable, a full disk): nothing half-stored is kept, and
        # the photo goes back to the queue as for any failure that is not the file's.
        logger.exception("Storing the outputs of photo %s failed; it will be tried again", photo_id)
        photo.release_after_failure(image_version=image_version)
        return "failed"
    recorded = photo.finish_processing(
        image_version=image_version,
        master_name=master_name,
        variant_names=variant_names,
        width=result.width,
        height=result.height,
        sha256=hashlib.sha256(result.master).hexdigest(),
        phash=result.phash,
    )
    if not recorded:
        # Rotated, replaced or trashed while we worked: a newer run owns the picture.
        for name in [master_name, *variant_names.values()]:
            default_storage.delete(name)
        return "superseded"
    return ProcessingState.READY


def _store_outputs(master: bytes, variants: dict[str, bytes]) -> tuple[str, dict[str, str]]:
    """Save the master and the variants in private storage; on a failure delete what was
    saved before raising."""
    saved: list[str] = []
    try:
        master_name = default_storage.save(random_storage_name("photos/masters", "jpg"), ContentFile(master))
        saved.append(master_name)
        variant_names: dict[str, str] = {}
        for variant, data in variants.items():
            variant_names[variant] = default_storage.save(
                random_storage_name("photos/variants", "jpg"), ContentFile(data)
            )
            saved.append(variant_names[variant])
    except Exception:
        for name in saved:
            with contextlib.suppress(Exception):
                default_storage.delete(name)
        raise
    return master_name, variant_names


@shared_task(ignore_result=True)
def requeue_stuck_photos() -> int:
    """Periodic: queue again the photos a lost message or a dead worker left behind."""
    return len(Photo.requeue_stuck())
