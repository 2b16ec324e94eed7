"""What runs inside the isolation fork server (see `media_manager.isolation`, the parent side).

Two generations of processes, neither with Django:

- the fork server: a fresh interpreter started once per parent process, Pillow, pillow-heif,
  pypdf and the pipeline already imported; it waits on its control socket for requests and
  hands each to an idle job process with the same limits, forking one when there is none (it
  never touches a file itself), tells the parent the job's pid, and watches every job process
  from one loop: its exit through a pidfd, its word that a job is done, a job's wall-clock
  deadline (it kills the process), a job's parent hanging up (it kills it too); it reaps job
  processes with `wait4` and reports how each job ended;
- the job process: forked once, it sets its fixed limits, then for each job its CPU budget
  and an alarm (a second past its timeout, so a job whose server died still ends), runs one
  operation, writes one JSON header line plus raw bytes to the reply file the parent passed,
  puts back the module state a job could change and tells the server it is done, with its
  page faults and whether it leaves (a failed job, its peak memory past the ceiling, its
  count of jobs). Reused, it pays no fork's copy-on-write per job; it is never forked from,
  so libvips' threads, started by its first resize, are no concern.

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
import warnings
from dataclasses import asdict, dataclass
from typing import Any

from media_manager.checks import MediaLimits, UploadRejected, inspect_pdf, inspect_photo

# One request: a JSON object and three descriptors (job socket, reply file, error file).
MAX_REQUEST_BYTES = 1 << 16
REQUEST_FDS = 3


def _set_limits(memory_limit: int, max_file_bytes: int) -> None:
    # Set once per job process: they hold for every job it serves. RLIMIT_CPU is set per job.
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Caps each reply file too: no file of ours, written or not, can exceed it.
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
    # Past FSIZE a write must fail with EFBIG (and the job report), not die of SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _peak_rss_bytes() -> int:
    # VmHWM belongs to this address space (reset when the job starts, see _reset_peak_rss);
    # ru_maxrss would carry the fork server's peak over the fork.
    peak = _status_bytes("VmHWM:")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 if peak is None else peak


def _rss_bytes() -> int:
    return _status_bytes("VmRSS:") or 0


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
    elif how == "pid":
        return {"pid": os.getpid()}, {}
    elif how == "burn":  # CPU for options["seconds"], within the job's budget
        stop = time.process_time() + float(options["seconds"])
        while time.process_time() < stop:
            pass
    elif how == "hold":  # memory kept after the job, as a leak would
        _held.append(b"\x01" * (int(options["mib"]) << 20))
    elif how == "pollute":  # module state a careless job could leave behind
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = 1
        warnings.simplefilter("error")
        os.chdir("/")
    return {"how": how, "pid": os.getpid()}, {}


_held: list[bytes] = []


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


# A job process serves jobs until one of these says it has had enough; the server then starts
# a fresh one (recycling), so a job's growth or leak never accumulates across many jobs.
WORKER_MAX_JOBS = 100
WORKER_MAX_RSS_BYTES = 192 << 20
# Idle job processes the server keeps per memory limit beyond the ones busy; the others exit.
MAX_IDLE_WORKERS = 2
_RETIRED = (-1, -1)  # the limits of a job process that takes no more jobs


@dataclass(slots=True)
class _Job:
    """A job in flight, as the server watches it."""

    reply: socket.socket  # the parent's end of this job: the report goes here
    deadline: float
    isolation_cpu_seconds: float  # the server's CPU for the job: a fork, or only a send
    timed_out: bool = False


@dataclass(slots=True)
class _Worker:
    """A job process: forked once from the server, then fed one job at a time over `channel`."""

    pid: int
    pidfd: int
    channel: socket.socket
    limits: tuple[int, int]  # RLIMIT_AS and RLIMIT_FSIZE, set once: it takes jobs with the same
    job: _Job | None = None
    reaped: bool = False


def _own_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


class _Server:
    """The fork server's state: its job processes (busy or idle) and the loop that watches
    them (their exit through a pidfd, their word that a job is done, a job's wall-clock
    deadline, its parent hanging up), until the parent closes the control socket."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.selector = selectors.DefaultSelector()
        self.selector.register(control, selectors.EVENT_READ, None)
        self.workers: dict[int, _Worker] = {}  # by pid, until reaped
        self.listening = True

    def serve(self) -> None:
        while self.listening or self.workers:
            now = time.monotonic()
            for worker in self.workers.values():
                job = worker.job
                if job is not None and not job.timed_out and job.deadline <= now:
                    job.timed_out = True
                    _kill(worker)  # reaped, and reported, when its pidfd turns readable
            waiting = [
                w.job.deadline - now
                for w in self.workers.values()
                if w.job is not None and not w.job.timed_out
            ]
            for key, _ in self.selector.select(max(0.0, min(waiting)) if waiting else None):
                if key.data is None:
                    if not self._accept():
                        self._stop_listening()
                    continue
                # Events carry the worker itself, not a descriptor number: one reaped earlier
                # in this same batch may have had its pidfd's number reused already.
                what, worker = key.data
                if worker.reaped:
                    continue
                if what == "exit":
                    self._reap(worker)
                elif what == "done":
                    self._done(worker)
                elif worker.job is not None and key.fileobj is worker.job.reply:
                    _kill(worker)  # the parent gave up on the job or went away
                    self.selector.unregister(worker.job.reply)

    def _stop_listening(self) -> None:
        # The parent closed its end (shutdown, exit): no new jobs, idle job processes leave,
        # busy ones are still watched, reaped and reported.
        self.listening = False
        self.selector.unregister(self.control)
        self.control.close()
        for worker in list(self.workers.values()):
            if worker.job is None:
                self._dismiss(worker)

    def _accept(self) -> bool:
        """Hand the job of one request to an idle job process (or a fresh one); False once
        the parent has hung up."""
        try:
            message, fds, flags, _ = socket.recv_fds(self.control, MAX_REQUEST_BYTES, REQUEST_FDS)
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
            limits = (int(request["memory_limit"]), int(request["max_reply_bytes"]))
        except (ValueError, KeyError, TypeError):
            reply.close()
            os.close(result_fd)
            os.close(errors_fd)
            return True
        try:
            before = _own_cpu()
            worker = self._hand_over(limits, message, [result_fd, errors_fd, reply_fd], reply)
            job = _Job(reply=reply, deadline=deadline, isolation_cpu_seconds=_own_cpu() - before)
        finally:
            os.close(result_fd)
            os.close(errors_fd)
        worker.job = job
        self.selector.register(reply, selectors.EVENT_READ, ("parent", worker))
        return True

    def _hand_over(
        self, limits: tuple[int, int], message: bytes, fds: list[int], reply: socket.socket
    ) -> _Worker:
        idle = [w for w in self.workers.values() if w.job is None and w.limits == limits]
        worker = idle[0] if idle else self._fork(limits)
        # The parent hears the job is taken before the job can run: should the job kill this
        # server (or the server die) at once, the parent knows not to send the job again.
        with contextlib.suppress(OSError):
            reply.sendall(json.dumps({"pid": worker.pid}).encode() + b"\n")
        try:
            socket.send_fds(worker.channel, [message], fds)
        except OSError:
            _kill(worker)  # it died idle; its pidfd reaps it
            worker.limits = _RETIRED  # never chosen again
            worker = self._fork(limits)
            socket.send_fds(worker.channel, [message], fds)  # its buffer is empty: cannot block
        return worker

    def _fork(self, limits: tuple[int, int]) -> _Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                # Nothing of the server's stays open in the job process but its own channel:
                # no other job's socket (their parents must see those jobs end), no control.
                ours.close()
                self.selector.close()
                with contextlib.suppress(OSError):
                    self.control.close()
                for other in self.workers.values():
                    os.close(other.pidfd)
                    other.channel.close()
                    if other.job is not None:
                        other.job.reply.close()
                _work(theirs, *limits)
            finally:
                os._exit(0)
        theirs.close()
        worker = _Worker(pid=pid, pidfd=os.pidfd_open(pid), channel=ours, limits=limits)
        self.workers[pid] = worker
        self.selector.register(worker.pidfd, selectors.EVENT_READ, ("exit", worker))
        self.selector.register(ours, selectors.EVENT_READ, ("done", worker))
        return worker

    def _done(self, worker: _Worker) -> None:
        try:
            message = worker.channel.recv(MAX_REQUEST_BYTES, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            message = b""
        if not message:  # it is on its way out: its pidfd says when
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(worker.channel)
            return
        try:
            done = json.loads(message)
            page_faults, retire = int(done["page_faults"]), bool(done["retire"])
        except (ValueError, KeyError, TypeError):
            _kill(worker)  # a job process that talks nonsense is not trusted with another job
            return
        job, worker.job = worker.job, None
        if job is None:
            return
        self._report(job, wait_status=0, page_faults=page_faults)
        idle = [w for w in self.workers.values() if w.job is None and w.limits == worker.limits]
        if retire or not self.listening or len(idle) > MAX_IDLE_WORKERS:
            self._dismiss(worker)

    def _dismiss(self, worker: _Worker) -> None:
        # Closing its channel ends its wait for the next job: it exits, its pidfd reaps it.
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(worker.channel)
        worker.channel.close()
        worker.limits = _RETIRED

    def _reap(self, worker: _Worker) -> None:
        if worker.job is not None and not worker.job.timed_out and worker.channel.fileno() >= 0:
            self._done(worker)  # a word sent just before it exited (retiring) comes first
        _, status, _ = os.wait4(worker.pid, 0)
        worker.reaped = True
        del self.workers[worker.pid]
        for fileobj in (worker.pidfd, worker.channel):
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(fileobj)
        os.close(worker.pidfd)
        worker.channel.close()
        if worker.job is not None:
            self._report(worker.job, wait_status=status, page_faults=0)
            worker.job = None

    def _report(self, job: _Job, *, wait_status: int, page_faults: int) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(job.reply)
        report = {
            "wait_status": wait_status,
            "page_faults": page_faults,
            "isolation_cpu_seconds": job.isolation_cpu_seconds,
            "timed_out": job.timed_out,
        }
        with contextlib.suppress(OSError), job.reply:
            job.reply.sendall(json.dumps(report).encode() + b"\n")


def serve(control_fd: int) -> None:
    """The fork server: preload, then hand jobs to job processes until the parent hangs up."""
    control = socket.socket(fileno=control_fd)
    _preload()
    # Job processes are reaped here, with wait4 once their pidfd says they ended: their CPU
    # then adds up in this server's cutime/cstime, and a dead one's exit status reaches the parent.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _Server(control).serve()


def _kill(worker: _Worker) -> None:
    # Through the pidfd: the pid of a job process that already ended cannot be someone else's.
    with contextlib.suppress(ProcessLookupError, OSError):
        signal.pidfd_send_signal(worker.pidfd, signal.SIGKILL)


# ---------------------------------------------------------------------------------------
# The job process
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ModuleState:
    """What a job could change in the modules it shares with the next job, put back after
    each (the warning filters are put back by `warnings.catch_warnings` around the job)."""

    max_image_pixels: int | None
    cwd: str

    @classmethod
    def now(cls) -> _ModuleState:
        from PIL import Image

        return cls(Image.MAX_IMAGE_PIXELS, os.getcwd())

    def restore(self) -> None:
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = self.max_image_pixels
        os.chdir(self.cwd)


def _work(channel: socket.socket, memory_limit: int, max_file_bytes: int) -> None:
    """A job process's life: fixed limits once, then one job per message from the server,
    each under its own CPU budget and alarm, until the server closes the channel or the
    process has served enough (jobs, memory) to be replaced."""
    _set_limits(memory_limit, max_file_bytes)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    state = _ModuleState.now()
    served = 0
    # Per-job CPU and page faults are counted from the end of the job before (the first from
    # the fork), so what a job process costs between jobs is in some job's figures.
    since = resource.getrusage(resource.RUSAGE_SELF)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, MAX_REQUEST_BYTES, REQUEST_FDS)
        except OSError:
            return
        if not message:
            return  # dismissed, or the server died
        result_fd, errors_fd, reply_fd = fds
        request = json.loads(message)
        used = resource.getrusage(resource.RUSAGE_SELF)
        # RLIMIT_CPU counts the process's whole life: the job's budget starts from what
        # the jobs before it used. Past it, SIGXCPU ends the process.
        budget = math.ceil(used.ru_utime + used.ru_stime) + int(request["cpu_seconds"])
        resource.setrlimit(resource.RLIMIT_CPU, (budget, resource.RLIM_INFINITY))
        # The server kills the job at its timeout; SIGALRM (default action: terminate) is
        # the backstop should the server itself be gone by then.
        signal.alarm(math.ceil(float(request["timeout"])) + 1)
        try:
            with warnings.catch_warnings():
                clean = _run_job(request, result_fd, errors_fd, since)
        finally:
            signal.alarm(0)
        # The job's socket to the parent was held only so that the parent sees the job end
        # should the server die meanwhile.
        os.close(reply_fd)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        served += 1
        state.restore()
        gc.collect()
        retire = not clean or served >= WORKER_MAX_JOBS or _peak_rss_bytes() > WORKER_MAX_RSS_BYTES
        usage = resource.getrusage(resource.RUSAGE_SELF)
        faults = usage.ru_minflt + usage.ru_majflt - since.ru_minflt - since.ru_majflt
        since = usage
        try:
            channel.send(json.dumps({"page_faults": faults, "retire": retire}).encode())
        except OSError:
            return
        if retire:
            return


def _run_job(request: dict[str, Any], reply_fd: int, errors_fd: int, since: resource.struct_rusage) -> bool:
    """One job, its reply written to the reply file; False when the job failed in a way
    that may have left this process unfit for another (an error, a reply it could not write)."""
    # The reply and error files take the places of stdout and stderr, as for a fresh child.
    os.dup2(reply_fd, 1)
    os.dup2(errors_fd, 2)
    os.close(reply_fd)
    os.close(errors_fd)
    _reset_peak_rss()
    start_rss = _rss_bytes()
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
        "start_rss_bytes": start_rss,
        "cpu_seconds": usage.ru_utime + usage.ru_stime - since.ru_utime - since.ru_stime,
        "work_seconds": time.perf_counter() - started,
        "work_cpu_seconds": time.process_time() - started_cpu,
    }
    header["blobs"] = [[name, len(data)] for name, data in blobs.items()]
    try:
        # Its own writer on the reply file: nothing a job left in sys.stdout's buffer can
        # reach another job's reply.
        with open(1, "wb", closefd=False) as out:
            out.write(json.dumps(header).encode() + b"\n")
            for data in blobs.values():
                out.write(data)
    except OSError:
        return False
    return header["status"] != "error"


def main() -> None:
    serve(int(sys.argv[1]))
