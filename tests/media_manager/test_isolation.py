"""The isolation fork server (media_manager.isolation): jobs taken by warm job processes
forked from one server and reused, each job under its limits; a job that crashes, loops or
allocates is a plain refusal and the next job goes through (in a fresh job process); the
server itself may die, be forked away from, or be shut down."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from media_manager.checks import MediaLimits, RejectCode
from media_manager.isolation import (
    fork_server,
    inspect_photo_isolated,
    process_photo_isolated,
    run_isolated,
)
from tests.media_manager import samples

LIMITS = MediaLimits()
MiB = 1024 * 1024
PLAIN_REFUSAL = "We could not process this photo: the file may be damaged or too demanding to decode."


@pytest.fixture
def small_photo(tmp_path: Path) -> Path:
    path = tmp_path / "small.jpg"
    path.write_bytes(samples.encode(samples.photo_like(200, 150, seed=3), "JPEG"))
    return path


def _assert_the_next_job_works(path: Path) -> None:
    started = time.monotonic()
    inspection = inspect_photo_isolated(path, LIMITS)
    assert (inspection.format, inspection.width, inspection.height) == ("jpeg", 200, 150)
    assert process_photo_isolated(path, limits=LIMITS).width == 200
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("how", "ended_by"),
    [
        ("segfault", "SIGSEGV"),  # a decoder reading address 0
        ("abort", "SIGABRT"),  # a decoder's failed assertion
        ("allocate", "memory"),  # a memory bomb past RLIMIT_AS
        ("spin", "cpu"),  # an infinite loop past RLIMIT_CPU
        ("sleep", "timeout"),  # a hang that uses no CPU: the wall-clock kill
    ],
)
def test_a_job_that_crashes_or_overruns_is_the_same_plain_refusal_and_the_next_job_works(
    small_photo, caplog, how, ended_by
):
    server = fork_server.pid or (inspect_photo_isolated(small_photo, LIMITS) and fork_server.pid)
    started = time.monotonic()
    outcome = run_isolated(
        "_selftest",
        small_photo,
        limits=LIMITS,
        options={"how": how},
        cpu_seconds=1,
        memory_limit=512 * MiB,
        timeout=2 if how == "sleep" else 10,
    )
    assert time.monotonic() - started < 12
    assert outcome.rejected is not None
    assert outcome.rejected.code == RejectCode.PROCESSING_FAILED
    assert outcome.rejected.reason.startswith(PLAIN_REFUSAL)
    if ended_by in ("SIGSEGV", "SIGABRT"):
        assert f"killed by {ended_by}" in caplog.text
    if how == "sleep":
        assert "timed out after 2 s" in caplog.text
    # Only the job died: the same fork server takes the next one.
    assert fork_server.pid == server
    _assert_the_next_job_works(small_photo)
    assert fork_server.pid == server


def test_a_job_costs_a_fork_not_an_interpreter(small_photo):
    inspect_photo_isolated(small_photo, LIMITS)  # the server starts once
    server = fork_server.pid
    outcomes = [run_isolated("inspect_photo", small_photo, limits=LIMITS) for _ in range(5)]
    assert fork_server.pid == server
    cpu = sorted(o.stats.cpu_seconds + o.stats.isolation_cpu_seconds for o in outcomes)[2]
    # A fresh interpreter with Pillow costs ~60-90 ms of CPU before any work.
    assert cpu < 0.030
    # Pages shared with the server count in the job's RSS; what it adds is small.
    assert max(o.stats.peak_rss_bytes for o in outcomes) < 100 * MiB


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, state letter) of every child of `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append((int(entry.name), fields[0]))
    return found


def test_the_server_reaps_its_jobs_so_their_cpu_shows_in_its_cumulative_times(small_photo):
    # Tools (and bench/photos/portal.py) sum utime+stime+cutime+cstime over a process tree:
    # a job's CPU only reaches the server's cutime if the server waits for the job.
    inspect_photo_isolated(small_photo, LIMITS)
    server = fork_server.pid
    assert server is not None

    def cumulative_children_cpu() -> float:
        fields = Path(f"/proc/{server}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")

    before = cumulative_children_cpu()
    spun = run_isolated("_selftest", small_photo, limits=LIMITS, options={"how": "spin"}, cpu_seconds=1)
    assert spun.rejected is not None  # killed at its 1 s CPU limit
    deadline = time.monotonic() + 5
    while cumulative_children_cpu() - before < 0.8 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cumulative_children_cpu() - before >= 0.8
    while any(state == "Z" for _, state in _children(server)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [child for child in _children(server) if child[1] == "Z"] == []


def test_a_fork_server_that_dies_is_started_again(small_photo):
    inspect_photo_isolated(small_photo, LIMITS)
    first = fork_server.pid
    # No waiting for it to die: a request sent to a server on its way out is sent again.
    os.kill(first, signal.SIGKILL)
    _assert_the_next_job_works(small_photo)
    assert fork_server.pid not in (None, first)


def test_a_fork_server_killed_while_a_job_runs_does_not_lose_that_job(small_photo):
    # The job outlives the server and holds its end of the parent's socket: it still answers.
    inspect_photo_isolated(small_photo, LIMITS)
    server = fork_server.pid
    outcome = run_isolated("_selftest", small_photo, limits=LIMITS, options={"how": "kill_server"})
    assert outcome.rejected is None and outcome.value["how"] == "kill_server"
    _assert_the_next_job_works(small_photo)
    assert fork_server.pid not in (None, server)


def test_a_job_whose_server_died_still_ends_at_its_timeout(small_photo):
    # Nobody is left to kill it: its own alarm, a second past the timeout, ends it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        inspect_photo_isolated(small_photo, LIMITS)
        server = fork_server.pid
        started = time.monotonic()
        slow = pool.submit(
            run_isolated, "_selftest", small_photo, limits=LIMITS, options={"how": "sleep"}, timeout=1
        )
        time.sleep(0.3)
        os.kill(server, signal.SIGKILL)
        outcome = slow.result(timeout=15)
    assert outcome.rejected is not None and outcome.rejected.code == RejectCode.PROCESSING_FAILED
    assert time.monotonic() - started < 4  # the alarm at 2 s, not the parent's 6 s grace
    _assert_the_next_job_works(small_photo)


def test_jobs_from_several_threads_at_once(tmp_path):
    paths = []
    for i in range(8):
        path = tmp_path / f"p{i}.jpg"
        path.write_bytes(samples.encode(samples.photo_like(300 + 10 * i, 200, seed=i), "JPEG"))
        paths.append(path)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"<svg onload=alert(1)>")

    def job(i: int):
        if i % 4 == 3:
            return run_isolated("_selftest", paths[0], limits=LIMITS, options={"how": "segfault"})
        if i % 4 == 2:
            return run_isolated("inspect_photo", bad, limits=LIMITS)
        return run_isolated("process_photo", paths[i % 8], limits=LIMITS)

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(job, range(24)))
    for i, outcome in enumerate(outcomes):
        if i % 4 == 3:
            assert outcome.rejected.code == RejectCode.PROCESSING_FAILED
        elif i % 4 == 2:
            assert outcome.rejected.code == RejectCode.TYPE
        else:
            assert outcome.rejected is None
            assert outcome.value.width == 300 + 10 * (i % 8)


# pytest's own threads make Python warn about any fork; the child here only runs a job.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_parent_gets_a_fork_server_of_its_own(small_photo):
    # As a gunicorn worker or a Celery prefork child: forked with the server already running.
    inspect_photo_isolated(small_photo, LIMITS)
    parents_server = fork_server.pid
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            width = inspect_photo_isolated(small_photo, LIMITS).width
            report = {"width": width, "server": fork_server.pid}
            fork_server.shutdown()
            os.write(write_end, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        report = json.loads(reader.read() or b"{}")
    os.waitpid(pid, 0)
    assert report["width"] == 200
    assert report["server"] not in (None, parents_server)
    # The child's server never touched ours, which still takes jobs.
    assert fork_server.pid == parents_server
    _assert_the_next_job_works(small_photo)


def test_shutdown_stops_the_server_and_the_next_job_starts_one(small_photo):
    inspect_photo_isolated(small_photo, LIMITS)
    server = fork_server.pid
    fork_server.shutdown()
    assert fork_server.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(server, 0)  # exited and reaped
    _assert_the_next_job_works(small_photo)
    assert fork_server.pid not in (None, server)


def test_threads_that_find_the_server_dead_at_once_share_one_new_server(small_photo):
    inspect_photo_isolated(small_photo, LIMITS)
    first = fork_server.pid
    os.kill(first, signal.SIGKILL)
    with ThreadPoolExecutor(max_workers=6) as pool:
        widths = list(pool.map(lambda _: inspect_photo_isolated(small_photo, LIMITS).width, range(12)))
    assert widths == [200] * 12
    assert fork_server.pid not in (None, first)


def test_a_job_whose_parent_gives_up_is_killed_by_the_server(small_photo):
    # The parent stops waiting (its own deadline: the job's timeout plus the grace) and
    # hangs up; the server must not let the job run on to its much later timeout.
    inspect_photo_isolated(small_photo, LIMITS)
    server = fork_server.pid
    request = {
        "op": "_selftest",
        "path": str(small_photo),
        "limits": LIMITS.as_dict(),
        "options": {"how": "sleep"},
        "memory_limit": 512 * MiB,
        "cpu_seconds": 10,
        "max_reply_bytes": MiB,
        "timeout": 120,
    }
    # Job processes waiting for jobs with other limits (some may leave meanwhile, recycled).
    idle = {pid for pid, _ in _children(server)}

    def others() -> set[int]:
        return {pid for pid, _ in _children(server)} - idle

    with tempfile.TemporaryFile() as reply, tempfile.TemporaryFile() as errors:
        ended = fork_server.run(json.dumps(request).encode(), reply.fileno(), errors.fileno(), timeout=0.1)
    assert ended.cause.startswith("no word from the fork server")
    deadline = time.monotonic() + 5
    while others() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert others() == set()  # the job's process, forked for its limits, killed and reaped
    assert fork_server.pid == server
    _assert_the_next_job_works(small_photo)


def test_the_fork_server_forks_with_one_thread_and_its_jobs_resize_with_libvips(tmp_path):
    # libvips' worker threads would not survive a fork: a job forked from a server that had
    # run a libvips resize would wait forever on them. The server sets libvips up, runs nothing.
    from media_manager import pipeline

    path = tmp_path / "big.jpg"
    path.write_bytes(samples.encode(samples.photo_like(3000, 2000, seed=6), "JPEG", quality=90))
    for _ in range(2):  # the second job comes from the same server, after the first
        isolated = process_photo_isolated(path, limits=LIMITS, timeout=10)
        assert isolated == pipeline.process_photo(path, limits=LIMITS)
        assert (isolated.width, isolated.height) == (2048, 1365)
    assert os.listdir(f"/proc/{fork_server.pid}/task") == [str(fork_server.pid)]


def test_jobs_share_one_malloc_arena_with_libvips_worker_thread(small_photo):
    # A job's libvips worker thread would otherwise fault in an arena of its own from nothing
    # in every fresh fork: thousands of page faults per photo.
    inspect_photo_isolated(small_photo, LIMITS)
    environ = Path(f"/proc/{fork_server.pid}/environ").read_bytes().split(b"\0")
    assert b"MALLOC_ARENA_MAX=1" in environ
    tunables = next(entry for entry in environ if entry.startswith(b"GLIBC_TUNABLES=")).split(b"=", 1)[1]
    assert b"glibc.malloc.hugetlb=1" in tunables.split(b":")


# The pool: job processes forked once from the server, each serving many jobs


def _job_process(path: Path, **limits) -> int:
    """The pid of the job process that takes the next job (with these limits)."""
    return run_isolated("_selftest", path, limits=LIMITS, options={"how": "pid"}, **limits).unwrap()["pid"]


def test_jobs_are_served_by_a_warm_job_process_not_a_fork_each(small_photo):
    first = _job_process(small_photo)
    assert inspect_photo_isolated(small_photo, LIMITS).width == 200
    assert process_photo_isolated(small_photo, limits=LIMITS).width == 200
    assert _job_process(small_photo) == first
    assert first in [pid for pid, _ in _children(fork_server.pid)]
    # A reused job process has no fork's copy-on-write to pay: few page faults per job.
    faults = [run_isolated("inspect_photo", small_photo, limits=LIMITS).stats.page_faults for _ in range(5)]
    assert sorted(faults)[2] < 300


@pytest.mark.parametrize("how", ["segfault", "abort", "sigkill", "allocate", "spin", "sleep"])
def test_a_job_that_dies_takes_only_its_job_process_and_the_next_job_gets_a_fresh_one(small_photo, how):
    limits = {"cpu_seconds": 1, "memory_limit": 512 * MiB}
    server, before = (
        fork_server.pid or (_job_process(small_photo) and fork_server.pid),
        _job_process(small_photo, **limits),
    )
    failed = run_isolated(
        "_selftest",
        small_photo,
        limits=LIMITS,
        options={"how": how},
        timeout=2 if how == "sleep" else 10,
        **limits,
    )
    assert failed.rejected is not None and failed.rejected.code == RejectCode.PROCESSING_FAILED
    after = _job_process(small_photo, **limits)
    assert after != before
    assert before not in [pid for pid, _ in _children(server)]  # reaped, not left a zombie
    assert fork_server.pid == server


def test_the_cpu_limit_is_per_job_in_a_reused_job_process(small_photo):
    # RLIMIT_CPU counts a process's whole life: each job's budget starts from what it used.
    limits = {"cpu_seconds": 1, "memory_limit": 512 * MiB}
    pid = _job_process(small_photo, **limits)
    for _ in range(3):  # 1.8 s in all, past one budget, none past its own
        burned = run_isolated(
            "_selftest", small_photo, limits=LIMITS, options={"how": "burn", "seconds": 0.6}, **limits
        )
        assert burned.rejected is None and burned.value["pid"] == pid
        assert 0.5 < burned.stats.cpu_seconds < 0.9  # this job's CPU, not the process's
    started = time.monotonic()
    spun = run_isolated("_selftest", small_photo, limits=LIMITS, options={"how": "spin"}, **limits)
    assert spun.rejected is not None
    assert time.monotonic() - started < 4


def test_a_job_process_past_its_memory_ceiling_is_replaced_after_its_job(small_photo):
    from media_manager.isolation_child import WORKER_MAX_RSS_BYTES

    pid = _job_process(small_photo)
    small = run_isolated("_selftest", small_photo, limits=LIMITS, options={"how": "hold", "mib": 8})
    assert small.value["pid"] == pid and _job_process(small_photo) == pid  # under the ceiling: kept
    grown = run_isolated(
        "_selftest", small_photo, limits=LIMITS, options={"how": "hold", "mib": WORKER_MAX_RSS_BYTES >> 20}
    )
    assert grown.rejected is None and grown.value["pid"] == pid  # its job still answers
    assert _job_process(small_photo) != pid


def test_a_job_process_is_replaced_after_its_count_of_jobs(small_photo):
    from media_manager.isolation_child import WORKER_MAX_JOBS

    pids = [_job_process(small_photo) for _ in range(WORKER_MAX_JOBS + 1)]
    assert len(set(pids)) >= 2
    assert max(pids.count(pid) for pid in set(pids)) <= WORKER_MAX_JOBS


def test_module_state_a_job_leaves_behind_does_not_reach_the_next_job(small_photo, tmp_path):
    relative = Path(os.path.relpath(small_photo, "/"))  # resolves only from "/"
    pid = _job_process(small_photo)
    polluted = run_isolated("_selftest", small_photo, limits=LIMITS, options={"how": "pollute"})
    assert polluted.value["pid"] == pid
    # Image.MAX_IMAGE_PIXELS = 1 and warnings as errors would refuse the photo as a bomb.
    checked = run_isolated("inspect_photo", small_photo, limits=LIMITS)
    assert checked.rejected is None and checked.value.width == 200
    assert _job_process(small_photo) == pid  # the same job process, its state put back
    # The working directory is the job process's again, not "/".
    assert run_isolated("inspect_photo", relative, limits=LIMITS).rejected is not None
