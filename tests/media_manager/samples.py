"""Deterministic fixture generators for the media tests and the photo benchmark.

Every file the media tests use is built here, in code, from fixed seeds: camera-like
JPEGs with private metadata, ICC profiles built byte by byte, decompression bombs written
without ever holding their pixels in memory, files of refused types, polyglots and PDFs.
Nothing is downloaded and nothing depends on the machine's colour profiles.
"""

from __future__ import annotations

import io
import math
import random
import struct
import zipfile
import zlib
from collections.abc import Callable

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

# ---------------------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------------------


def photo_like(width: int, height: int, *, seed: int = 0) -> Image.Image:
    """An RGB picture with what a camera gives a resampler to chew on.

    Smooth sky-like gradients, hard-edged shapes (a house, windows, a fence), mid-scale
    texture and fine sensor-like grain, all from `seed`, so repeated runs compress and
    resample identically.
    """
    rng = random.Random(seed)
    sky = Image.linear_gradient("L").resize((width, height))
    base = Image.merge(
        "RGB",
        (
            sky.point(lambda v: 90 + v // 3),
            sky.point(lambda v: 140 + v // 4),
            sky.point(lambda v: 235 - v // 5),
        ),
    )
    draw = ImageDraw.Draw(base)
    horizon = int(height * 0.62)
    draw.rectangle((0, horizon, width, height), fill=(86, 122, 60))
    for _ in range(40):
        x0 = rng.randrange(0, width)
        y0 = rng.randrange(horizon - height // 6, height)
        w = rng.randrange(width // 40, width // 6)
        h = rng.randrange(height // 40, height // 5)
        colour = (rng.randrange(40, 230), rng.randrange(40, 230), rng.randrange(40, 230))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
    house = (width // 4, int(height * 0.35), width // 4 * 3, int(height * 0.8))
    draw.rectangle(house, fill=(196, 170, 140), outline=(60, 40, 30), width=max(2, width // 800))
    draw.polygon(
        [
            (house[0] - width // 20, house[1]),
            (width // 2, int(height * 0.18)),
            (house[2] + width // 20, house[1]),
        ],
        fill=(120, 50, 40),
    )
    pane = max(4, width // 60)
    for col in range(6):
        for row in range(3):
            x = house[0] + width // 30 + col * (width // 13)
            y = house[1] + height // 25 + row * (height // 9)
            draw.rectangle((x, y, x + pane * 3, y + pane * 4), fill=(40, 60, 90), outline=(250, 250, 250))
    step = max(3, width // 300)
    for x in range(0, width, step * 2):
        draw.line(
            (x, int(height * 0.82), x, int(height * 0.92)), fill=(235, 235, 225), width=max(1, step // 2)
        )

    # Mid-scale texture (foliage, brick) and fine grain, from seeded bytes.
    tex_w, tex_h = max(1, width // 16), max(1, height // 16)
    texture = Image.frombytes("L", (tex_w, tex_h), rng.randbytes(tex_w * tex_h)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height)).filter(
        ImageFilter.BoxBlur(0.5)
    )
    detail = Image.blend(texture, grain, 0.5).point(lambda v: 128 + (v - 128) // 3)
    return _add_detail(base, detail)


def _add_detail(base: Image.Image, detail: Image.Image) -> Image.Image:
    # Adds (detail - 128) to every channel: a luminance texture on top of the drawing.
    plus = detail.point(lambda v: max(0, v - 128))
    minus = detail.point(lambda v: max(0, 128 - v))
    plus_rgb = Image.merge("RGB", (plus, plus, plus))
    minus_rgb = Image.merge("RGB", (minus, minus, minus))
    return ImageChops.subtract(ImageChops.add(base, plus_rgb), minus_rgb)


def asymmetric_picture(width: int, height: int) -> Image.Image:
    """Four differently coloured quadrants and a marker near the top-left corner.

    Every one of the eight flips/rotations of it looks different, and its flat areas
    survive JPEG with tiny error, so orientation mistakes stand out by a wide margin.
    """
    im = Image.new("RGB", (width, height), (230, 40, 40))
    draw = ImageDraw.Draw(im)
    draw.rectangle((width // 2, 0, width, height // 2), fill=(40, 200, 60))
    draw.rectangle((0, height // 2, width // 2, height), fill=(40, 60, 220))
    draw.rectangle((width // 2, height // 2, width, height), fill=(240, 220, 60))
    draw.rectangle((width // 16, height // 16, width // 4, height // 4), fill=(255, 255, 255))
    return im


# EXIF orientation n means "the stored pixels need this operation to look right".
# The stored image is built with the inverse, straight from the EXIF 2.32 definitions.
_ORIENTATION_INVERSE: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # displayed after a 90° clockwise turn
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,  # displayed after a 90° counter-clockwise turn
}


def stored_for_orientation(upright: Image.Image, orientation: int) -> Image.Image:
    op = _ORIENTATION_INVERSE[orientation]
    return upright if op is None else upright.transpose(op)


# ---------------------------------------------------------------------------------------
# Camera-like metadata (what must never leave the building)
# ---------------------------------------------------------------------------------------

PRIVATE_NAME = "Jane Q. Agent"
PRIVATE_ADDRESS = "12 Elm Street, Springfield"
# Byte strings that must not appear anywhere in a processed output.
PRIVATE_MARKERS = (
    b"Jane Q. Agent",
    b"Elm Street",
    b"Springfield",
    b"Exif\x00\x00",
    b"http://ns.adobe.com/xap/1.0/",
    b"x:xmpmeta",
    b"Photoshop 3.0",
    b"8BIM",
    b"ICC_PROFILE",
    b"FakeCam",
)


def camera_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "FakeCam"  # Make
    exif[0x0110] = "FakeCam R6"  # Model
    exif[0x0132] = "2024:05:01 10:00:00"  # DateTime
    exif[0x013B] = PRIVATE_NAME  # Artist
    exif[0x0112] = orientation
    exif[0x8825] = {  # GPS IFD
        0: b"\x02\x03\x00\x00",
        1: "N",
        2: (40.0, 44.0, 30.21),
        3: "W",
        4: (73.0, 59.0, 10.0),
    }
    return exif.tobytes()


def camera_xmp() -> bytes:
    return (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        b' exif:GPSLatitude="40,44.5035N" exif:GPSLongitude="73,59.1667W">'
        b"<dc:creator><rdf:Seq><rdf:li>" + PRIVATE_NAME.encode() + b"</rdf:li></rdf:Seq></dc:creator>"
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
        b'<?xpacket end="w"?>'
    )


def iptc_app13() -> bytes:
    """A Photoshop APP13 segment carrying IPTC IIM by-line and city records."""

    def record(dataset: int, value: bytes) -> bytes:
        return b"\x1c\x02" + bytes([dataset]) + struct.pack(">H", len(value)) + value

    iim = (
        record(80, PRIVATE_NAME.encode()) + record(90, b"Springfield") + record(120, PRIVATE_ADDRESS.encode())
    )
    if len(iim) % 2:
        iim += b"\x00"
    resource = b"8BIM" + b"\x04\x04" + b"\x00\x00" + struct.pack(">I", len(iim)) + iim
    payload = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def camera_jpeg(
    image: Image.Image,
    *,
    orientation: int = 1,
    quality: int = 92,
    icc_profile: bytes | None = None,
    private_metadata: bool = True,
) -> bytes:
    """JPEG bytes as a phone or camera would write them: EXIF with GPS, XMP, IPTC, COM."""
    params: dict = {"quality": quality, "subsampling": "4:2:0"}
    if private_metadata:
        params |= {
            "exif": camera_exif(orientation),
            "xmp": camera_xmp(),
            "extra": iptc_app13(),
            "comment": f"Shot by {PRIVATE_NAME}, {PRIVATE_ADDRESS}".encode(),
        }
    elif orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        params["exif"] = exif.tobytes()
    if icc_profile:
        params["icc_profile"] = icc_profile
    buf = io.BytesIO()
    image.save(buf, format="JPEG", **params)
    return buf.getvalue()


def heic_bytes(
    image: Image.Image, *, exif: bytes | None = None, xmp: bytes | None = None, quality: int = 90
) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    params: dict = {"quality": quality}
    if exif:
        params["exif"] = exif
    if xmp:
        params["xmp"] = xmp
    buf = io.BytesIO()
    image.save(buf, format="HEIF", **params)
    return buf.getvalue()


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------
# ICC profiles, built from the colour-space definitions
# ---------------------------------------------------------------------------------------

_D50 = (0.9642, 1.0, 0.8249)
_D65 = (0.95047, 1.0, 1.08883)
_BRADFORD = ((0.8951, 0.2664, -0.1614), (-0.7502, 1.7135, 0.0367), (0.0389, -0.0685, 1.0296))

Matrix = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]


def _mat_mul(a: Matrix, b: Matrix) -> Matrix:
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)) for i in range(3))  # type: ignore[return-value]


def _mat_vec(a: Matrix, v: tuple[float, float, float]) -> tuple[float, float, float]:
    return tuple(sum(a[i][k] * v[k] for k in range(3)) for i in range(3))  # type: ignore[return-value]


def _mat_inv(m: Matrix) -> Matrix:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return (
        ((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det),
        ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det),
        ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det),
    )


def rgb_to_xyz_matrix(
    primaries: tuple[tuple[float, float], ...], white: tuple[float, float, float]
) -> Matrix:
    """RGB->XYZ for chromaticity `primaries` (xy) and `white` (XYZ), as in every colour text."""
    cols = [(x / y, 1.0, (1 - x - y) / y) for x, y in primaries]
    m: Matrix = tuple(tuple(cols[j][i] for j in range(3)) for i in range(3))  # type: ignore[assignment]
    s = _mat_vec(_mat_inv(m), white)
    return tuple(tuple(m[i][j] * s[j] for j in range(3)) for i in range(3))  # type: ignore[return-value]


def _adapt_d65_to_d50(m: Matrix) -> Matrix:
    src = _mat_vec(_BRADFORD, _D65)
    dst = _mat_vec(_BRADFORD, _D50)
    scale: Matrix = ((dst[0] / src[0], 0, 0), (0, dst[1] / src[1], 0), (0, 0, dst[2] / src[2]))
    return _mat_mul(_mat_mul(_mat_mul(_mat_inv(_BRADFORD), scale), _BRADFORD), m)


def _s15f16(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz_tag(xyz: tuple[float, float, float]) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + b"".join(_s15f16(c) for c in xyz)


def _desc_tag(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\x00"
    return b"desc\x00\x00\x00\x00" + struct.pack(">I", len(ascii_)) + ascii_ + b"\x00" * (4 + 4 + 2 + 1 + 67)


def _text_tag(text: str) -> bytes:
    return b"text\x00\x00\x00\x00" + text.encode("ascii") + b"\x00"


def _icc(device_class: bytes, colour_space: bytes, pcs: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """Assemble an ICC v2.1 profile: header, tag table, 4-byte aligned tag data."""
    table_len = 4 + 12 * len(tags)
    offset = 128 + table_len
    entries, blobs = [], []
    for sig, data in tags:
        padded = data + b"\x00" * (-len(data) % 4)
        entries.append(sig + struct.pack(">II", offset, len(data)))
        blobs.append(padded)
        offset += len(padded)
    body = struct.pack(">I", len(tags)) + b"".join(entries) + b"".join(blobs)
    size = 128 + len(body)
    header = (
        struct.pack(">I", size)
        + b"\x00\x00\x00\x00"
        + b"\x02\x10\x00\x00"
        + device_class
        + colour_space
        + pcs
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\x00" * 24
        + b"\x00\x00\x00\x00"  # rendering intent: perceptual
        + b"".join(_s15f16(c) for c in _D50)
        + b"\x00" * 48
    )
    assert len(header) == 128
    return header + body


def _matrix_shaper_profile(name: str, primaries: tuple[tuple[float, float], ...], trc: bytes) -> bytes:
    m = _adapt_d65_to_d50(rgb_to_xyz_matrix(primaries, _D65))
    columns = [(m[0][j], m[1][j], m[2][j]) for j in range(3)]
    return _icc(
        b"mntr",
        b"RGB ",
        b"XYZ ",
        [
            (b"desc", _desc_tag(name)),
            (b"cprt", _text_tag("No copyright, generated for tests")),
            (b"wtpt", _xyz_tag(_D50)),
            (b"rXYZ", _xyz_tag(columns[0])),
            (b"gXYZ", _xyz_tag(columns[1])),
            (b"bXYZ", _xyz_tag(columns[2])),
            (b"rTRC", trc),
            (b"gTRC", trc),
            (b"bTRC", trc),
        ],
    )


ADOBE_RGB_PRIMARIES = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))
DISPLAY_P3_PRIMARIES = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
ADOBE_RGB_GAMMA = 563 / 256  # 2.19921875, the u8Fixed8 value in Adobe's own profile


def adobe_rgb_profile() -> bytes:
    """Adobe RGB (1998): its primaries, D65 white, a pure 563/256 gamma curve."""
    trc = b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, 563)
    return _matrix_shaper_profile("Adobe RGB (1998) compatible, test build", ADOBE_RGB_PRIMARIES, trc)


def display_p3_profile() -> bytes:
    """Display P3: DCI-P3 primaries, D65 white, the sRGB transfer curve (parametric type 3)."""
    params = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
    trc = b"para\x00\x00\x00\x00" + struct.pack(">HH", 3, 0) + b"".join(_s15f16(p) for p in params)
    return _matrix_shaper_profile("Display P3 compatible, test build", DISPLAY_P3_PRIMARIES, trc)


def srgb_decode(v: float) -> float:
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def srgb_encode(v: float) -> float:
    v = min(1.0, max(0.0, v))
    return v * 12.92 if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055


def toy_cmyk_profile() -> bytes:
    """A printer profile whose black ink only reaches 50 % grey.

    Real press profiles (SWOP, FOGRA) are large LUTs we cannot ship; this one is a
    valid lut16 profile (CMYK -> XYZ D50) whose unusual black makes it obvious whether a
    converter honoured the embedded profile (K=100 % -> mid grey) or ignored it (-> black).
    """
    grid = 5
    srgb_to_xyz_d50 = _adapt_d65_to_d50(rgb_to_xyz_matrix(((0.64, 0.33), (0.30, 0.60), (0.15, 0.06)), _D65))
    clut = bytearray()
    steps = [i / (grid - 1) for i in range(grid)]
    for c in steps:
        for m in steps:
            for y in steps:
                for k in steps:
                    rgb = ((1 - c) * (1 - k / 2), (1 - m) * (1 - k / 2), (1 - y) * (1 - k / 2))
                    xyz = _mat_vec(srgb_to_xyz_d50, tuple(srgb_decode(v) for v in rgb))  # type: ignore[arg-type]
                    clut += struct.pack(">3H", *(min(65535, round(v * 32768)) for v in xyz))
    identity = (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0)
    linear = struct.pack(">2H", 0, 65535)
    lut = (
        b"mft2\x00\x00\x00\x00"
        + bytes([4, 3, grid, 0])
        + b"".join(_s15f16(v) for v in identity)
        + struct.pack(">HH", 2, 2)
        + linear * 4
        + bytes(clut)
        + linear * 3
    )
    return _icc(
        b"prtr",
        b"CMYK",
        b"XYZ ",
        [
            (b"desc", _desc_tag("Toy CMYK, half-strength black, test build")),
            (b"cprt", _text_tag("No copyright, generated for tests")),
            (b"wtpt", _xyz_tag(_D50)),
            (b"A2B0", lut),
        ],
    )


# ---------------------------------------------------------------------------------------
# Decompression bombs, written without holding their pixels
# ---------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _zlib_of_repeats(block: bytes, count: int) -> bytes:
    """zlib stream of `block * count`, compressing `block` only twice.

    After a full flush the deflater starts from a clean state, so the same input gives the
    same output: the compressed block can be repeated instead of recompressed.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    assert comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH) == again
    adler = 1
    for _ in range(count):
        adler = zlib.adler32(block, adler)
    final_empty_stored_block = b"\x01\x00\x00\xff\xff"
    return b"\x78\xda" + first + again * (count - 1) + final_empty_stored_block + struct.pack(">I", adler)


def png_of_zeros(width: int, height: int, *, bit_depth: int, colour_type: int, channels: int) -> bytes:
    row = 1 + (width * channels * bit_depth + 7) // 8
    rows_per_block = next(n for n in (64, 50, 40, 32, 25, 20, 16, 10, 8, 5, 4, 2, 1) if height % n == 0)
    idat = _zlib_of_repeats(bytes(row * rows_per_block), height // rows_per_block)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def png_bomb_1bit(side: int = 30_000) -> bytes:
    return png_of_zeros(side, side, bit_depth=1, colour_type=0, channels=1)


def png_bomb_rgb(side: int = 12_000) -> bytes:
    return png_of_zeros(side, side, bit_depth=8, colour_type=2, channels=3)


def png_text_bomb() -> bytes:
    """A small valid PNG with a zTXt chunk that inflates to 200 MB."""
    small = encode(Image.new("RGB", (8, 8), (10, 20, 30)), "PNG")
    text = zlib.compressobj(9)
    payload = b"".join(text.compress(bytes(1 << 20)) for _ in range(200)) + text.flush()
    ztxt = _png_chunk(b"zTXt", b"Comment\x00\x00" + payload)
    return small[:33] + ztxt + small[33:]


def jpeg_claiming(width: int, height: int) -> bytes:
    """A tiny JPEG whose frame header is patched to claim width x height."""
    data = bytearray(encode(Image.new("RGB", (16, 16), (128, 128, 128)), "JPEG", quality=50))
    i = 2
    while i < len(data):
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", data, i + 5, height, width)
            return bytes(data)
        i += 2 + length
    raise AssertionError("no SOF marker")


class _BitWriter:
    def __init__(self) -> None:
        self.value = 0
        self.bits = 0

    def put(self, value: int, nbits: int) -> None:
        self.value |= value << self.bits
        self.bits += nbits

    def data(self) -> bytes:
        return self.value.to_bytes((self.bits + 7) // 8, "little")


def webp_lossless_constant(
    width: int, height: int, rgba: tuple[int, int, int, int] = (0, 0, 0, 255)
) -> bytes:
    """A valid lossless WebP of one colour at any size up to 16384².

    Each of the five prefix codes has a single symbol, which takes zero bits per pixel,
    so the whole bitstream is a few bytes whatever the canvas size.
    """
    bits = _BitWriter()
    bits.put(0x2F, 8)  # VP8L signature
    bits.put(width - 1, 14)
    bits.put(height - 1, 14)
    bits.put(1, 1)  # alpha used
    bits.put(0, 3)  # version
    bits.put(0, 1)  # no transform
    bits.put(0, 1)  # no colour cache
    bits.put(0, 1)  # no meta prefix codes
    r, g, b, a = rgba
    for symbol in (g, r, b, a, 0):  # green, red, blue, alpha, distance
        bits.put(1, 1)  # simple code
        bits.put(0, 1)  # one symbol
        bits.put(1, 1)  # 8-bit symbol
        bits.put(symbol, 8)
    payload = bits.data()
    if len(payload) % 2:
        payload += b"\x00"
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


# ---------------------------------------------------------------------------------------
# Damaged files
# ---------------------------------------------------------------------------------------


def truncated(data: bytes, fraction: float) -> bytes:
    return data[: max(1, int(len(data) * fraction))]


def bit_flipped(data: bytes, *, seed: int, flips: int = 8, start: int = 0) -> bytes:
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(flips):
        pos = rng.randrange(start, len(out))
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


# ---------------------------------------------------------------------------------------
# Files of refused types and disguises
# ---------------------------------------------------------------------------------------

SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
    b"<script>alert(document.cookie)</script><rect width='100' height='100'/></svg>"
)
HTML_PAGE = b"<!DOCTYPE html>\n<html><body><script>fetch('/steal')</script></body></html>"
XML_DOC = b'<?xml version="1.0" encoding="UTF-8"?>\n<listing><price>100</price></listing>'
POSTSCRIPT = b"%!PS-Adobe-3.0\n/Helvetica findfont 12 scalefont setfont 72 720 moveto (hi) show showpage\n"
EPS_TEXT = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\n%%EOF\n"
)


def binary_eps() -> bytes:
    """A DOS EPS binary header wrapping the PostScript above."""
    header_len = 30
    return (
        b"\xc5\xd0\xd3\xc6"
        + struct.pack("<IIIIII", header_len, len(EPS_TEXT), 0, 0, 0, 0)
        + b"\xff\xff"
        + EPS_TEXT
    )


def minimal_psd(width: int = 8, height: int = 8) -> bytes:
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)
    return header + sections + struct.pack(">H", 0) + bytes(3 * width * height)


def _small() -> Image.Image:
    return asymmetric_picture(32, 24)


def refused_image_files() -> dict[str, bytes]:
    """Files Pillow can open that we refuse, keyed by a label; name them .jpg at will."""
    small = _small()
    frames = [small, small.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    files = {
        "tiff": encode(small, "TIFF"),
        "psd": minimal_psd(),
        "bmp": encode(small, "BMP"),
        "gif": encode(small.convert("P"), "GIF"),
        "animated_gif": encode(
            frames[0].convert("P"), "GIF", save_all=True, append_images=[frames[1].convert("P")]
        ),
        "animated_png": encode(frames[0], "PNG", save_all=True, append_images=frames[1:]),
        "animated_webp": encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True),
        "ico": encode(small, "ICO"),
        "dds": encode(small.convert("RGBA"), "DDS"),
        "blp": encode(small.convert("P"), "BLP"),
        "icns": encode(small.resize((32, 32)), "ICNS"),
        "pcx": encode(small, "PCX"),
        "tga": encode(small, "TGA"),
        "ppm": encode(small, "PPM"),
        "jpeg2000": encode(small, "JPEG2000"),
        "avif": encode(small, "AVIF"),
        "eps_binary": binary_eps(),
    }
    return files


def disguised_files() -> dict[str, bytes]:
    """Documents and scripts that a careless check would take for pictures."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    pdf = io.BytesIO()
    writer.write(pdf)
    return {
        "svg": SVG_WITH_SCRIPT,
        "svg_no_xml_decl": b"\xef\xbb\xbf  <svg xmlns='http://www.w3.org/2000/svg'><script>x()</script></svg>",
        "html": HTML_PAGE,
        "html_leading_space": b"\n\n   <html><head><title>x</title></head></html>",
        "xml": XML_DOC,
        "postscript": POSTSCRIPT,
        "eps": EPS_TEXT,
        "pdf": pdf.getvalue(),
        "zip": _zip_bytes(),
        "empty": b"",
        "text": b"just some words, not a picture\n",
    }


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("evil.class", b"\xca\xfe\xba\xbe" + bytes(32))
    return buf.getvalue()


POLYGLOT_MARKERS = (b"<script", b"<html", b"<?php", b"PK\x03\x04")


def polyglots() -> dict[str, bytes]:
    """Valid image heads carrying a second payload (HTML, PHP, ZIP)."""
    base_png = encode(_small(), "PNG")
    html = b"<html><body><script>alert(1)</script></body></html>"
    text_chunk = _png_chunk(b"tEXt", b"Comment\x00" + html)
    png_html = base_png[:33] + text_chunk + base_png[33:] + html
    base_jpeg = encode(_small(), "JPEG", quality=90)
    php = b"<?php system($_GET['c']); ?>"
    jpeg_php_comment = encode(_small(), "JPEG", quality=90, comment=php + b" <script>x()</script>")
    return {
        "png_html": png_html,
        "jpeg_php_tail": base_jpeg + php,
        "jpeg_php_comment": jpeg_php_comment,
        "jpeg_zip": base_jpeg + _zip_bytes(),
    }


# ---------------------------------------------------------------------------------------
# PDFs
# ---------------------------------------------------------------------------------------


def _pdf(build: Callable[[object], None] | None = None, pages: int = 1) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    if build:
        build(writer)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def pdf_plain() -> bytes:
    return _pdf()


def pdf_pages(count: int) -> bytes:
    return _pdf(pages=count)


def pdf_encrypted() -> bytes:
    return _pdf(lambda w: w.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128"))


def pdf_owner_password_only() -> bytes:
    """Opens without a password but is still encrypted (permissions only)."""
    return _pdf(lambda w: w.encrypt(user_password="", owner_password="owner", algorithm="RC4-128"))


def pdf_attachment() -> bytes:
    return _pdf(lambda w: w.add_attachment("invoice.exe", b"MZ\x90\x00 not really a program"))


def pdf_javascript() -> bytes:
    """Document-level JavaScript in the /Names tree, as Acrobat writes it."""
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

    def build(writer) -> None:
        script = writer._add_object(_action("/JavaScript", JS="app.alert('hello');"))
        tree = DictionaryObject({NameObject("/Names"): ArrayObject([TextStringObject("init"), script])})
        writer._root_object[NameObject("/Names")] = DictionaryObject(
            {NameObject("/JavaScript"): writer._add_object(tree)}
        )

    return _pdf(build)


def _set_root(key: str, value_factory: Callable[[], object]) -> Callable[[object], None]:
    from pypdf.generic import NameObject

    def build(writer) -> None:
        writer._root_object[NameObject(key)] = value_factory()

    return build


def _action(kind: str, **entries: object) -> object:
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    action = DictionaryObject({NameObject("/S"): NameObject(kind)})
    for key, value in entries.items():
        action[NameObject(f"/{key}")] = TextStringObject(value) if isinstance(value, str) else value
    return action


def pdf_open_action_js() -> bytes:
    return _pdf(_set_root("/OpenAction", lambda: _action("/JavaScript", JS="app.launchURL('http://x');")))


def pdf_open_action_launch() -> bytes:
    return _pdf(_set_root("/OpenAction", lambda: _action("/Launch", F="calc.exe")))


def pdf_open_action_destination() -> bytes:
    """A harmless /OpenAction: open on page 1, fit to window."""
    from pypdf.generic import ArrayObject, NameObject

    def build(writer) -> None:
        first = writer.pages[0].indirect_reference
        writer._root_object[NameObject("/OpenAction")] = ArrayObject([first, NameObject("/Fit")])

    return _pdf(build)


def pdf_hyperref() -> bytes:
    """Shaped like what pdfTeX with LaTeX's hyperref writes: open on page 1 fitted to the window
    through a GoTo action (an object of its own), outlines and links to named destinations,
    and a link to a web page."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Outlines 6 0 R /Names 8 0 R /PageMode /UseOutlines"
            b" /OpenAction 10 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots [4 0 R 5 0 R] >>",
            b"<< /Type /Annot /Subtype /Link /Border [0 0 0] /Rect [72 700 200 712]"
            b" /A << /S /GoTo /D (section.1) >> >>",
            b"<< /Type /Annot /Subtype /Link /Border [0 0 0] /Rect [72 680 200 692]"
            b" /A << /Type /Action /S /URI /URI (https://www.ctan.org/pkg/hyperref) >> >>",
            b"<< /Type /Outlines /First 7 0 R /Last 7 0 R /Count -1 >>",
            b"<< /Title (Introduction) /A << /S /GoTo /D (section.1) >> /Parent 6 0 R >>",
            b"<< /Dests 9 0 R >>",
            b"<< /Names [(Doc-Start) [3 0 R /XYZ 72 720 null] (page.1) [3 0 R /XYZ 72 720 null]"
            b" (section.1) [3 0 R /XYZ 72 700 null]] /Limits [(Doc-Start) (section.1)] >>",
            b"<< /S /GoTo /D [3 0 R /Fit] >>",
        ]
    )


def pdf_open_action(action: bytes, *extra: bytes) -> bytes:
    """One page whose /OpenAction is `action` (written as is, so `4 0 R` names the first of
    `extra`); the page is `3 0 R` and its named destination `(page.1)` / `/Start`."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Names << /Dests << /Names [(page.1) [3 0 R /Fit]] >> >>"
            b" /Dests << /Start [3 0 R /Fit] >> /OpenAction " + action + b" >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
            *extra,
        ]
    )


def pdf_page_additional_action() -> bytes:
    from pypdf.generic import DictionaryObject, NameObject

    def build(writer) -> None:
        aa = DictionaryObject({NameObject("/O"): _action("/JavaScript", JS="app.alert(1)")})
        writer.pages[0][NameObject("/AA")] = aa

    return _pdf(build)


def pdf_rich_media() -> bytes:
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject

    def build(writer) -> None:
        annot = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/RichMedia"),
                NameObject("/Rect"): ArrayObject([NumberObject(0)] * 4),
            }
        )
        writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(annot)])

    return _pdf(build)


def pdf_xfa_form() -> bytes:
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject

    return _pdf(
        _set_root(
            "/AcroForm",
            lambda: DictionaryObject(
                {NameObject("/Fields"): ArrayObject(), NameObject("/XFA"): ArrayObject()}
            ),
        )
    )


def pdf_plain_form() -> bytes:
    """An AcroForm with one text field and no actions: acceptable."""
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, TextStringObject

    def build(writer) -> None:
        field = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/Widget"),
                NameObject("/FT"): NameObject("/Tx"),
                NameObject("/T"): TextStringObject("buyer"),
                NameObject("/Rect"): ArrayObject([NumberObject(v) for v in (50, 50, 200, 80)]),
            }
        )
        ref = writer._add_object(field)
        writer.pages[0][NameObject("/Annots")] = ArrayObject([ref])
        writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
            {NameObject("/Fields"): ArrayObject([ref])}
        )

    return _pdf(build)


def raw_pdf(objects: list[bytes], *, root: int = 1, size: int | None = None) -> bytes:
    """A hand-written PDF with a correct xref table, for structures pypdf will not write."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        size or len(objects) + 1,
        root,
        xref,
    )
    return bytes(out)


def pdf_hex_escaped_javascript() -> bytes:
    """/JavaScript spelt with #-escapes, which a byte search would miss."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
            b"<< /S /J#61va#53cript /J#53 (app.alert(1)) >>",
        ]
    )


def pdf_cyclic_pages() -> bytes:
    """A page tree whose /Kids point back at itself."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
            b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
        ]
    )


def pdf_cyclic_trailer() -> bytes:
    """An xref whose /Prev points at itself, the classic parser loop."""
    body = raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ]
    )
    xref_at = int(body.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    return body.replace(b"/Root 1 0 R >>", b"/Root 1 0 R /Prev %d >>" % xref_at)


def pdf_many_objects(count: int) -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ]
    objects += [b"null"] * (count - len(objects))
    return raw_pdf(objects)


def pdf_garbage_after_header() -> bytes:
    return b"%PDF-1.7\n" + random.Random(7).randbytes(2000)


def pdf_with_many_pages_claim() -> bytes:
    """/Count says a million pages, the tree holds one."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1000000 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ]
    )


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference over all RGB samples, in 0..255 units."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


def psnr(a: Image.Image, b: Image.Image) -> float:
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    mse = sum(ImageStat.Stat(diff).sum2) / (3 * diff.width * diff.height)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)
