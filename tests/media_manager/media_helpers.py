"""Helpers shared by the media manager's model, view, order and file tests."""

from __future__ import annotations

import io
import re
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from media_manager.models import Photo, ProcessingState, random_storage_name
from tests.media_manager import samples

STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp|heic|pdf)$")


def jpeg_bytes(width: int = 1600, height: int = 1200, *, seed: int = 0, quality: int = 88) -> bytes:
    buf = io.BytesIO()
    samples.photo_like(width, height, seed=seed).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


_SMALL_JPEGS: dict[tuple[int, int, int], bytes] = {}


def small_jpeg(seed: int = 0, size: tuple[int, int] = (1200, 900)) -> bytes:
    """A real photo-like JPEG, cached: big enough to pass without a resolution warning."""
    key = (seed, *size)
    if key not in _SMALL_JPEGS:
        _SMALL_JPEGS[key] = jpeg_bytes(*size, seed=seed)
    return _SMALL_JPEGS[key]


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def mark_processed(photo: Photo, *, data: bytes | None = None) -> Photo:
    """Give a photo a master and variants as the pipeline would (real JPEG bytes)."""
    data = data or jpeg_bytes(640, 480, seed=photo.pk)
    master = default_storage.save(random_storage_name("photos/masters", "jpg"), ContentFile(data))
    variants = {
        name: default_storage.save(random_storage_name("photos/variants", "jpg"), ContentFile(data))
        for name in ("large", "medium", "thumb")
    }
    Photo.objects.filter(pk=photo.pk).update(
        master=master, variants=variants, state=ProcessingState.READY, width=640, height=480
    )
    photo.refresh_from_db()
    return photo


def active_order(draft, model=Photo) -> list[int]:
    return list(model.objects.active().filter(draft=draft).order_by("position").values_list("pk", flat=True))


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []
