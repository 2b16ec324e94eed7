"""Upload checks: what a file really is, and whether we take it.

Pure functions over a file path and a `MediaLimits`; no Django models, no storage. The
verdict comes from the bytes, never from the file name or the browser's content type:

- `inspect_photo(path, limits)` accepts JPEG, PNG, WebP and HEIC/HEIF only, checks the
  byte size, then the pixel size from the header *before* any pixel is decoded
  (decompression bombs stop here), then decodes once, cheaply, to refuse damaged files.
- `inspect_pdf(path, limits)` accepts plain PDFs: no encryption, no scripts, no launch
  actions, no attachments, no rich media, no XFA, no automatic actions, bounded pages.

Both raise `UploadRejected(code, reason)`; `reason` is a plain sentence the agent can act
on, `code` a short stable string for logs, tests and branching (see `RejectCode`).

Decoders are the riskiest code we run on user input: in production call these through
`media_manager.isolation` (`inspect_photo_isolated`, `inspect_pdf_isolated`), which runs
them in a child process with memory and CPU limits.
"""

from __future__ import annotations

import enum
import logging
import os
import struct
import warnings
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Iterator

    from PIL import Image as PILImage

# Pillow, pillow-heif, pypdf and Django are imported in the functions that use them: the
# isolated child that runs one check loads only that check's decoder (start-up is per file).

PhotoFormat = Literal["jpeg", "png", "webp", "heif"]

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """Every limit the checks and the pipeline apply; defaults mirror settings.py."""

    photo_max_bytes: int = 25 * MiB
    photo_max_pixels: int = 40_000_000
    photo_max_side: int = 12_000
    photo_min_long_edge_warning: int = 1024
    photo_master_long_edge: int = 2048
    photo_master_max_bytes: int = 5 * MiB
    document_max_bytes: int = 20 * MiB
    document_max_pages: int = 200
    document_max_objects: int = 100_000

    @classmethod
    def from_settings(cls) -> MediaLimits:
        from django.conf import settings

        defaults = cls()
        return cls(
            **{
                name: getattr(settings, name.upper(), getattr(defaults, name))
                for name in cls.__dataclass_fields__
            }
        )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class RejectCode(enum.StrEnum):
    TYPE = "type"  # not a format we take (SVG, TIFF, animated, PDF as photo, ...)
    SIZE = "size"  # too many bytes, or none
    PIXELS = "pixels"  # too many pixels or too long a side
    BOMB = "bomb"  # claims far more pixels (or text) than its bytes can honestly hold
    CORRUPT = "corrupt"  # the format is right but the data is damaged or truncated
    ENCRYPTED = "encrypted"  # password-protected PDF
    ACTIVE_CONTENT = "active_content"  # PDF scripts, launch/automatic actions, rich media, XFA
    ATTACHMENT = "attachment"  # PDF with files embedded in it
    PAGES = "pages"  # PDF with too many pages (or none)
    TOO_COMPLEX = "too_complex"  # PDF with too many objects
    PROCESSING_FAILED = "processing_failed"  # the sandboxed child died or ran out of time/memory


class UploadRejected(Exception):
    """A file we refuse, with a reason in plain words for the agent who uploaded it."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(code, reason)
        self.code = RejectCode(code)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


@dataclass(frozen=True, slots=True)
class PhotoInspection:
    """What a photo is. `width`/`height` are as displayed (EXIF orientation applied)."""

    format: PhotoFormat
    width: int
    height: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PdfInspection:
    pages: int


# ---------------------------------------------------------------------------------------
# Type sniffing
# ---------------------------------------------------------------------------------------

PHOTO_FORMATS: tuple[PhotoFormat, ...] = ("jpeg", "png", "webp", "heif")
PILLOW_FORMAT: dict[str, str] = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heif": "HEIF"}
FORMAT_LABEL = {"jpeg": "JPEG", "png": "PNG", "webp": "WebP", "heif": "HEIC"}
SNIFF_BYTES = 4096

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_HEIF_GENERIC_BRANDS = {b"mif1", b"msf1", b"mif2", b"heif"}
_AVIF_BRANDS = {b"avif", b"avis"}

_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "png"),
    (0, b"%PDF-", "pdf"),
    (0, b"GIF87a", "gif"),
    (0, b"GIF89a", "gif"),
    (0, b"BM", "bmp"),
    (0, b"II*\x00", "tiff"),
    (0, b"MM\x00*", "tiff"),
    (0, b"II+\x00", "tiff"),
    (0, b"MM\x00+", "tiff"),
    (0, b"8BPS", "psd"),
    (0, b"\xc5\xd0\xd3\xc6", "eps"),
    (0, b"DDS ", "dds"),
    (0, b"BLP1", "blp"),
    (0, b"BLP2", "blp"),
    (0, b"icns", "icns"),
    (0, b"\x00\x00\x01\x00", "ico"),
    (0, b"\x00\x00\x02\x00", "ico"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jpeg2000"),
    (0, b"\xff\x4f\xff\x51", "jpeg2000"),
    (0, b"\xff\x0a", "jpegxl"),
    (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jpegxl"),
    (0, b"qoif", "qoi"),
    (0, b"\x8aMNG", "mng"),
    (0, b"PK\x03\x04", "zip"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "office"),
    (0, b"\x7fELF", "program"),
    (0, b"MZ", "program"),
    (0, b"Rar!", "archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "archive"),
    (0, b"\x1f\x8b", "archive"),
)

_WHAT_IT_IS = {
    "svg": "an SVG drawing",
    "html": "a web page (HTML)",
    "xml": "an XML document",
    "postscript": "a PostScript file",
    "eps": "an EPS drawing",
    "pdf": "a PDF document",
    "gif": "a GIF image",
    "bmp": "a BMP image",
    "tiff": "a TIFF image",
    "psd": "a Photoshop document (PSD)",
    "dds": "a DDS game texture",
    "blp": "a BLP game texture",
    "icns": "a macOS icon",
    "ico": "a Windows icon",
    "jpeg2000": "a JPEG 2000 image",
    "jpegxl": "a JPEG XL image",
    "avif": "an AVIF image",
    "qoi": "a QOI image",
    "mng": "an MNG animation",
    "video": "a video",
    "zip": "a ZIP archive (or an Office document)",
    "office": "an Office document",
    "program": "a program",
    "archive": "a compressed archive",
    "text": "a text file",
    "fli": "an FLI animation",
    "unknown": "not a file we recognise",
}

PHOTO_ADVICE = "Upload a JPEG, PNG, WebP or HEIC photo."
_EXTRA_ADVICE = {
    "pdf": "Add it under Documents instead, or export the page as a JPEG.",
    "psd": "Export it from Photoshop as a JPEG.",
    "tiff": "Export it as a JPEG.",
    "avif": "Export it as a JPEG.",
}


def sniff(head: bytes) -> str:
    """The file type from its first bytes: a photo format or a label for a refused type."""
    for offset, magic, kind in _MAGIC:
        if head.startswith(magic, offset):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return _sniff_iso_media(head)
    if len(head) > 6 and head[4:6] in (b"\x11\xaf", b"\x12\xaf"):
        return "fli"
    return _sniff_text(head)


def _sniff_iso_media(head: bytes) -> str:
    box_size = struct.unpack(">I", head[:4])[0]
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    if major in _HEIF_BRANDS or (major in _HEIF_GENERIC_BRANDS and brands & _HEIF_BRANDS):
        return "heif"
    if brands & _AVIF_BRANDS:
        return "avif"
    if major in _HEIF_GENERIC_BRANDS:
        return "heif"
    return "video"


def _sniff_text(head: bytes) -> str:
    text = head
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        if text.startswith(bom):
            text = text[len(bom) :]
            if bom != b"\xef\xbb\xbf":
                text = text.replace(b"\x00", b"")
    lowered = text.lstrip(b" \t\r\n\x0c").lower()
    if lowered.startswith(b"%!ps"):
        first_line = lowered.split(b"\n", 1)[0]
        return "eps" if b"epsf" in first_line else "postscript"
    if lowered.startswith(b"<"):
        if b"<svg" in lowered:
            return "svg"
        if any(
            tag in lowered
            for tag in (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe")
        ):
            return "html"
        if lowered.startswith(b"<?xml") or lowered.startswith(b"<!doctype"):
            return "xml"
        return "html"
    if text and all(32 <= b < 127 or b in b"\t\r\n\x0c" for b in text[:512]):
        return "text"
    return "unknown"


def _not_a_photo(kind: str) -> UploadRejected:
    what = _WHAT_IT_IS.get(kind, _WHAT_IT_IS["unknown"])
    extra = _EXTRA_ADVICE.get(kind)
    reason = f"This file is {what}, not a photo we can use. " + (f"{extra} " if extra else "") + PHOTO_ADVICE
    if kind == "unknown":
        reason = f"We could not recognise this file as a photo. {PHOTO_ADVICE}"
    return UploadRejected(RejectCode.TYPE, reason)


# ---------------------------------------------------------------------------------------
# Photos
# ---------------------------------------------------------------------------------------

# Past this many pixels per byte of file, an over-limit image is a bomb, not a big photo:
# camera JPEGs hold 0.2-3 pixels per byte, a blank PNG about a thousand.
_BOMB_PIXELS_PER_BYTE = 100
_heif_registered = False


def register_heif() -> None:
    """Teach Pillow to open HEIC/HEIF (idempotent; imported lazily: pillow-heif is heavy)."""
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        # Thumbnails, depth maps and auxiliary images are never used: do not parse them.
        pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
        _heif_registered = True


def _dimensions(width: int, height: int) -> str:
    return f"{width:,} \N{MULTIPLICATION SIGN} {height:,}"


def _mb(n: int) -> str:
    return f"{n / MiB:.1f} MB"


def _check_byte_size(size: int, limit: int, noun: str) -> None:
    if size == 0:
        raise UploadRejected(RejectCode.SIZE, "The file is empty. Choose the file again and re-upload it.")
    if size > limit:
        raise UploadRejected(
            RejectCode.SIZE,
            f"This {noun} is {_mb(size)}; the limit is {_mb(limit)}. Export a smaller copy and upload that.",
        )


def _check_dimensions(width: int, height: int, file_size: int, limits: MediaLimits) -> None:
    pixels = width * height
    if pixels <= limits.photo_max_pixels and max(width, height) <= limits.photo_max_side:
        return
    if pixels >= _BOMB_PIXELS_PER_BYTE * max(file_size, 1):
        raise UploadRejected(
            RejectCode.BOMB,
            f"This file claims to be {_dimensions(width, height)} pixels but holds only {file_size:,} bytes, "
            "which is how decompression bombs look, so we refused it. "
            "If it is a real photo, export it again from your photo app.",
        )
    raise UploadRejected(
        RejectCode.PIXELS,
        f"This photo is {_dimensions(width, height)} pixels ({pixels / 1e6:.0f} megapixels); the limit is "
        f"{limits.photo_max_pixels / 1e6:.0f} megapixels and {limits.photo_max_side:,} pixels on the "
        "longest side. Resize it and upload it again.",
    )


def _corrupt(kind: str) -> UploadRejected:
    return UploadRejected(
        RejectCode.CORRUPT,
        f"This {FORMAT_LABEL.get(kind, kind)} file could not be read completely; it is damaged or "
        "incomplete. Export or download it again and re-upload.",
    )


def _webp_header_size(head: bytes) -> tuple[int, int] | None:
    # libwebp allocates the whole canvas when the decoder is created, before Pillow's
    # own size check can run with our limit, so read the size ourselves first.
    chunk = head[12:16]
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = struct.unpack("<I", head[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(head) >= 30:
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


_CONTAINED_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    struct.error,
    EOFError,
)


class DecodeGuard:
    """Maps Pillow's failure modes on hostile input to `UploadRejected`.

    DecompressionBombWarning becomes an error; MemoryError becomes `processing_failed`
    rather than a crash of the caller.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._warnings = warnings.catch_warnings()

    def __enter__(self) -> None:
        from PIL import Image

        self._warnings.__enter__()
        warnings.simplefilter("error", Image.DecompressionBombWarning)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        from PIL import Image

        self._warnings.__exit__(exc_type, exc, tb)
        if exc_type is None or isinstance(exc, UploadRejected):
            return False
        if isinstance(exc, Image.DecompressionBombWarning | Image.DecompressionBombError):
            raise UploadRejected(
                RejectCode.BOMB,
                "This image claims far more pixels than a photo has (a decompression bomb), so we "
                f"refused it. {PHOTO_ADVICE}",
            ) from exc
        if isinstance(exc, ValueError) and "too large" in str(exc):
            # Pillow's cap on compressed text chunks: a text bomb inside a PNG.
            raise UploadRejected(
                RejectCode.BOMB, f"This image carries oversized hidden data, so we refused it. {PHOTO_ADVICE}"
            ) from exc
        if isinstance(exc, MemoryError):
            # Our memory cap, not necessarily a bad file: say so rather than blame the file.
            raise UploadRejected(
                RejectCode.PROCESSING_FAILED,
                "We could not process this photo: decoding it needs more memory than we allow. "
                "Export a smaller copy as a JPEG and re-upload it.",
            ) from exc
        if isinstance(exc, (Image.UnidentifiedImageError, *_CONTAINED_ERRORS)):
            raise _corrupt(self.kind) from exc
        return False


@dataclass(slots=True)
class OpenedPhoto:
    """A photo opened (header parsed, no pixels decoded) and checked against the limits."""

    image: PILImage.Image
    format: PhotoFormat
    file_size: int
    orientation: int

    @property
    def display_size(self) -> tuple[int, int]:
        w, h = self.image.size
        return (h, w) if self.orientation in (5, 6, 7, 8) else (w, h)


def open_photo(path: str | os.PathLike[str], limits: MediaLimits) -> OpenedPhoto:
    """Sniff, size-check and open a photo without decoding pixels. Used by the pipeline.

    The caller owns `result.image` and must close it.
    """
    file_size = os.stat(path).st_size
    _check_byte_size(file_size, limits.photo_max_bytes, "photo")
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    kind = sniff(head)
    if kind not in PHOTO_FORMATS:
        raise _not_a_photo(kind)
    if kind == "webp" and (size := _webp_header_size(head)):
        _check_dimensions(*size, file_size, limits)
    if kind == "heif":
        register_heif()

    from PIL import Image

    with DecodeGuard(kind):
        image = Image.open(path, formats=[PILLOW_FORMAT[kind]])
        try:
            _check_dimensions(*image.size, file_size, limits)
            if getattr(image, "is_animated", False) and kind in ("png", "webp"):
                raise UploadRejected(
                    RejectCode.TYPE,
                    f"This is an animated {FORMAT_LABEL[kind]}; listings take still photos only. "
                    "Upload one frame as a JPEG or PNG.",
                )
            orientation = _orientation(image)
        except BaseException:
            image.close()
            raise
    return OpenedPhoto(image=image, format=kind, file_size=file_size, orientation=orientation)  # type: ignore[arg-type]


def _orientation(image: PILImage.Image) -> int:
    # pillow-heif applies HEIF transforms itself and reports orientation 1 here.
    value = image.getexif().get(0x0112, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def inspect_photo(path: str | os.PathLike[str], limits: MediaLimits) -> PhotoInspection:
    """Accept or refuse an uploaded photo; raises `UploadRejected`.

    Checks, in order, each before any costlier step: byte size; the real type from the
    bytes (JPEG, PNG, WebP, HEIC/HEIF; never from the name); pixel count and longest side
    from the header; animation; then that the file is whole: a JPEG's markers up to its
    first scan and an end-of-image marker after it (a structure check of microseconds, the
    pixels are decoded once, in the worker, which refuses damaged scan data with the same
    message); other formats are decoded completely (PNG's chunk CRCs verified too). So
    truncated files are refused here rather than in the worker. A low resolution is a
    warning, not a refusal.
    """
    opened = open_photo(path, limits)
    width, height = opened.display_size
    with opened.image as image, DecodeGuard(opened.format):
        if opened.format == "jpeg":
            # The worker's decode refuses a damaged scan with this same message; decoding
            # here too would double the CPU of every photo to find what it finds anyway.
            if not jpeg_scan_is_complete(path):
                raise _corrupt("jpeg")
        else:
            if opened.format == "png":
                _verify_png(path)
            image.load()
    found = [warning] if (warning := low_resolution_warning(width, height, limits)) else []
    return PhotoInspection(format=opened.format, width=width, height=height, warnings=found)


_EOI = b"\xff\xd9"
_SOS = 0xDA
# Markers without a length field: TEM, RST0-7 (SOI and EOI are handled around the walk).
_STANDALONE_MARKERS = {0x01, *range(0xD0, 0xD8)}


def jpeg_scan_is_complete(path: str | os.PathLike[str]) -> bool:
    """True when the JPEG's segments chain properly from SOI to its first scan (SOS) and an
    end-of-image marker follows it. Entropy-coded data cannot hold 0xFF 0xD9 (0xFF is
    stuffed as 0xFF 0x00), so a file cut anywhere in its scans has no EOI after them; EXIF
    thumbnails end before the scan. Reads the headers and the file's tail only."""
    import mmap

    with open(path, "rb") as f:
        try:
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # empty file
            return False
    with data:
        if data[:2] != b"\xff\xd8":
            return False
        i = 2
        while True:
            while i < len(data) and data[i] == 0xFF and i + 1 < len(data) and data[i + 1] == 0xFF:
                i += 1  # fill bytes
            if i + 4 > len(data) or data[i] != 0xFF:
                return False
            marker = data[i + 1]
            if marker in _STANDALONE_MARKERS:
                i += 2
                continue
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if length < 2:
                return False
            if marker == _SOS:
                scan_start = i + 2 + length
                return scan_start < len(data) and data.rfind(_EOI, scan_start) >= 0
            i += 2 + length


def low_resolution_warning(width: int, height: int, limits: MediaLimits) -> str | None:
    if max(width, height) >= limits.photo_min_long_edge_warning:
        return None
    return (
        f"This photo is only {_dimensions(width, height)} pixels; listing sites show photos best at "
        f"{limits.photo_min_long_edge_warning:,} pixels or more on the long side. It was accepted."
    )


def _verify_png(path: str | os.PathLike[str]) -> None:
    # verify() checks every chunk CRC, which a plain load skips for image data.
    from PIL import Image

    with Image.open(path, formats=["PNG"]) as fresh:
        fresh.verify()


# ---------------------------------------------------------------------------------------
# PDFs
# ---------------------------------------------------------------------------------------

_PDF_ADVICE = "Print it to a new PDF (File → Print → Save as PDF) and upload that copy."
_ACTIVE_KEYS: dict[str, tuple[RejectCode, str]] = {
    "/JavaScript": (RejectCode.ACTIVE_CONTENT, "This PDF contains JavaScript."),
    "/JS": (RejectCode.ACTIVE_CONTENT, "This PDF contains JavaScript."),
    "/Launch": (RejectCode.ACTIVE_CONTENT, "This PDF tries to open other programs or files."),
    "/EmbeddedFile": (RejectCode.ATTACHMENT, "This PDF has files attached inside it."),
    "/EmbeddedFiles": (RejectCode.ATTACHMENT, "This PDF has files attached inside it."),
    "/RichMedia": (RejectCode.ACTIVE_CONTENT, "This PDF contains embedded media (Flash, video or 3D)."),
    "/RichMediaContent": (
        RejectCode.ACTIVE_CONTENT,
        "This PDF contains embedded media (Flash, video or 3D).",
    ),
    "/XFA": (RejectCode.ACTIVE_CONTENT, "This PDF is an XFA form, which most viewers cannot show."),
    "/AA": (
        RejectCode.ACTIVE_CONTENT,
        "This PDF runs actions automatically (when opened, closed or viewed).",
    ),
}
_ACTIVE_ACTIONS = {
    "/JavaScript": "This PDF contains JavaScript.",
    "/Launch": "This PDF tries to open other programs or files.",
    "/ImportData": "This PDF imports data from other files.",
    "/RichMediaExecute": "This PDF contains embedded media (Flash, video or 3D).",
    "/GoToE": "This PDF has files attached inside it.",
}
# Harmless when a reader clicks a link, not when they run by themselves on opening.
_OPEN_ACTIONS = {
    "/URI": "This PDF opens a web address as soon as it is opened.",
    "/SubmitForm": "This PDF sends form data to a web address as soon as it is opened.",
    "/GoToR": "This PDF opens another file as soon as it is opened.",
    "/Rendition": "This PDF plays sound or video as soon as it is opened.",
    "/Sound": "This PDF plays sound or video as soon as it is opened.",
    "/Movie": "This PDF plays sound or video as soon as it is opened.",
}
_ACTIVE_SUBTYPES = {
    "/RichMedia": (RejectCode.ACTIVE_CONTENT, "This PDF contains embedded media (Flash, video or 3D)."),
    "/FileAttachment": (RejectCode.ATTACHMENT, "This PDF has files attached inside it."),
}


def inspect_pdf(path: str | os.PathLike[str], limits: MediaLimits) -> PdfInspection:
    """Accept or refuse an uploaded PDF; raises `UploadRejected`.

    Refuses: not starting with `%PDF-`, over the byte limit, encrypted (even when it opens
    without a password), more objects than `document_max_objects`, no pages or more than
    `document_max_pages`, and anything active anywhere in the file: JavaScript, Launch,
    ImportData, embedded files, rich media, XFA, /AA, and an /OpenAction that does more than
    show a page of this file (a destination, or a GoTo action to one, is fine). Names are compared after
    PDF #-escapes are decoded, and every object in the file is examined, reachable or not.
    """
    file_size = os.stat(path).st_size
    _check_byte_size(file_size, limits.document_max_bytes, "PDF")
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if not head.startswith(b"%PDF-"):
        kind = sniff(head)
        what = _WHAT_IT_IS.get(kind, _WHAT_IT_IS["unknown"])
        if kind in PHOTO_FORMATS:
            what = f"a {FORMAT_LABEL[kind]} photo"
        raise UploadRejected(
            RejectCode.TYPE,
            f"This file is {what}, not a PDF. Documents must be PDF files"
            + ("; add photos under Photos." if kind in PHOTO_FORMATS else "."),
        )

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    # pypdf logs every repair it makes to a broken file; we only want the verdict.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    damaged = UploadRejected(RejectCode.CORRUPT, f"This PDF is damaged and could not be read. {_PDF_ADVICE}")
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            raise UploadRejected(
                RejectCode.ENCRYPTED,
                f"This PDF is password-protected or encrypted, so buyers' agents may not be able to "
                f"open it. {_PDF_ADVICE}",
            )
        declared = reader.trailer.get("/Size", 0)
        stored = sum(len(v) for v in reader.xref.values()) + len(reader.xref_objStm)
        if max(int(declared) if isinstance(declared, int) else 0, stored) > limits.document_max_objects:
            raise UploadRejected(
                RejectCode.TOO_COMPLEX, f"This PDF is too complex to check safely. {_PDF_ADVICE}"
            )
        pages = len(reader.pages)
        if pages == 0:
            raise UploadRejected(RejectCode.PAGES, f"This PDF has no pages. {_PDF_ADVICE}")
        if pages > limits.document_max_pages:
            raise UploadRejected(
                RejectCode.PAGES,
                f"This PDF has {pages} pages; the limit is {limits.document_max_pages}. "
                "Split it into smaller documents.",
            )
        _refuse_active_content(reader)
    except UploadRejected:
        raise
    except (
        PyPdfError,
        RecursionError,
        MemoryError,
        *_CONTAINED_ERRORS,
        AttributeError,
        ArithmeticError,
    ) as exc:
        raise damaged from exc
    return PdfInspection(pages=pages)


def _refuse_active_content(reader: Any) -> None:
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    for obj in _all_objects(reader):
        for node in _walk(obj, ArrayObject, DictionaryObject, IndirectObject):
            for key in node:
                if key in _ACTIVE_KEYS:
                    code, what = _ACTIVE_KEYS[key]
                    raise UploadRejected(code, f"{what} {_PDF_ADVICE}")
            action = _resolved(node.get("/S"))
            if action in _ACTIVE_ACTIONS:
                raise UploadRejected(RejectCode.ACTIVE_CONTENT, f"{_ACTIVE_ACTIONS[action]} {_PDF_ADVICE}")
            subtype = _resolved(node.get("/Subtype"))
            if subtype in _ACTIVE_SUBTYPES:
                code, what = _ACTIVE_SUBTYPES[subtype]
                raise UploadRejected(code, f"{what} {_PDF_ADVICE}")
            if _resolved(node.get("/Type")) == "/Filespec" and "/EF" in node:
                raise UploadRejected(
                    RejectCode.ATTACHMENT, f"This PDF has files attached inside it. {_PDF_ADVICE}"
                )
            if "/OpenAction" in node:
                _refuse_open_action(node["/OpenAction"], ArrayObject, DictionaryObject)


def _refuse_open_action(open_action: Any, array_type: type, dict_type: type) -> None:
    """An /OpenAction may only show a place in this same file: a destination (an array, or a
    named one), or a GoTo action to one, as LaTeX's hyperref writes; so may every action its
    /Next chains to. Anything else would run as soon as the file is opened."""
    pending = [open_action]
    seen: set[object] = set()
    while pending:
        entry = pending.pop()
        # A /Next chain may loop back through an indirect reference.
        key = (entry.idnum, entry.generation) if hasattr(entry, "idnum") else id(entry)
        if key in seen:
            continue
        seen.add(key)
        action = _resolved(entry)
        if not isinstance(action, dict_type):
            continue  # a destination: which page to show, and how
        kind = _resolved(action.get("/S"))
        if kind != "/GoTo":
            what = _ACTIVE_ACTIONS.get(kind) or _OPEN_ACTIONS.get(
                kind, "This PDF runs an action as soon as it is opened."
            )
            raise UploadRejected(RejectCode.ACTIVE_CONTENT, f"{what} {_PDF_ADVICE}")
        chained = _resolved(action.get("/Next"))
        if isinstance(chained, array_type):
            pending.extend(chained)
        elif chained is not None:
            pending.append(chained)


def _resolved(value: Any) -> Any:
    # A name can hide behind an indirect reference (/S 7 0 R); viewers follow it, so do we.
    return value.get_object() if hasattr(value, "get_object") else value


def _all_objects(reader: Any) -> Iterator[Any]:
    """Every indirect object the file stores, plus the trailer."""
    from pypdf.generic import IndirectObject

    yield reader.trailer
    for generation, entries in reader.xref.items():
        for number in entries:
            yield reader.get_object(IndirectObject(number, generation, reader))
    for number in reader.xref_objStm:
        yield reader.get_object(IndirectObject(number, 0, reader))


def _walk(obj: Any, array_type: type, dict_type: type, ref_type: type) -> Iterator[Any]:
    # Direct (inline) children only: indirect ones are visited as objects of their own.
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict_type):
            yield node
            stack.extend(v for v in node.values() if not isinstance(v, ref_type))
        elif isinstance(node, array_type):
            stack.extend(v for v in node if not isinstance(v, ref_type))
