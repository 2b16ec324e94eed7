"""Run the checks and the photo pipeline in a disposable child process with hard limits.

Image and PDF decoders are large C and Python libraries fed with files from the internet;
when one of them crashes, loops or allocates without bound, only the child dies:

- the child is a fresh interpreter (`python -I -B`, minimal environment), started per
  call with `subprocess`, so it works the same under Celery, gunicorn and pytest and
  shares no state with the parent;
- before it reads its request it sets RLIMIT_AS (1 GiB), RLIMIT_CPU (10 s: SIGXCPU,
  then SIGKILL), RLIMIT_FSIZE (64 MiB, which also caps its reply), RLIMIT_CORE 0 and
  RLIMIT_NOFILE;
- the parent waits at most `timeout` seconds of wall time, then kills it;
- results come back as one JSON header line plus raw bytes, never as a pickle, so a
  compromised child cannot run code in the parent; output JPEGs are checked again in
  the parent (JPEG markers, no metadata segments) before they are returned.

A child that dies, times out, runs out of memory or sends something malformed becomes
`UploadRejected(code="processing_failed")` with a plain reason; the parent carries on.
Start-up costs ~90 ms of CPU (interpreter + Pillow, measured on the shared 2-core test
machine); pillow-heif and pypdf load only when the file needs them.

Public API: `process_photo_isolated`, `inspect_photo_isolated`, `inspect_pdf_isolated`,
and `run_isolated` (the same with the child's peak memory and CPU time, for tests and
benchmarks). What runs inside the child is `media_manager.isolation_child`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from media_manager import isolation_child
from media_manager.checks import (
    PHOTO_FORMATS,
    MediaLimits,
    PdfInspection,
    PhotoInspection,
    RejectCode,
    UploadRejected,
)
from media_manager.pipeline import ProcessedPhoto, jpeg_is_clean

logger = logging.getLogger(__name__)

MEMORY_LIMIT_BYTES = 1 << 30
CPU_LIMIT_SECONDS = 10
WALL_TIMEOUT_SECONDS = 14.0

_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
_CHILD_CODE = (
    f"import sys; sys.path.insert(0, {_PROJECT_ROOT!r}); from {isolation_child.__name__} import main; main()"
)
_MAX_HEADER_BYTES = 1 << 20
MAX_REPLY_BYTES = 64 << 20  # master <= 5 MiB plus variants, with room to spare

COULD_NOT_PROCESS_PHOTO = (
    "We could not process this photo: the file may be damaged or too demanding to decode. "
    "Export it again as a JPEG and re-upload it."
)
COULD_NOT_CHECK_PDF = (
    "We could not check this PDF: the file may be damaged or too complex. "
    "Print it to a new PDF (File → Print → Save as PDF) and upload that copy."
)


@dataclass(frozen=True, slots=True)
class ChildStats:
    peak_rss_bytes: int  # the child's own high-water mark (VmHWM), start-up included
    cpu_seconds: float  # user + system CPU of the child, start-up included
    work_seconds: float  # wall time of the operation itself, inside the child
    work_cpu_seconds: float  # CPU time of the operation itself (steady on a busy machine)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a child run produced: a value, or a rejection; stats when the child reported."""

    value: Any
    rejected: UploadRejected | None
    stats: ChildStats | None
    elapsed_seconds: float  # as seen by the parent, process start-up included

    def unwrap(self) -> Any:
        if self.rejected is not None:
            raise self.rejected
        return self.value


def process_photo_isolated(
    source_path: str | os.PathLike[str],
    *,
    limits: MediaLimits,
    rotate_quarter_turns: int = 0,
    variants: Mapping[str, int] | None = None,
    timeout: float = WALL_TIMEOUT_SECONDS,
) -> ProcessedPhoto:
    """`pipeline.process_photo` in a sandboxed child; same result, same exceptions, plus
    `UploadRejected(code="processing_failed")` when the child dies or overruns."""
    options: dict[str, Any] = {"rotate_quarter_turns": rotate_quarter_turns}
    if variants is not None:
        options["variants"] = dict(variants)
    return run_isolated(
        "process_photo", source_path, limits=limits, options=options, timeout=timeout
    ).unwrap()


def inspect_photo_isolated(
    path: str | os.PathLike[str], limits: MediaLimits, *, timeout: float = WALL_TIMEOUT_SECONDS
) -> PhotoInspection:
    """`checks.inspect_photo` in a sandboxed child (~90 ms start-up on top)."""
    return run_isolated("inspect_photo", path, limits=limits, timeout=timeout).unwrap()


def inspect_pdf_isolated(
    path: str | os.PathLike[str], limits: MediaLimits, *, timeout: float = WALL_TIMEOUT_SECONDS
) -> PdfInspection:
    """`checks.inspect_pdf` in a sandboxed child (~160 ms of CPU start-up on top: pypdf)."""
    return run_isolated("inspect_pdf", path, limits=limits, timeout=timeout).unwrap()


def run_isolated(
    op: str,
    path: str | os.PathLike[str],
    *,
    limits: MediaLimits,
    options: Mapping[str, Any] | None = None,
    memory_limit: int = MEMORY_LIMIT_BYTES,
    cpu_seconds: int = CPU_LIMIT_SECONDS,
    timeout: float = WALL_TIMEOUT_SECONDS,
) -> Outcome:
    """Run `op` on `path` in a fresh child under the limits; never raises for child failures.

    `op` is one of "inspect_photo", "inspect_pdf", "process_photo", or "_selftest" (makes
    the child misbehave on purpose: options={"how": "segfault" | "sigkill" | "allocate" |
    "spin" | "sleep" | "flood"}; used by the tests to prove the limits hold).
    """
    if op not in isolation_child.OPERATIONS:
        raise ValueError(f"unknown isolated operation {op!r}")
    request = json.dumps(
        {"op": op, "path": os.fspath(path), "limits": limits.as_dict(), "options": dict(options or {})}
    ).encode()
    argv = [
        sys.executable,
        "-I",
        "-B",
        "-c",
        _CHILD_CODE,
        str(memory_limit),
        str(cpu_seconds),
        str(MAX_REPLY_BYTES),
    ]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "MALLOC_ARENA_MAX": "2"}
    started = time.perf_counter()
    # Replies go to unlinked temporary files, not pipes: the child's RLIMIT_FSIZE then caps
    # what it can make the parent read, and nothing is left on disk whatever happens.
    with tempfile.TemporaryFile() as reply, tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=reply, stderr=errors, env=env, close_fds=True
        )
        try:
            proc.communicate(request, timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            timed_out = True
        elapsed = time.perf_counter() - started
        reply.seek(0)
        out = reply.read(MAX_REPLY_BYTES + 1)
        errors.seek(max(0, errors.seek(0, os.SEEK_END) - 2000))
        err = errors.read()

    failed = UploadRejected(
        RejectCode.PROCESSING_FAILED, COULD_NOT_CHECK_PDF if op == "inspect_pdf" else COULD_NOT_PROCESS_PHOTO
    )
    if timed_out or proc.returncode != 0:
        cause = f"timed out after {timeout:.0f} s" if timed_out else _describe_exit(proc.returncode)
        logger.warning(
            "Isolated %s of %s failed: %s; stderr: %s", op, path, cause, err.decode(errors="replace")
        )
        return Outcome(value=None, rejected=failed, stats=None, elapsed_seconds=elapsed)
    try:
        header, blobs = _split_reply(out)
        stats = ChildStats(**header["stats"])
        if header["status"] == "rejected":
            rejected = UploadRejected(RejectCode(header["code"]), str(header["reason"])[:1000])
            return Outcome(value=None, rejected=rejected, stats=stats, elapsed_seconds=elapsed)
        if header["status"] != "ok":
            logger.warning(
                "Isolated %s of %s failed in the child: %s", op, path, str(header.get("error"))[:2000]
            )
            return Outcome(value=None, rejected=failed, stats=stats, elapsed_seconds=elapsed)
        value = _PARSERS[op](header["value"], blobs)
    except (ValueError, KeyError, TypeError) as exc:
        logger.error("Isolated %s of %s sent a malformed reply: %r", op, path, exc)
        return Outcome(value=None, rejected=failed, stats=None, elapsed_seconds=elapsed)
    return Outcome(value=value, rejected=None, stats=stats, elapsed_seconds=elapsed)


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def _split_reply(out: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    if len(out) > MAX_REPLY_BYTES:
        raise ValueError("reply too large")
    end = out.find(b"\n", 0, _MAX_HEADER_BYTES)
    if end < 0:
        raise ValueError("no header line")
    header = json.loads(out[:end])
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    blobs: dict[str, bytes] = {}
    offset = end + 1
    for name, length in header.get("blobs", []):
        if not isinstance(name, str) or not isinstance(length, int) or length < 0:
            raise ValueError("bad blob entry")
        blobs[name] = out[offset : offset + length]
        offset += length
    if offset != len(out):
        raise ValueError("reply length does not match its header")
    return header, blobs


# ---------------------------------------------------------------------------------------
# Parent side: turn the child's JSON back into typed results, trusting nothing
# ---------------------------------------------------------------------------------------

_HEX64 = re.compile(r"[0-9a-f]{64}")


def _positive_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 1 << 20:
        raise ValueError(f"bad dimension {value!r}")
    return value


def _warnings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise ValueError("bad warnings")
    return [w[:1000] for w in value[:20]]


def _parse_photo_inspection(value: dict[str, Any], _blobs: dict[str, bytes]) -> PhotoInspection:
    if value["format"] not in PHOTO_FORMATS:
        raise ValueError("bad format")
    return PhotoInspection(
        format=value["format"],
        width=_positive_int(value["width"]),
        height=_positive_int(value["height"]),
        warnings=_warnings(value["warnings"]),
    )


def _parse_pdf_inspection(value: dict[str, Any], _blobs: dict[str, bytes]) -> PdfInspection:
    return PdfInspection(pages=_positive_int(value["pages"]))


def _parse_processed(value: dict[str, Any], blobs: dict[str, bytes]) -> ProcessedPhoto:
    for name, data in blobs.items():
        if not jpeg_is_clean(data):
            raise ValueError(f"output {name!r} is not a clean JPEG")
    sizes = {name: (_positive_int(w), _positive_int(h)) for name, (w, h) in value["sizes"].items()}
    if set(blobs) != {"master", *sizes}:
        raise ValueError("outputs do not match their sizes")
    phash = value["phash"]
    if not isinstance(phash, int) or not -(1 << 63) <= phash < 1 << 63:
        raise ValueError("bad phash")
    if not isinstance(value["sha256"], str) or not _HEX64.fullmatch(value["sha256"]):
        raise ValueError("bad sha256")
    if value["source_format"] not in PHOTO_FORMATS:
        raise ValueError("bad format")
    return ProcessedPhoto(
        master=blobs["master"],
        variants={name: blobs[name] for name in sizes},
        width=_positive_int(value["width"]),
        height=_positive_int(value["height"]),
        sizes=sizes,
        sha256=value["sha256"],
        phash=phash,
        source_format=value["source_format"],
        warnings=_warnings(value["warnings"]),
    )


_PARSERS = {
    "inspect_photo": _parse_photo_inspection,
    "inspect_pdf": _parse_pdf_inspection,
    "process_photo": _parse_processed,
    "_selftest": lambda value, blobs: value,
}
