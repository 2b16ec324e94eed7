"""What runs inside the isolation fork server (see `media_manager.isolation`, the parent side).

Three generations of processes, none of them with Django:

- the fork server: a fresh interpreter started once per parent process, Pillow, pillow-heif,
  pypdf and the pipeline already imported; it only waits on its control socket for requests
  and forks one monitor per request, so it never touches a file itself;
- the monitor: forks the job process, tells the parent its pid, enforces the wall-clock
  timeout (it kills the job, and kills it too if the parent hangs up) and reports how the job
  ended, with its CPU time, from `wait4`;
- the job process: sets its limits, runs one operation and writes one JSON header line plus
  raw bytes to the reply file the parent passed, exactly as a fresh child did before.

A job that crashes, loops or allocates without bound takes down only itself: the server and
the monitor never decode anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import resource
import select
import signal
import socket
import sys
import time
from dataclasses import asdict
from typing import Any

from media_manager.checks import MediaLimits, UploadRejected, inspect_pdf, inspect_photo

# One request: a JSON object and three descriptors (job socket, reply file, error file).
MAX_REQUEST_BYTES = 1 << 16
REQUEST_FDS = 3


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
    # VmHWM belongs to this address space (reset when the job starts, see _reset_peak_rss);
    # ru_maxrss would carry the fork server's peak over the fork.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak_rss() -> None:
    # "5" resets VmHWM to the current RSS: the job's peak then starts from the pages it
    # shares with the fork server, not from whatever the server once held.
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def _op_inspect_photo(
    path: str, limits: MediaLimits, options: dict[str, Any]
) -> tuple[dict, dict[str, bytes]]:
    return asdict(inspect_photo(path, limits)), {}


def _op_inspect_pdf(path: str, limits: MediaLimits, options: dict[str, Any]) -> tuple[dict, dict[str, bytes]]:
    return asdict(inspect_pdf(path, limits)), {}


def _op_process_photo(
    path: str, limits: MediaLimits, options: dict[str, Any]
) -> tuple[dict, dict[str, bytes]]:
    from media_manager import pipeline

    result = pipeline.process_photo(
        path,
        limits=limits,
        rotate_quarter_turns=int(options.get("rotate_quarter_turns", 0)),
        variants=options.get("variants", pipeline.VARIANTS),
        source_sha256=options.get("source_sha256"),
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
    elif how == "abort":
        os.abort()  # SIGABRT, as a C library's failed assertion ends
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
        time.sleep(3600)  # past the wall-clock timeout: killed by the monitor
    elif how == "flood":
        chunk = b"x" * (1 << 20)
        while True:  # past RLIMIT_FSIZE: EFBIG, the parent never reads more than the cap
            sys.stdout.buffer.write(chunk)
    elif how == "kill_server":
        os.kill(os.getppid(), signal.SIGKILL)  # the monitor; tests kill the server from outside
    return {"how": how}, {}


OPERATIONS = {
    "inspect_photo": _op_inspect_photo,
    "inspect_pdf": _op_inspect_pdf,
    "process_photo": _op_process_photo,
    "_selftest": _op_selftest,
}


# ---------------------------------------------------------------------------------------
# The fork server
# ---------------------------------------------------------------------------------------


def _preload() -> None:
    """Import every decoder a job may need, once, before the first fork."""
    from PIL import Image, JpegImagePlugin, PngImagePlugin, WebPImagePlugin  # noqa: F401

    import media_manager.pipeline  # noqa: F401
    from media_manager.checks import register_heif

    register_heif()
    Image.preinit()
    import pypdf  # noqa: F401

    _warm_up()

    # Objects that live for the server's lifetime: out of the collector's sight, so a job's
    # collections do not write to (and copy) every page the server shares with it.
    gc.collect()
    gc.freeze()


def _warm_up() -> None:
    """Check and process one small photo in the server itself, so what Pillow and the
    interpreter set up on first use is in every job from its fork, not redone per job."""
    import tempfile

    from PIL import Image

    from media_manager import pipeline

    with tempfile.NamedTemporaryFile(suffix=".jpg") as sample:
        Image.new("RGB", (96, 64), (90, 120, 150)).save(sample, format="JPEG", quality=90)
        sample.flush()
        inspect_photo(sample.name, MediaLimits())
        pipeline.process_photo(sample.name, limits=MediaLimits())


def serve(control_fd: int) -> None:
    """The fork server's loop: one monitor per request, until the parent hangs up."""
    control = socket.socket(fileno=control_fd)
    _preload()
    # Monitors are reaped here, not by the kernel (SIG_IGN): a reaped child's CPU, its job's
    # included, then adds up in this server's cutime/cstime, so the parent's process tree
    # accounts for every job (bench/photos/portal.py, top, accounting). Each monitor
    # restores SIGCHLD to wait for its job itself.
    signal.signal(signal.SIGCHLD, _reap_monitors)
    while True:
        try:
            message, fds, flags, _ = socket.recv_fds(control, MAX_REQUEST_BYTES, REQUEST_FDS)
        except ConnectionResetError:
            return
        if not message and not fds:
            return  # the parent closed its end, or exited
        if len(fds) != REQUEST_FDS or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
            for fd in fds:
                os.close(fd)
            continue
        if os.fork() == 0:
            code = 1
            try:
                control.close()
                _monitor(message, *fds)
                code = 0
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)


def _reap_monitors(_signum: int = 0, _frame: object = None) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _monitor(message: bytes, job_fd: int, reply_fd: int, errors_fd: int) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    job = socket.socket(fileno=job_fd)
    request = json.loads(message)
    pid = os.fork()
    if pid == 0:
        try:
            job.close()
            _run_job(request, reply_fd, errors_fd)
        finally:
            os._exit(0)
    os.close(reply_fd)
    os.close(errors_fd)
    job.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    pidfd = os.pidfd_open(pid)
    deadline = time.monotonic() + float(request["timeout"])
    ended_by = ""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            ended_by = "timeout"
            break
        ready, _, _ = select.select([pidfd, job.fileno()], [], [], remaining)
        if pidfd in ready:
            break
        if job.fileno() in ready:
            ended_by = "parent"  # the parent gave up on the job or went away
            break
    if ended_by:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    own = resource.getrusage(resource.RUSAGE_SELF)
    report = {
        "wait_status": status,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "monitor_cpu_seconds": own.ru_utime + own.ru_stime,
        "timed_out": ended_by == "timeout",
    }
    with contextlib.suppress(OSError):
        job.sendall(json.dumps(report).encode() + b"\n")


def _run_job(request: dict[str, Any], reply_fd: int, errors_fd: int) -> None:
    # The reply and error files take the places of stdout and stderr, as for a fresh child.
    os.dup2(reply_fd, 1)
    os.dup2(errors_fd, 2)
    os.close(reply_fd)
    os.close(errors_fd)
    _set_limits(int(request["memory_limit"]), int(request["cpu_seconds"]), int(request["max_reply_bytes"]))
    _reset_peak_rss()
    header: dict[str, Any]
    blobs: dict[str, bytes] = {}
    started, started_cpu = time.perf_counter(), time.process_time()
    try:
        limits = MediaLimits(**request["limits"])
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


def main() -> None:
    serve(int(sys.argv[1]))
