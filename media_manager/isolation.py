"""Run the checks and the photo pipeline in a disposable job process with hard limits.

Image and PDF decoders are large C and Python libraries fed with files from the internet;
when one of them crashes, loops or allocates without bound, only the job process dies:

- jobs run in warm job processes: a fork server (one interpreter per parent process: web
  worker, Celery pool child, test run), started on the first job with `python -I -B` and a
  minimal environment, with Pillow, pillow-heif, pypdf and the pipeline already imported and
  no Django, forks job processes that each take many jobs, one at a time. A job costs a
  message instead of a fork's copy-on-write and page faults (~1,800 per 24 MP photo), let
  alone an interpreter start-up (~60-90 ms);
- a job process sets RLIMIT_AS (1 GiB), RLIMIT_FSIZE (64 MiB, which also caps each reply),
  RLIMIT_CORE 0 and RLIMIT_NOFILE once, and before each job RLIMIT_CPU to the CPU it has
  used so far plus the job's 10 s (then SIGXCPU), and an alarm; after each job it puts back
  the module state a job could change and leaves, to be replaced, when the job failed, when
  its peak memory passed a ceiling (192 MiB) or after 100 jobs, so no job's growth accumulates;
- the fork server watches every job: it kills the job's process after `timeout` seconds of
  wall time, or when the parent gives up on it, reaps it and reports how the job ended; the
  next job then gets a fresh process. A job also ends itself by SIGALRM a second later, in
  case its server died;
- results come back as one JSON header line plus raw bytes in an unlinked temporary file of
  the job's own, never as a pickle, so a compromised job cannot run code in the parent;
  output JPEGs are checked again in the parent (JPEG markers, no metadata segments) before
  they are returned.

A job that dies, times out, runs out of memory or sends something malformed becomes
`UploadRejected(code="processing_failed")` with a plain reason; the parent carries on. A
fork server that dies (killed, out of memory) is started again for the next job, and a job
it dropped before starting it is sent once more; a job it had started still answers (the job
holds its own end of the parent's socket). After `os.fork` (gunicorn, Celery prefork)
a child process starts a server of its own; the server exits when its parent closes the
control socket (`shutdown`, at exit) or dies.

Public API: `process_photo_isolated`, `inspect_photo_isolated`, `inspect_pdf_isolated`,
`run_isolated` (the same with the job's peak memory and CPU time, for tests and
benchmarks) and `fork_server` (`.pid`, `.shutdown()`). What runs in the server and the jobs
is `media_manager.isolation_child`.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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
_SERVER_CODE = (
    f"import sys; sys.path.insert(0, {_PROJECT_ROOT!r}); from {isolation_child.__name__} import main; main()"
)
_MALLOC_TUNABLES = ":".join(
    (
        "glibc.malloc.hugetlb=1",
        f"glibc.malloc.mmap_threshold={32 << 20}",
        f"glibc.malloc.trim_threshold={256 << 20}",
    )
)
# How long past the job's own timeout the parent waits for the server's word.
_SERVER_GRACE_SECONDS = 5.0
_MAX_HEADER_BYTES = 1 << 20
_HEADER_READ_BYTES = 1 << 16  # a header is a few hundred bytes; this read finds it
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
    peak_rss_bytes: (
        int  # the job's high-water mark (VmHWM, reset when it starts), its process's pages included
    )
    cpu_seconds: float  # user + system CPU of the job process since its job before (or its fork)
    work_seconds: float  # wall time of the operation itself, inside the job
    work_cpu_seconds: float  # CPU time of the operation itself (steady on a busy machine)
    isolation_cpu_seconds: float = 0.0  # the fork server's CPU to hand the job over (a fork, if fresh)
    page_faults: int = 0  # the job process's page faults since its job before (or its fork)
    # The job process's RSS when the job started: a warm process keeps the heap earlier jobs
    # grew, so peak - start is what this job itself needed.
    start_rss_bytes: int = 0

    @property
    def job_rss_growth_bytes(self) -> int:
        return max(0, self.peak_rss_bytes - self.start_rss_bytes)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a child run produced: a value, or a rejection; stats when the child reported."""

    value: Any
    rejected: UploadRejected | None
    stats: ChildStats | None
    elapsed_seconds: float  # as seen by the parent, the fork included

    def unwrap(self) -> Any:
        if self.rejected is not None:
            raise self.rejected
        return self.value


@dataclass(frozen=True, slots=True)
class JobEnd:
    """How a job ended, from the fork server: `cause` is empty when it exited normally.

    `orphaned`: the server died while the job ran, so its exit status is unknown; the job
    has ended (it held its end of the socket until then) and its reply alone decides."""

    cause: str
    isolation_cpu_seconds: float = 0.0
    page_faults: int = 0
    orphaned: bool = False


class _ServerGone(Exception):
    """The fork server died before it forked the job: the job never ran."""

    def __init__(self, process: subprocess.Popen[bytes] | None) -> None:
        super().__init__()
        self.process = process


class ForkServer:
    """The parent's handle on its fork server: started lazily, again after a fork of the
    parent (pid check) or when it died; safe to use from several threads at once.

    Requests go over a SOCK_SEQPACKET Unix socket, each with three descriptors: a socket of
    its own for the server's two lines about the job (its pid, then how it ended), the reply
    file and the error file. Requests only need the lock for the send: jobs run and are
    waited for concurrently."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner_pid = os.getpid()
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None

    @property
    def pid(self) -> int | None:
        """The fork server's pid in this process, if one is running."""
        with self._lock:
            self._forget_if_forked()
            process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def run(self, request: bytes, reply_fd: int, errors_fd: int, *, timeout: float) -> JobEnd:
        for attempt in (1, 2):
            try:
                return self._run_once(request, reply_fd, errors_fd, timeout)
            except _ServerGone as gone:
                logger.warning("The isolation fork server died; starting a new one (attempt %s)", attempt)
                self._restart(gone.process)
        return JobEnd(cause="the fork server died twice before running the job")

    def shutdown(self, timeout: float = 2.0) -> None:
        """Close the control socket (the server exits on it) and reap the server."""
        with self._lock:
            self._forget_if_forked()
            self._stop(timeout)

    def _run_once(self, request: bytes, reply_fd: int, errors_fd: int, timeout: float) -> JobEnd:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with ours:
            try:
                with self._lock:
                    control = self._ensure_started()
                    process = self._process
                    try:
                        socket.send_fds(control, [request], [theirs.fileno(), reply_fd, errors_fd])
                    except OSError as exc:
                        raise _ServerGone(process) from exc
            finally:
                theirs.close()
            return self._await_job(ours, timeout, process)

    def _await_job(
        self, job: socket.socket, timeout: float, process: subprocess.Popen[bytes] | None
    ) -> JobEnd:
        deadline = time.monotonic() + timeout + _SERVER_GRACE_SECONDS
        lines: list[bytes] = []
        buffered = b""
        while len(lines) < 2:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                # Closing our end (on return) makes the server kill the job.
                return JobEnd(cause=f"no word from the fork server after {timeout:.0f} s")
            job.settimeout(remaining)
            try:
                chunk = job.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                if not lines:
                    raise _ServerGone(process)  # the server never forked the job
                # The server died after forking the job, which held the socket until it ended.
                return JobEnd(cause="", orphaned=True)
            buffered += chunk
            *complete, buffered = buffered.split(b"\n")
            lines += complete
        report = json.loads(lines[1])
        isolation_cpu = float(report["isolation_cpu_seconds"])
        page_faults = int(report["page_faults"])
        if report["timed_out"]:
            return JobEnd(cause=f"timed out after {timeout:.0f} s", isolation_cpu_seconds=isolation_cpu)
        status = int(report["wait_status"])
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            return JobEnd(cause=_describe_exit(code), isolation_cpu_seconds=isolation_cpu)
        return JobEnd(cause="", isolation_cpu_seconds=isolation_cpu, page_faults=page_faults)

    def _ensure_started(self) -> socket.socket:
        self._forget_if_forked()
        if self._control is None or self._process is None or self._process.poll() is not None:
            self._stop(0)
            self._start()
        assert self._control is not None
        return self._control

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C.UTF-8",
            # One malloc arena: libvips' worker thread in a job would otherwise get an arena of
            # its own, faulted in from nothing in every fresh fork (~2,900 more page faults
            # and ~6 ms of CPU per 24 MP photo). A job is one photo; there is no contention.
            "MALLOC_ARENA_MAX": "1",
            # Large buffers (decoded pixels) on transparent huge pages: a fresh job otherwise
            # faults in its ~70 MB 4 KiB at a time, 13,000 faults and ~40 ms of CPU per 24 MP photo.
            # And buffers under 32 MiB from the heap, kept there when freed: a job's master,
            # variants and libvips' regions then reuse the pages of the ones before them
            # instead of each mapping fresh pages and faulting them in (glibc's default maps
            # anything over 128 KiB and unmaps it on free; it only learns otherwise from
            # frees, which a fresh fork has not seen): ~600 fewer faults per 24 MP photo.
            "GLIBC_TUNABLES": _MALLOC_TUNABLES,
        }
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", _SERVER_CODE, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
                close_fds=True,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,  # a ^C in a terminal is for the parent, not the jobs
            )
        self._control = ours
        self._owner_pid = os.getpid()

    def _restart(self, gone: subprocess.Popen[bytes] | None) -> None:
        # Only the server that failed this job: another thread may already have started
        # its successor, with jobs of its own in flight.
        with self._lock:
            self._forget_if_forked()
            if self._process is gone:
                self._stop(0)

    def _stop(self, timeout: float) -> None:
        control, process = self._control, self._process
        self._control = self._process = None
        if control is not None:
            control.close()
        if process is not None:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _forget_if_forked(self) -> None:
        if self._owner_pid != os.getpid():
            self._after_fork_in_child()

    def _after_fork_in_child(self) -> None:
        # The server belongs to the process we were forked from: let go of our copy of its
        # socket (so it still sees its parent hang up) and never wait for or kill it.
        if self._control is not None:
            self._control.close()
        if self._process is not None:
            self._process.returncode = 0  # not ours to reap
        self._control = self._process = None
        self._lock = threading.Lock()
        self._owner_pid = os.getpid()


fork_server = ForkServer()
os.register_at_fork(after_in_child=fork_server._after_fork_in_child)
atexit.register(fork_server.shutdown)


def process_photo_isolated(
    source_path: str | os.PathLike[str],
    *,
    limits: MediaLimits,
    rotate_quarter_turns: int = 0,
    variants: Mapping[str, int] | None = None,
    source_sha256: str | None = None,
    timeout: float = WALL_TIMEOUT_SECONDS,
) -> ProcessedPhoto:
    """`pipeline.process_photo` in a sandboxed job; same result, same exceptions, plus
    `UploadRejected(code="processing_failed")` when the job dies or overruns."""
    options: dict[str, Any] = {"rotate_quarter_turns": rotate_quarter_turns}
    if variants is not None:
        options["variants"] = dict(variants)
    if source_sha256:
        if not _HEX64.fullmatch(source_sha256):
            raise ValueError("source_sha256 must be a lowercase hex SHA-256 digest")
        options["source_sha256"] = source_sha256
    return run_isolated(
        "process_photo", source_path, limits=limits, options=options, timeout=timeout
    ).unwrap()


def inspect_photo_isolated(
    path: str | os.PathLike[str], limits: MediaLimits, *, timeout: float = WALL_TIMEOUT_SECONDS
) -> PhotoInspection:
    """`checks.inspect_photo` in a sandboxed job (a fork, a few ms, on top)."""
    return run_isolated("inspect_photo", path, limits=limits, timeout=timeout).unwrap()


def inspect_pdf_isolated(
    path: str | os.PathLike[str], limits: MediaLimits, *, timeout: float = WALL_TIMEOUT_SECONDS
) -> PdfInspection:
    """`checks.inspect_pdf` in a sandboxed job (pypdf is preloaded in the fork server)."""
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
    """Run `op` on `path` in a job process under the limits; never raises for job failures.

    `op` is one of "inspect_photo", "inspect_pdf", "process_photo", or "_selftest" (makes
    the job misbehave on purpose: options={"how": "segfault" | "abort" | "sigkill" |
    "allocate" | "spin" | "sleep" | "flood"}; used by the tests to prove the limits hold).
    """
    if op not in isolation_child.OPERATIONS:
        raise ValueError(f"unknown isolated operation {op!r}")
    request = json.dumps(
        {
            "op": op,
            "path": os.fspath(path),
            "limits": limits.as_dict(),
            "options": dict(options or {}),
            "memory_limit": memory_limit,
            "cpu_seconds": cpu_seconds,
            "max_reply_bytes": MAX_REPLY_BYTES,
            "timeout": timeout,
        }
    ).encode()
    failed = UploadRejected(
        RejectCode.PROCESSING_FAILED, COULD_NOT_CHECK_PDF if op == "inspect_pdf" else COULD_NOT_PROCESS_PHOTO
    )
    started = time.perf_counter()
    # Replies go to unlinked temporary files, not pipes: the job's RLIMIT_FSIZE then caps
    # what it can make the parent read, and nothing is left on disk whatever happens.
    with tempfile.TemporaryFile() as reply, tempfile.TemporaryFile() as errors:
        ended = fork_server.run(request, reply.fileno(), errors.fileno(), timeout=timeout)
        elapsed = time.perf_counter() - started
        if ended.cause:
            errors.seek(max(0, errors.seek(0, os.SEEK_END) - 2000))
            err = errors.read().decode(errors="replace")
            logger.warning("Isolated %s of %s failed: %s; stderr: %s", op, path, ended.cause, err)
            return Outcome(value=None, rejected=failed, stats=None, elapsed_seconds=elapsed)
        try:
            header, blobs = _read_reply(reply.fileno())
        except (ValueError, KeyError, TypeError) as exc:
            logger.error("Isolated %s of %s sent a malformed reply: %r", op, path, exc)
            return Outcome(value=None, rejected=failed, stats=None, elapsed_seconds=elapsed)

    if ended.orphaned:
        logger.warning("The fork server died while isolated %s of %s ran; its reply alone decides", op, path)
    try:
        stats = ChildStats(
            **header["stats"],
            isolation_cpu_seconds=ended.isolation_cpu_seconds,
            page_faults=ended.page_faults,
        )
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


def _read_reply(fd: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The job's header line and its blobs, each blob read from the reply file straight into
    bytes of its exact size: no read of the whole reply sliced again (two copies of every
    output) and no buffer sized for the largest reply allowed (64 MiB, mapped afresh and
    faulted in on every job)."""
    size = os.fstat(fd).st_size
    if size > MAX_REPLY_BYTES:
        raise ValueError("reply too large")
    head = os.pread(fd, min(size, _HEADER_READ_BYTES), 0)
    end = head.find(b"\n")
    if end < 0 and size > len(head):
        head = os.pread(fd, min(size, _MAX_HEADER_BYTES), 0)
        end = head.find(b"\n")
    if end < 0:
        raise ValueError("no header line")
    header = json.loads(head[:end])
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    blobs: dict[str, bytes] = {}
    offset = end + 1
    for name, length in header.get("blobs", []):
        if not isinstance(name, str) or not isinstance(length, int) or not 0 <= length <= size - offset:
            raise ValueError("bad blob entry")
        blobs[name] = os.pread(fd, length, offset)
        if len(blobs[name]) != length:
            raise ValueError("reply shorter than its header")
        offset += length
    if offset != size:
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
    if phash is not None and (not isinstance(phash, int) or not -(1 << 63) <= phash < 1 << 63):
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
