"""What runs inside the isolation fork server (see `media_manager.isolation`, the parent side).

Two generations of processes, neither with Django:

- the fork server: a fresh interpreter started once per parent process, Pillow, pillow-heif,
  pypdf and the pipeline already imported; it waits on its control socket for requests, forks
  one job per request (it never touches a file itself), tells the parent the job's pid, and
  watches every job in flight from one loop: its exit through a pidfd, its wall-clock
  deadline (it kills the job), its parent hanging up (it kills the job too); it reaps the job
  with `wait4` and reports how it ended, with its CPU time. One fork per job: no monitor
  process, whose fork and bookkeeping cost as much CPU as a small job;
- the job process: sets its limits (and an alarm a second past its timeout, so a job whose
  server died still ends), runs one operation and writes one JSON header line plus raw
  bytes to the reply file the parent passed, exactly as a fresh child did before.

A job that crashes, loops or allocates without bound takes down only itself: the server
never decodes anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import math
import os
import resource
import selectors
import signal
import socket
import sys
import time
from dataclasses import asdict, dataclass
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
        time.sleep(3600)  # past the wall-clock timeout: killed by the server
    elif how == "flood":
        chunk = b"x" * (1 << 20)
        while True:  # past RLIMIT_FSIZE: EFBIG, the parent never reads more than the cap
            sys.stdout.buffer.write(chunk)
    elif how == "kill_server":
        os.kill(os.getppid(), signal.SIGKILL)  # the fork server itself
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

    import media_manager.pipeline
    from media_manager.checks import register_heif

    register_heif()
    Image.preinit()
    import pypdf  # noqa: F401

    _warm_up()
    # libvips' classes set up here, its threads never started: they would not survive the fork.
    media_manager.pipeline.prepare_vips_for_fork()

    # Objects that live for the server's lifetime: out of the collector's sight, so a job's
    # collections do not write to (and copy) every page the server shares with it.
    gc.collect()
    gc.freeze()


def _warm_up() -> None:
    """Check and process one small photo in the server itself, so what Pillow and the
    interpreter set up on first use is in every job from its fork, not redone per job.
    The photo is smaller than every output, so nothing is resized: a libvips resize here
    would start threads that the forked jobs would lack (see `prepare_vips_for_fork`)."""
    import tempfile

    from PIL import Image

    from media_manager import pipeline

    # With an EXIF orientation, as cameras and phones write: reading it loads Pillow's TIFF
    # and ImageOps modules, ~2-3 ms of CPU that every job would otherwise pay again.
    exif = Image.Exif()
    exif[0x0112] = 6
    with tempfile.NamedTemporaryFile(suffix=".jpg") as sample:
        Image.new("RGB", (96, 64), (90, 120, 150)).save(sample, format="JPEG", quality=90, exif=exif)
        sample.flush()
        inspect_photo(sample.name, MediaLimits())
        pipeline.process_photo(sample.name, limits=MediaLimits())


@dataclass(slots=True)
class _Job:
    """A job in flight, as the server watches it."""

    pid: int
    pidfd: int
    reply: socket.socket  # the parent's end of this job: the report goes here
    deadline: float
    fork_cpu_seconds: float
    timed_out: bool = False
    reaped: bool = False


def _own_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def serve(control_fd: int) -> None:
    """The fork server's loop: one fork per request, and the watch over every job in flight
    (its exit through a pidfd, its wall-clock deadline, its parent hanging up), until the
    parent closes the control socket."""
    control = socket.socket(fileno=control_fd)
    _preload()
    # Jobs are reaped here, with wait4 once their pidfd says they ended: their CPU then adds
    # up in this server's cutime/cstime, so the parent's process tree accounts for every job
    # (bench/photos/portal.py, top, accounting), and their exit status reaches the parent.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, None)
    jobs: dict[int, _Job] = {}  # by pid, until reaped
    listening = True
    while listening or jobs:
        now = time.monotonic()
        for job in jobs.values():
            if not job.timed_out and job.deadline <= now:
                job.timed_out = True
                _kill(job)  # reaped, and reported, when its pidfd turns readable
        waiting = [job.deadline - now for job in jobs.values() if not job.timed_out]
        for key, _ in selector.select(max(0.0, min(waiting)) if waiting else None):
            if key.data is None:
                if not _accept(control, selector, jobs):
                    # The parent closed its end (shutdown, exit): no new jobs, but the
                    # ones in flight are still watched, reaped and reported.
                    listening = False
                    selector.unregister(control)
                    control.close()
                continue
            # Events carry the job itself, not a descriptor number: a job reaped earlier in
            # this same batch may have had its pidfd's number reused by a new job already.
            what, job = key.data
            if job.reaped:
                continue
            if what == "exit":
                _reap(job, selector)
                del jobs[job.pid]
            else:
                _kill(job)  # the parent gave up on the job or went away
                selector.unregister(job.reply)


def _accept(control: socket.socket, selector: selectors.BaseSelector, jobs: dict[int, _Job]) -> bool:
    """Fork the job of one request; False once the parent has hung up."""
    try:
        message, fds, flags, _ = socket.recv_fds(control, MAX_REQUEST_BYTES, REQUEST_FDS)
    except ConnectionResetError:
        return False
    if not message and not fds:
        return False
    if len(fds) != REQUEST_FDS or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        for fd in fds:
            os.close(fd)
        return True
    reply_fd, result_fd, errors_fd = fds
    reply = socket.socket(fileno=reply_fd)
    try:
        request = json.loads(message)
        deadline = time.monotonic() + float(request["timeout"])
    except (ValueError, KeyError, TypeError):
        reply.close()
        os.close(result_fd)
        os.close(errors_fd)
        return True
    before = _own_cpu()
    pid = os.fork()
    if pid == 0:
        try:
            # Nothing of the server's stays open in the job but its own socket to the
            # parent: should the server die, the parent then sees the job end (EOF) rather
            # than the server die. No other job's socket: their parents must see that.
            selector.close()
            control.close()
            for job in jobs.values():
                os.close(job.pidfd)
                job.reply.close()
            _run_job(request, result_fd, errors_fd)
        finally:
            os._exit(0)
    fork_cpu = _own_cpu() - before
    os.close(result_fd)
    os.close(errors_fd)
    pidfd = os.pidfd_open(pid)
    job = _Job(pid=pid, pidfd=pidfd, reply=reply, deadline=deadline, fork_cpu_seconds=fork_cpu)
    jobs[pid] = job
    selector.register(pidfd, selectors.EVENT_READ, ("exit", job))
    selector.register(reply, selectors.EVENT_READ, ("parent", job))
    with contextlib.suppress(OSError):
        reply.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    return True


def _kill(job: _Job) -> None:
    # Through the pidfd: the pid of a job that already ended cannot be someone else's.
    with contextlib.suppress(ProcessLookupError, OSError):
        signal.pidfd_send_signal(job.pidfd, signal.SIGKILL)


def _reap(job: _Job, selector: selectors.BaseSelector) -> None:
    _, status, usage = os.wait4(job.pid, 0)
    job.reaped = True
    for fileobj in (job.pidfd, job.reply):
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(fileobj)
    os.close(job.pidfd)
    report = {
        "wait_status": status,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "page_faults": usage.ru_minflt + usage.ru_majflt,
        "isolation_cpu_seconds": job.fork_cpu_seconds,
        "timed_out": job.timed_out,
    }
    with contextlib.suppress(OSError), job.reply:
        job.reply.sendall(json.dumps(report).encode() + b"\n")


def _run_job(request: dict[str, Any], reply_fd: int, errors_fd: int) -> None:
    # The reply and error files take the places of stdout and stderr, as for a fresh child.
    os.dup2(reply_fd, 1)
    os.dup2(errors_fd, 2)
    os.close(reply_fd)
    os.close(errors_fd)
    _set_limits(int(request["memory_limit"]), int(request["cpu_seconds"]), int(request["max_reply_bytes"]))
    # The server kills the job at its timeout; SIGALRM (default action: terminate) is the
    # backstop should the server itself be gone by then.
    signal.alarm(math.ceil(float(request["timeout"])) + 1)
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
