"""Bytes in, bytes out: decoding uploads, checking them, rotating and resizing photos (Pillow)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io

from django.db import IntegrityError, transaction
from PIL import Image, UnidentifiedImageError

from .config import option
from .envelope import invalid
from .models import Blob, Rendition
from .representation import VARIANT_BOXES

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


def decode_base64(text: object) -> bytes:
    if not isinstance(text, str) or not text.strip():
        raise invalid("Picture must be a base64 string")
    # Clients wrap base64 at 60/76 columns (the Ruby gem strips newlines; we accept both).
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("Picture is not valid base64") from None


def inspect_photo(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) of an acceptable photo; 400/1053 otherwise.

    Limits: docs/spark-protocol.md#open-photo-limits
    """
    if len(data) > option("photo_max_bytes"):
        raise invalid(f"The photo is larger than {option('photo_max_bytes')} bytes")
    try:
        # One open: format and size come from the header, and verify() is the first read of the data.
        with Image.open(io.BytesIO(data)) as image:
            image_format, (width, height) = image.format, image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise invalid("The file is not a readable image") from None
    if image_format not in option("photo_formats"):
        raise invalid(f"Photo format {image_format} is not accepted")
    if max(width, height) < option("photo_min_long_edge"):
        raise invalid(f"The photo's long edge is below {option('photo_min_long_edge')} pixels")
    return image_format, width, height


def sniff_document(data: bytes) -> str:
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return "application/octet-stream"


def check_document(data: bytes) -> str:
    """The content type of an acceptable document; 400/1053 otherwise.

    Limits: docs/spark-protocol.md#open-document-limits
    """
    if not data:
        raise invalid("The document is empty")
    if len(data) > option("document_max_bytes"):
        raise invalid(f"The document is larger than {option('document_max_bytes')} bytes")
    content_type = sniff_document(data)
    accepted = option("document_types")
    if "*" not in accepted and content_type not in accepted:
        raise invalid(f"Document type {content_type} is not accepted")
    return content_type


def store(data: bytes, content_type: str, width: int | None = None, height: int | None = None) -> Blob:
    digest = hashlib.sha256(data).hexdigest()
    # The bytes are known; only the row is needed (its id, sha256 and content type).
    existing = Blob.objects.filter(sha256=digest).defer("data").first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Blob.objects.create(
                sha256=digest,
                data=data,
                size=len(data),
                content_type=content_type,
                width=width,
                height=height,
            )
    except IntegrityError:  # another request stored the same bytes first
        return Blob.objects.defer("data").get(sha256=digest)


def check_photo(data: bytes) -> tuple[str, int, int]:
    """(content type, width, height) of an acceptable photo, the arguments ``store`` takes after the bytes."""
    image_format, width, height = inspect_photo(data)
    return CONTENT_TYPES.get(image_format, "application/octet-stream"), width, height


def store_photo(data: bytes) -> Blob:
    return store(data, *check_photo(data))


def rotate(blob: Blob, direction: str) -> Blob:
    angle = {"clockwise": -90, "counterclockwise": 90}[direction]
    with Image.open(io.BytesIO(bytes(blob.data))) as image:
        image_format = image.format or "JPEG"
        rotated = image.rotate(angle, expand=True)
    out = io.BytesIO()
    if image_format == "JPEG":
        rotated.convert("RGB").save(out, "JPEG", quality=92)
    else:
        rotated.save(out, image_format)
    return store(out.getvalue(), blob.content_type, rotated.width, rotated.height)


def rendition(blob: Blob, variant: str) -> tuple[bytes, str]:
    """The bytes for one ``Uri*`` size: fitted inside its box, never enlarged, cached in ``Rendition``."""
    box = VARIANT_BOXES[variant]
    if box is None:
        return bytes(blob.data), blob.content_type
    cached = Rendition.objects.filter(blob=blob, variant=variant).only("data").first()
    if cached is not None:
        return bytes(cached.data), "image/jpeg"
    with Image.open(io.BytesIO(bytes(blob.data))) as image:
        image.draft("RGB", box)
        resized = image.convert("RGB")
        resized.thumbnail(box, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    resized.save(out, "JPEG", quality=85)
    data = out.getvalue()
    try:
        with transaction.atomic():
            Rendition.objects.create(
                blob=blob, variant=variant, data=data, width=resized.width, height=resized.height
            )
    except IntegrityError:
        pass  # a concurrent request cached it first; both computed the same bytes
    return data, "image/jpeg"
