"""What runs inside the isolated child (see `media_manager.isolation`, the parent side).

The child is a fresh interpreter without Django: it sets its limits, reads one JSON request
on stdin, runs one operation and writes one JSON header line plus raw bytes on stdout. It
loads only what its operation needs, so an inspection child never pays for the pipeline.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import sys
import time
from dataclasses import asdict
from typing import Any

from media_manager.checks import MediaLimits, UploadRejected, inspect_pdf, inspect_photo


def _set_limits(memory_limit: int, cpu_seconds: int, max_file_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Caps the reply file too: no file of ours, written or not, can exceed it.
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
    # Past FSIZE a write must fail with EFBIG (and the child report), not die of SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _peak_rss_bytes() -> int:
    # VmHWM belongs to this address space; ru_maxrss would carry the parent's peak over
    # the fork+exec on Linux.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _op_inspect_photo(
    path: str, limits: MediaLimits, options: dict[str, Any]
) -> tuple[dict, dict[str, bytes]]:
    return asdict(inspect_photo(path, limits)), {}


def _op_inspect_pdf(path: str, limits: MediaLimits, options: dict[str, Any]) -> tuple[dict, dict[str, bytes]]:
    return asdict(inspect_pdf(path, limits)), {}


def _op_process_photo(
    path: str, limits: MediaLimits, options: dict[str, Any]
) -> tuple[dict, dict[str, bytes]]:
    # Pillow's colour management and the pipeline cost ~50 ms of CPU and ~10 MB in a child:
    # only a child that processes a photo loads them.
    from media_manager import pipeline

    result = pipeline.process_photo(
        path,
        limits=limits,
        rotate_quarter_turns=int(options.get("rotate_quarter_turns", 0)),
        variants=options.get("variants", pipeline.VARIANTS),
    )
    value = {
        "width": result.width,
        "height": result.height,
        "sizes": result.sizes,
        "sha256": result.sha256,
        "phash": result.phash,
        "source_format": result.source_format,
        "warnings": result.warnings,
    }
    return value, {"master": result.master, **result.variants}


def _op_selftest(path: str, limits: MediaLimits, options: dict[str, Any]) -> tuple[dict, dict[str, bytes]]:
    how = options.get("how")
    if how == "segfault":
        ctypes.string_at(0)
    elif how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif how == "allocate":
        blocks = []
        while True:  # past RLIMIT_AS: MemoryError, or the kernel refuses the mapping
            blocks.append(bytearray(64 << 20))
    elif how == "spin":
        while True:  # past RLIMIT_CPU: SIGXCPU
            pass
    elif how == "sleep":
        time.sleep(3600)  # past the parent's wall-clock timeout: killed by the parent
    elif how == "flood":
        chunk = b"x" * (1 << 20)
        while True:  # past RLIMIT_FSIZE: EFBIG, the parent never reads more than the cap
            sys.stdout.buffer.write(chunk)
    return {"how": how}, {}


OPERATIONS = {
    "inspect_photo": _op_inspect_photo,
    "inspect_pdf": _op_inspect_pdf,
    "process_photo": _op_process_photo,
    "_selftest": _op_selftest,
}


_PRELOAD = {"inspect_photo": "PIL.Image", "process_photo": "media_manager.pipeline", "inspect_pdf": "pypdf"}


def main() -> None:
    _set_limits(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
    header: dict[str, Any]
    blobs: dict[str, bytes] = {}
    started, started_cpu = time.perf_counter(), time.process_time()
    try:
        request = json.loads(sys.stdin.buffer.read())
        limits = MediaLimits(**request["limits"])
        if module := _PRELOAD.get(request["op"]):
            # Imports are start-up, not work: keep them out of work_seconds.
            __import__(module)
        started, started_cpu = time.perf_counter(), time.process_time()
        value, blobs = OPERATIONS[request["op"]](request["path"], limits, request["options"])
        header = {"status": "ok", "value": value}
    except UploadRejected as rejected:
        header = {"status": "rejected", "code": str(rejected.code), "reason": rejected.reason}
    except BaseException as exc:  # the parent decides; report whatever broke
        blobs = {}
        header = {"status": "error", "error": type(exc).__name__}
        with contextlib.suppress(BaseException):
            header["error"] = f"{type(exc).__name__}: {exc}"[:2000]
    # Leaving the except block drops the traceback and, with it, whatever the failed
    # operation still held (after a MemoryError: everything up to the cap).
    usage = resource.getrusage(resource.RUSAGE_SELF)
    header["stats"] = {
        "peak_rss_bytes": _peak_rss_bytes(),
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "work_seconds": time.perf_counter() - started,
        "work_cpu_seconds": time.process_time() - started_cpu,
    }
    header["blobs"] = [[name, len(data)] for name, data in blobs.items()]
    out = sys.stdout.buffer
    out.write(json.dumps(header).encode() + b"\n")
    for data in blobs.values():
        out.write(data)
    out.flush()
