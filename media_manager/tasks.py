"""Celery tasks of the media manager: thin, idempotent, each taking an id.

`process_photo(photo_id)` runs the sandboxed pipeline for one photo; delivering it twice,
or for a photo that was trashed, rotated or replaced meanwhile, does no harm (see
`Photo.claim_for_processing` / `finish_processing`). The request path sends it after commit
through `enqueue_processing`, which never raises: when the broker is down the photo stays
queued in the database and `requeue_stuck_photos` (beat, and the media page's polling)
sends it again.
"""

from __future__ import annotations

import hashlib
import logging

from celery import shared_task
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from .checks import MediaLimits, UploadRejected
from .models import Photo, ProcessingState, random_storage_name
from .uploads import local_path

logger = logging.getLogger(__name__)

# A request never waits longer than this for the broker (RELIABILITY §1.1); connecting is
# bounded by CELERY_BROKER_CONNECTION_TIMEOUT and the transport's socket timeouts.
PUBLISH_TIMEOUT_SECONDS = 0.5
COULD_NOT_PROCESS = "This photo could not be processed. Please export it again and upload the new copy."


def enqueue_processing(photo_id: int) -> bool:
    """Ask a worker to process the photo; False (logged) if the broker could not be told.
    Never raises and never retries: the database already says the photo is queued."""
    try:
        process_photo.apply_async(args=[photo_id], retry=False, timeout=PUBLISH_TIMEOUT_SECONDS)
    except Exception:
        logger.warning(
            "Could not queue photo %s for processing; it will be re-queued", photo_id, exc_info=True
        )
        return False
    return True


@shared_task(acks_late=True, time_limit=300, soft_time_limit=270, ignore_result=True)
def process_photo(photo_id: int) -> str:
    """Process one photo from its original; idempotent. Returns what happened."""
    photo = Photo.claim_for_processing(photo_id)
    if photo is None:
        return "skipped"
    from . import pipeline  # heavy (Pillow, colour profiles): only when there is work

    image_version = photo.image_version
    try:
        with local_path(photo.original.name) as source:
            result = pipeline.process_photo_isolated(
                source, rotate_quarter_turns=photo.rotation, limits=MediaLimits.from_settings()
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

    master_name = default_storage.save(
        random_storage_name("photos/masters", "jpg"), ContentFile(result.master)
    )
    variant_names = {
        variant: default_storage.save(random_storage_name("photos/variants", "jpg"), ContentFile(data))
        for variant, data in result.variants.items()
    }
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


@shared_task(ignore_result=True)
def requeue_stuck_photos() -> int:
    """Periodic: queue again the photos a lost message or a dead worker left behind."""
    return len(Photo.requeue_stuck())
