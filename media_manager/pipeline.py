"""The photo pipeline: one uploaded photo in, a clean sRGB JPEG master and its variants out.

`process_photo(path, limits=...)` does, in one pass over the pixels:

1. the upload checks of `checks.open_photo` (type from the bytes, byte and pixel limits);
2. a decode at the smallest scale that still covers the master: JPEG files are decoded
   with `Image.draft`, so libjpeg's scaled IDCT does most of the downsizing for free
   (a 24 MP photo decodes at 1/2 scale for a 2048 px master); see `master_plan`;
3. at most one resample to the master size (none when the 1/2, 1/4 or 1/8 scale already
   lands within 5 % under the limit, as for 4000-4096 px phone photos), then the
   conversion to sRGB from any embedded ICC profile (Adobe RGB, Display P3, CMYK, grey),
   then the EXIF orientation and the agent's quarter turns, all on the master-sized
   image where they are cheapest;
4. the master JPEG (long edge <= PHOTO_MASTER_LONG_EDGE, quality 85 stepped down until
   it fits PHOTO_MASTER_MAX_BYTES), carrying no metadata at all;
5. the variants, largest first, each resized from the previous one, not from the full
   image, so each costs in proportion to the one before it;
6. a 64-bit DCT perceptual hash of the result and the SHA-256 of the source bytes (given
   by the caller when the upload handler already computed it).

The resampler (`RESAMPLER`, chosen once at import): libvips' lanczos3 through pyvips when it
loads (`LIBVIPS`), else Pillow (`PILLOW`: BICUBIC for the big steps, LANCZOS for the small
ones, see `_BIG_STEP_RESAMPLE`). With libvips a JPEG that needs resizing is also decoded by
libvips, at the same scale as Pillow's draft and to the same pixels, streamed into the resize
(`decode_jpeg_with_vips`); everything else is decoded by Pillow and its pixels copied across.
Pillow encodes every output either way, as in the benchmark's floor.

Figures (bench/photos/run.py, 24 MP camera JPEG, a shared 2-core machine, same-run ratios to
the bare decode+encode floor): with Pillow resizing 2.1-2.3x the floor (2.3-2.6x with
Spark's eight sizes), the resampling alone costing about the floor; with libvips decoding
and resizing, 1.47x (1.56x with Spark's sizes) on a quiet machine in December 2026. Every
output >= 42 dB from the naive result (full decode, one LANCZOS resize per output) before
encoding with Pillow, >= 45 dB with libvips; cheaper Pillow filters (BILINEAR, HAMMING, box
reduces) fail that bar.

Outputs carry no EXIF, GPS, XMP, IPTC, ICC profile or comment: Pillow writes only what it
is given, except the JPEG comment, which Pillow 13 copies from the source unless told
otherwise (hence `comment=b""` in `_encode_jpeg`, guarded by a test).

`media_manager.isolation.process_photo_isolated` runs the same function in a child process
with RLIMIT_AS 1 GiB and 10 s of CPU: use it wherever the file comes from a user, i.e.
always outside tests and benchmarks.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import mul
from typing import Any, Protocol

from PIL import Image, ImageCms

try:
    import pyvips  # type: ignore[import-untyped]
except (ImportError, OSError):  # not installed, or its libvips cannot be loaded
    pyvips = None

from media_manager.checks import (
    DecodeGuard,
    MediaLimits,
    PhotoFormat,
    RejectCode,
    UploadRejected,
    low_resolution_warning,
    open_photo,
)

# Variant name -> long edge in pixels. The master (<= PHOTO_MASTER_LONG_EDGE) is separate.
#   large  1280: the lightbox / review page, Spark's Uri1280 size
#   medium  640: the edit grid at 2x pixel density, Spark's Uri640 size
#   thumb   320: lists and drag-to-reorder tiles at 2x density
VARIANTS: Mapping[str, int] = {"large": 1280, "medium": 640, "thumb": 320}

MASTER_QUALITY = 85
VARIANT_QUALITY = 82
# Tried in order until the master fits PHOTO_MASTER_MAX_BYTES; then the image is shrunk.
_MASTER_QUALITY_STEPS = (85, 78, 70, 62, 55, 48, 40)
_SHRINK_STEP = 0.8
_REDUCING_GAP = 2.0
_NEAR_ENOUGH = 0.95
# Resampling is most of our CPU time. The two biggest steps (draft -> master, master ->
# largest variant) use BICUBIC, Pillow's thumbnail default, 30 % cheaper than LANCZOS and
# still >= 44 dB from a direct LANCZOS resize of the full image. So does any later step of
# 1.5x or more (portal: 1280 -> 640 -> 320), where the previous link's softness shrinks with
# the image (>= 42 dB at the thumb). Small steps (Spark's 1600 -> 1280 -> ... -> 640, 1.25x
# each) use LANCZOS: there BICUBIC's softness compounds link after link (< 38 dB by the 5th).
_BIG_STEP_RESAMPLE = Image.Resampling.BICUBIC
_CHAIN_RESAMPLE = Image.Resampling.LANCZOS
_BICUBIC_MIN_RATIO = 1.5
# The step from the scaled decode to the master: kept at BICUBIC for quality (see above).
_DRAFTED_RESAMPLE = Image.Resampling.BICUBIC
_ORIENTATION_OPS: dict[int, tuple[Image.Transpose, ...]] = {
    1: (),
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}
# Clockwise quarter turns requested by the agent (Spark's "Rotate": "clockwise").
_CLOCKWISE_OPS: dict[int, tuple[Image.Transpose, ...]] = {
    0: (),
    1: (Image.Transpose.ROTATE_270,),
    2: (Image.Transpose.ROTATE_180,),
    3: (Image.Transpose.ROTATE_90,),
}


class Resize(Protocol):
    """A resize step: `image` to `size`; `resample` is the Pillow filter for the step (see
    `_BIG_STEP_RESAMPLE`). `discard_source`: the caller has no further use for `image`, so
    its pixels may be freed as soon as they are read (the decoded photo, a job's largest
    buffer, need not outlive its copy)."""

    def __call__(
        self,
        image: Image.Image,
        size: tuple[int, int],
        resample: Image.Resampling,
        *,
        discard_source: bool = False,
    ) -> Image.Image: ...


class ResizeChain(Protocol):
    """The variants: `image` resized to each size of `steps` in turn, each from the one
    before (the first from `image`), with the Pillow filter of its step; a step to the
    size it already has yields the same image."""

    def __call__(
        self, image: Image.Image, steps: Sequence[tuple[tuple[int, int], Image.Resampling]]
    ) -> Iterator[Image.Image]: ...


def resize_with_pillow(
    image: Image.Image, size: tuple[int, int], resample: Image.Resampling, *, discard_source: bool = False
) -> Image.Image:
    """Pillow's resize with the filter chosen for the step."""
    return image.resize(size, resample, reducing_gap=_REDUCING_GAP)


def chain_with_pillow(
    image: Image.Image, steps: Sequence[tuple[tuple[int, int], Image.Resampling]]
) -> Iterator[Image.Image]:
    for size, resample in steps:
        if size != image.size:
            image = resize_with_pillow(image, size, resample)
        yield image


# Modes whose pixels are one byte per band in Pillow's `tobytes` and in libvips alike.
_VIPS_BANDS = {"L": 1, "RGB": 3, "CMYK": 4}
# Rows copied at a time from Pillow to libvips: `tobytes` of a whole image would hold it
# twice over (its pieces, then their join), 36 MB more at the peak of a 24 MP job.
_STRIP_ROWS = 128


def resize_with_vips(
    image: Image.Image, size: tuple[int, int], resample: Image.Resampling, *, discard_source: bool = False
) -> Image.Image:
    """libvips' lanczos3 resize, whatever Pillow filter the step would use: 3x cheaper than
    Pillow's BICUBIC and sharper than it (>= 46 dB from a direct LANCZOS resize of the full
    image where BICUBIC gives 45, and no softness compounding along Spark's chain of sizes).

    The pixels cross as one copy each way (~3 ms for a half-scale 24 MP decode); Pillow
    decodes and encodes, as in the floor. Falls back to Pillow for a mode libvips would read
    differently.
    """
    bands = _VIPS_BANDS.get(image.mode)
    if bands is None:
        return resize_with_pillow(image, size, resample)
    width, height = image.size
    row_bytes = width * bands
    pixels = bytearray(row_bytes * height)
    for top in range(0, height, _STRIP_ROWS):
        bottom = min(top + _STRIP_ROWS, height)
        pixels[top * row_bytes : bottom * row_bytes] = image.crop((0, top, width, bottom)).tobytes()
    mode = image.mode
    if discard_source:
        image.close()  # drops the decoded pixels now, not when the caller lets go of them
    source = pyvips.Image.new_from_memory(pixels, width, height, bands, "uchar")
    resized = _vips_resized(source, size)
    result = resized.write_to_memory()
    del source, resized, pixels  # the source's copy, before the result's
    return _pillow_image(mode, size, result)


def chain_with_vips(
    image: Image.Image, steps: Sequence[tuple[tuple[int, int], Image.Resampling]]
) -> Iterator[Image.Image]:
    """The variants with libvips' lanczos3: the master's pixels cross to libvips once, and
    each step is resized from the previous step's pixels where libvips left them; each
    output crosses back once, for Pillow's encoder. Resizing each step through
    `resize_with_vips` copied its source across again: ~5 ms per 24 MP photo with the
    portal's sizes, more with Spark's eight."""
    bands = _VIPS_BANDS.get(image.mode)
    if bands is None:
        yield from chain_with_pillow(image, steps)
        return
    source = None
    for size, _resample in steps:
        if size != image.size:
            if source is None:
                # Master-sized at most (PHOTO_MASTER_LONG_EDGE): one copy, no strips needed.
                source = pyvips.Image.new_from_memory(image.tobytes(), *image.size, bands, "uchar")
            pixels = _vips_resized(source, size).write_to_memory()
            image = _pillow_image(image.mode, size, pixels)
            source = pyvips.Image.new_from_memory(pixels, *size, bands, "uchar")
        yield image


def _vips_resized(source: Any, size: tuple[int, int]) -> Any:
    # lanczos3 at every step, libvips' default gap (2.0). Measured on an AMD EPYC in December
    # 2026 (bench/photos/run.py's 24 MP photo): lanczos2 saves ~1.7 ms of the portal's 10 ms
    # of variants (cubic ~0), and both drop Spark's chained 640 px output to 38 dB; gap 1.0
    # (a 2x box shrink for the 2x steps) drops the portal's 640 and 320 px to 39 and 37 dB.
    # Most of a resize is libvips' horizontal reduce (3-4x its vertical one); rotating to
    # make it a vertical one costs more than it saves.
    resized = source.resize(size[0] / source.width, vscale=size[1] / source.height, kernel="lanczos3")
    if (resized.width, resized.height) != size:  # libvips rounded otherwise: never seen
        resized = resized.crop(0, 0, min(size[0], resized.width), min(size[1], resized.height))
        resized = resized.embed(0, 0, *size, extend="copy")
    return resized


def _pillow_image(mode: str, size: tuple[int, int], pixels: Any) -> Image.Image:
    # Image.frombytes would first fill the new image with zeros, only to overwrite them.
    image = Image.new(mode, size, None)
    image.frombytes(pixels)
    return image


def decode_jpeg_with_vips(
    path: str | os.PathLike[str], shrink: int, drafted: tuple[int, int], size: tuple[int, int], mode: str
) -> Image.Image | None:
    """The JPEG at `path` decoded at 1/`shrink`, the scale of Pillow's `draft` (libjpeg's
    scaled IDCT to `drafted`) and resized to `size` with lanczos3 in one streaming pass: the decoded photo
    is never whole in memory nor copied across from Pillow (~20 ms less per 24 MP photo;
    the decoded pixels are Pillow's, bit for bit). None when libvips would decode it to
    another size or mode than Pillow's draft (`mode`: "RGB" or "L"); then Pillow decodes.

    A truncated scan fails as it does with Pillow (OSError, refused as a damaged file).
    """
    if mode not in ("RGB", "L") or shrink not in (1, 2, 4, 8):
        return None
    bands = _VIPS_BANDS[mode]
    try:
        decoded = pyvips.Image.jpegload(
            os.fspath(path), shrink=shrink, access="sequential", fail_on="truncated"
        )
        if (decoded.width, decoded.height) != drafted or decoded.bands != bands or decoded.format != "uchar":
            return None
        resized = decoded.resize(size[0] / decoded.width, vscale=size[1] / decoded.height, kernel="lanczos3")
        if (resized.width, resized.height) != size:
            return None
        pixels = resized.write_to_memory()
    except pyvips.Error as exc:
        raise OSError(f"libvips could not decode the JPEG: {exc.message}") from exc
    return _pillow_image(mode, size, pixels)


# (path, shrink, size at that scale, target size, mode) -> the resized image, or None.
Size = tuple[int, int]
DecodeJpeg = Callable[[str | os.PathLike[str], int, Size, Size, str], Image.Image | None]


@dataclass(frozen=True, slots=True)
class Resampler:
    """How the pipeline resizes: `resize` for the step to the master, `chain` for the
    variants, and `decode_jpeg` (optional) for a JPEG's decode and first resize in one pass
    (None from it: decode with Pillow)."""

    name: str
    resize: Resize
    chain: ResizeChain
    decode_jpeg: DecodeJpeg | None = None


PILLOW = Resampler("Pillow", resize_with_pillow, chain_with_pillow)
LIBVIPS = Resampler("libvips lanczos3", resize_with_vips, chain_with_vips, decode_jpeg_with_vips)


def _configure_vips() -> None:
    # One worker thread per resize (a job is one photo; the worker runs jobs side by side)
    # and no operation cache: a cached pipeline holds its pixels past the job's peak.
    pyvips.concurrency_set(1)
    pyvips.cache_set_max(0)
    pyvips.cache_set_max_mem(0)
    pyvips.cache_set_max_files(0)
    # libvips reports the plan of every resize at INFO (kernel, mask, workers): noise.
    logging.getLogger("pyvips").setLevel(logging.WARNING)


def prepare_vips_for_fork() -> None:
    """Build (never run) a libvips resize, so processes forked after this call find its
    operation classes set up. Running one would start libvips' worker threads, which a fork
    does not copy: a forked child would then wait forever on threads it does not have. So
    the isolation fork server calls this and never resizes anything with libvips itself."""
    if pyvips is not None:
        pyvips.Image.black(8, 8, bands=3).resize(0.5, kernel="lanczos3")


# Chosen once, at import: libvips when pyvips and its library load, else Pillow.
if pyvips is not None:
    _configure_vips()
RESAMPLER = LIBVIPS if pyvips is not None else PILLOW


@dataclass(frozen=True, slots=True)
class ProcessedPhoto:
    """The result of `process_photo`.

    - `master`: baseline JPEG, sRGB, no metadata, long edge <= PHOTO_MASTER_LONG_EDGE,
      <= PHOTO_MASTER_MAX_BYTES; what is stored, served and pushed to Spark.
    - `variants`: name -> JPEG bytes for every name in the `variants` argument (default
      `VARIANTS`); never larger than the master (a small photo gets same-size variants).
    - `width`/`height`: the master's, upright. `sizes`: name -> (width, height) per variant.
    - `sha256`: hex digest of the *source file's bytes*, for "this exact file again".
    - `phash`: 64-bit DCT perceptual hash of the upright, rotated output pixels, as a
      signed int so it fits a BigIntegerField; compare with `phash_distance` (<= 6 of 64
      bits: the same picture re-encoded, resized or lightly edited).
    """

    master: bytes
    variants: dict[str, bytes]
    width: int
    height: int
    sizes: dict[str, tuple[int, int]]
    sha256: str
    phash: int | None
    source_format: PhotoFormat
    warnings: list[str] = field(default_factory=list)


def process_photo(
    source_path: str | os.PathLike[str],
    *,
    limits: MediaLimits,
    rotate_quarter_turns: int = 0,
    variants: Mapping[str, int] = VARIANTS,
    source_sha256: str | None = None,
    resampler: Resampler = RESAMPLER,
) -> ProcessedPhoto:
    """Check and process one photo; raises `UploadRejected` for files we refuse.

    `rotate_quarter_turns` is the agent's extra rotation, in clockwise quarter turns
    (negative is counter-clockwise), applied after the EXIF orientation. Deterministic:
    the same file and arguments give the same bytes. `source_sha256`: the source's digest
    when the caller already has it (the upload handler hashes the file as it arrives), so
    the file is not read again only to hash it.
    """
    rendered = render_photo(
        source_path,
        limits=limits,
        rotate_quarter_turns=rotate_quarter_turns,
        variants=variants,
        source_sha256=source_sha256,
        resampler=resampler,
    )
    return rendered.result


@dataclass(slots=True)
class Rendered:
    """`ProcessedPhoto` plus the pixels before encoding (for the benchmark's PSNR)."""

    result: ProcessedPhoto
    images: dict[str, Image.Image]


def render_photo(
    source_path: str | os.PathLike[str],
    *,
    limits: MediaLimits,
    rotate_quarter_turns: int = 0,
    variants: Mapping[str, int] = VARIANTS,
    source_sha256: str | None = None,
    resampler: Resampler = RESAMPLER,
) -> Rendered:
    opened = open_photo(source_path, limits)
    found: list[str] = []
    with opened.image as image, DecodeGuard(opened.format):
        master_image = _decode_master(
            source_path, image, opened.orientation, rotate_quarter_turns, limits, found, resampler
        )
    if warning := low_resolution_warning(*opened.display_size, limits):
        found.insert(0, warning)

    master_image, master = _encode_master(master_image, limits.photo_master_max_bytes)
    opened_display = _rotated(opened.display_size, rotate_quarter_turns)
    images = {"master": master_image}
    outputs: dict[str, bytes] = {}
    sizes: dict[str, tuple[int, int]] = {}
    hash_source = master_image
    names, steps = [], []
    previous = master_image.size
    for name, long_edge in sorted(variants.items(), key=lambda item: -item[1]):
        # Sized from the source's aspect ratio, not the rounded master's, so a variant is
        # exactly what a direct resize of the original would give.
        size = fit_within(opened_display, min(long_edge, max(master_image.size)))
        big_step = previous == master_image.size or max(previous) / max(size) >= _BICUBIC_MIN_RATIO
        names.append(name)
        steps.append((size, _BIG_STEP_RESAMPLE if big_step else _CHAIN_RESAMPLE))
        previous = size
    for name, (size, _), image in zip(names, steps, resampler.chain(master_image, steps), strict=True):
        images[name] = image
        outputs[name] = _encode_jpeg(image, VARIANT_QUALITY)
        sizes[name] = size
        if max(size) >= _HASH_SOURCE_MIN_EDGE:
            hash_source = image  # the smallest output that still has detail to hash

    result = ProcessedPhoto(
        master=master,
        variants=outputs,
        width=master_image.width,
        height=master_image.height,
        sizes=sizes,
        sha256=source_sha256 or file_sha256(source_path),
        phash=dct_hash(hash_source),
        source_format=opened.format,
        warnings=found,
    )
    return Rendered(result=result, images=images)


def _rotated(size: tuple[int, int], quarter_turns: int) -> tuple[int, int]:
    return (size[1], size[0]) if quarter_turns % 2 else size


def fit_within(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """`size` scaled down (never up) so its longer side is at most `long_edge`."""
    w, h = size
    if max(w, h) <= long_edge:
        return w, h
    scale = long_edge / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def master_plan(size: tuple[int, int], long_edge: int) -> tuple[int, tuple[int, int]]:
    """(k, master size) for a stored image of `size`: reduce by the integer k (JPEG draft
    scale or `Image.reduce`), then resample to the master size if it still differs.

    When a 1/2, 1/4 or 1/8 reduction lands within 5 % under `long_edge`, that is the
    master: a 4032 px phone photo becomes a 2016 px master decoded at half scale, with no
    resampling at all, instead of a full decode and a 2 % resize.
    """
    w, h = size
    if max(w, h) <= long_edge:
        return 1, size
    for k in (8, 4, 2):
        reduced = (-(-w // k), -(-h // k))
        if _NEAR_ENOUGH * long_edge <= max(reduced) <= long_edge:
            return k, reduced
    return 1, fit_within(size, long_edge)


def _decode_master(
    source_path: str | os.PathLike[str],
    image: Image.Image,
    orientation: int,
    quarter_turns: int,
    limits: MediaLimits,
    found: list[str],
    resampler: Resampler,
) -> Image.Image:
    stored = image.size
    k, target = master_plan(stored, limits.photo_master_long_edge)
    if image.format in ("JPEG", "MPO") and target != stored:
        # libjpeg's scaled IDCT decodes straight to 1/k, or else to the smallest of 1/2,
        # 1/4, 1/8 that still covers the target; Pillow picks the scale from the request.
        request = (stored[0] // k, stored[1] // k) if k > 1 else target
        image.draft("RGB" if image.mode not in ("L", "CMYK") else image.mode, request)
    working = None
    if resampler.decode_jpeg and image.format in ("JPEG", "MPO") and image.size != target:
        # `draft` only set the scale and size Pillow would decode at; libvips decodes at
        # the same scale, or declines.
        shrink = round(stored[0] / image.size[0])
        working = resampler.decode_jpeg(source_path, shrink, image.size, target, image.mode)
    if working is None:
        working = _decode_and_resize(image, stored, k, target, resampler)
    # Read when the file was opened (JPEG, PNG) or decoded (others), whoever decoded it.
    icc_profile = image.info.get("icc_profile")
    working = _to_srgb(working, icc_profile, found)
    for op in _ORIENTATION_OPS.get(orientation, ()) + _CLOCKWISE_OPS[quarter_turns % 4]:
        working = working.transpose(op)
    return working


def _decode_and_resize(
    image: Image.Image, stored: tuple[int, int], k: int, target: tuple[int, int], resampler: Resampler
) -> Image.Image:
    image.load()
    working = _resizable(image)
    if working.size == stored and k > 1:
        working = working.reduce(k)
    if working.size != target:
        # After a scaled decode (libjpeg's reduced IDCT already filtered the image) the rest
        # of the way is under 2x: lanczos3 with libvips, BICUBIC with Pillow (its BILINEAR
        # would save a third but costs 4 dB).
        resample = _DRAFTED_RESAMPLE if working.size != stored else _BIG_STEP_RESAMPLE
        # The decoded pixels are done with once resized (the image's info is read above).
        working = resampler.resize(working, target, resample, discard_source=True)
    return working


def _resizable(image: Image.Image) -> Image.Image:
    """The image in a mode LANCZOS can resize: RGB, L or CMYK; transparency onto white."""
    mode = image.mode
    if mode in ("RGB", "L", "CMYK"):
        return image
    if mode.startswith("I;16") or mode in ("I", "F"):
        # 16-bit grey: Pillow's plain convert clips to 255, so scale first.
        return image.point(lambda v: v * (1 / 257)).convert("L")
    if mode == "1":
        return image.convert("L")
    if mode == "P" and "transparency" not in image.info:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


_SRGB = ImageCms.createProfile("sRGB")


@lru_cache(maxsize=16)
def _transform(icc_profile: bytes, mode: str) -> ImageCms.ImageCmsTransform:
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
    return ImageCms.buildTransform(source, _SRGB, mode, "RGB", renderingIntent=ImageCms.Intent.PERCEPTUAL)


def _to_srgb(image: Image.Image, icc_profile: bytes | None, found: list[str]) -> Image.Image:
    if icc_profile and image.mode in ("RGB", "L", "CMYK"):
        try:
            return _transform(icc_profile, image.mode).apply(image)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            found.append("The photo's colour profile could not be read; its colours were taken as sRGB.")
    return image if image.mode == "RGB" else image.convert("RGB")


def _encode_jpeg(image: Image.Image, quality: int) -> bytes:
    # Pillow, not libvips' jpegsave: the same pixels either way (same tables, 4:2:0,
    # optimized Huffman), but the bundled libvips encoded the 24 MP photo's master in
    # 17.9 ms against Pillow's 13.6 ms (AMD EPYC, Dec 2026).
    buf = io.BytesIO()
    # comment=b"": Pillow 13 otherwise copies the source's COM marker (names, addresses,
    # webshells) into the output. EXIF, XMP, ICC and IPTC are only written when passed.
    image.save(buf, format="JPEG", quality=quality, optimize=True, subsampling="4:2:0", comment=b"")
    return buf.getvalue()


def _encode_master(image: Image.Image, max_bytes: int) -> tuple[Image.Image, bytes]:
    while True:
        for quality in _MASTER_QUALITY_STEPS:
            data = _encode_jpeg(image, quality)
            if len(data) <= max_bytes:
                return image, data
        if max(image.size) <= 64:
            raise UploadRejected(RejectCode.PROCESSING_FAILED, "We could not compress this photo enough.")
        smaller = (max(1, int(image.width * _SHRINK_STEP)), max(1, int(image.height * _SHRINK_STEP)))
        image = image.resize(smaller, _BIG_STEP_RESAMPLE)


# Segments Pillow writes for pixels alone: SOF0-2, DHT, DQT, DRI and the JFIF APP0.
_PIXEL_MARKERS = {0xC0, 0xC1, 0xC2, 0xC4, 0xDB, 0xDD, 0xE0}


def jpeg_is_clean(data: bytes) -> bool:
    """True for a complete JPEG whose header holds nothing but what pixels need: no
    EXIF, XMP, ICC, IPTC or other APPn segment and no comment before the image data."""
    if not data.startswith(b"\xff\xd8") or not data.endswith(b"\xff\xd9"):
        return False
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return False
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return True
        if marker not in _PIXEL_MARKERS:
            return False
        if marker == 0xE0 and data[i + 4 : i + 9] != b"JFIF\x00":
            return False
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return False


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


_DCT_SIZE = 32
_HASH_SIDE = 8
# The largest low-frequency (non-DC) coefficient below which a picture has no detail to hash:
# a flat JPEG (its noise averaged away by the 32x32 thumbnail) measures 0, a sky with the
# faintest gradient (four grey levels across the frame) about 800.
_FLAT_DETAIL = 64.0
_HASH_SOURCE_MIN_EDGE = 128
_COSINES = [
    [math.cos((2 * x + 1) * u * math.pi / (2 * _DCT_SIZE)) for x in range(_DCT_SIZE)]
    for u in range(_HASH_SIDE)
]


def dct_hash(image: Image.Image) -> int | None:
    """64-bit perceptual hash (pHash): the signs of the 8x8 lowest DCT frequencies of a
    32x32 grey thumbnail, compared with their median; returned as a signed 64-bit int.
    None for a picture without detail (one flat colour, a lens-cap frame): every such picture
    hashes alike, so its hash would call any two of them the same photo."""
    grey = image.convert("L").resize((_DCT_SIZE, _DCT_SIZE), Image.Resampling.LANCZOS)
    pixels = grey.tobytes()
    rows = [pixels[y * _DCT_SIZE : (y + 1) * _DCT_SIZE] for y in range(_DCT_SIZE)]
    # Separable DCT-II; only the 8 lowest frequencies are needed in each direction.
    # map(mul) rather than generator expressions: the same sums in the same order (so the
    # same hash), a few times faster.
    by_row = [[sum(map(mul, row, cos_u)) for cos_u in _COSINES] for row in rows]
    columns = [[by_row[y][u] for y in range(_DCT_SIZE)] for u in range(_HASH_SIDE)]
    coeffs = [sum(map(mul, columns[u], cos_v)) for cos_v in _COSINES for u in range(_HASH_SIDE)]
    if max(abs(coeff) for coeff in coeffs[1:]) < _FLAT_DETAIL:
        return None
    median = sorted(coeffs)[len(coeffs) // 2]
    value = 0
    for coeff in coeffs:
        value = (value << 1) | (coeff > median)
    return value - (1 << 64) if value >= 1 << 63 else value


def phash_distance(a: int, b: int) -> int:
    """Number of differing bits between two `dct_hash` values (0 = identical, 64 = opposite)."""
    return ((a ^ b) & 0xFFFF_FFFF_FFFF_FFFF).bit_count()
