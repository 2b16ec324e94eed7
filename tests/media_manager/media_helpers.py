"""Helpers shared by the media manager's model, view, order and file tests."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from media_manager.models import Document, Photo, ProcessingState, random_storage_name
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


def add_photo(draft, by, *, name: str = "photo.jpg", data: bytes | None = None) -> Photo:
    """A photo as an accepted upload leaves it: original in storage, queued (not processed)."""
    data = data if data is not None else small_jpeg()
    stored = default_storage.save(random_storage_name("photos/originals", "jpg"), ContentFile(data))
    return Photo.add(
        draft,
        by=by,
        original_name=name,
        stored_name=stored,
        original_format="jpg",
        original_size=len(data),
        original_sha256=hashlib.sha256(data).hexdigest(),
        width=1200,
        height=900,
    )


def add_bare_photo(draft, by, name: str = "photo.jpg") -> Photo:
    """A photo row without a stored file: enough for order and primary tests."""
    return Photo.add(
        draft,
        by=by,
        original_name=name,
        stored_name=f"photos/originals/{uuid.uuid4().hex}.jpg",
        original_format="jpg",
        original_size=1,
        original_sha256="",
    )


def mark_processed(photo: Photo, *, data: bytes | None = None) -> Photo:
    """Give a photo a master and variants as the pipeline would (real JPEG bytes)."""
    from media_manager.models import random_storage_name as fresh

    data = data or jpeg_bytes(640, 480, seed=photo.pk)
    master = default_storage.save(fresh("photos/masters", "jpg"), ContentFile(data))
    variants = {
        name: default_storage.save(fresh("photos/variants", "jpg"), ContentFile(data))
        for name in ("large", "medium", "thumb")
    }
    Photo.objects.filter(pk=photo.pk).update(
        master=master, variants=variants, state=ProcessingState.READY, width=640, height=480
    )
    photo.refresh_from_db()
    return photo


def add_document(draft, by, *, name: str = "Survey", data: bytes | None = None) -> Document:
    data = data if data is not None else samples.pdf_plain()
    stored = default_storage.save(random_storage_name("documents", "pdf"), ContentFile(data))
    return Document.add(
        draft,
        by=by,
        original_name=f"{name}.pdf",
        stored_name=stored,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        pages=1,
        name=name,
    )


def active_order(draft, model=Photo) -> list[int]:
    return list(model.objects.active().filter(draft=draft).order_by("position").values_list("pk", flat=True))


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []
