"""The whole portal's CPU per photo, from the upload request to the confirmed push. One command:

    make bench-photos-portal      # = .venv/bin/python bench/photos/portal.py [--photos 8]

The portal as deployed, each part a process of its own: gunicorn (one sync worker, as
bench/gunicorn_server.py starts it), a Celery worker with two processes on the embedded SQLite
broker (or Redis with --redis redis://127.0.0.1:6379/6), and the Spark sandbox in a gunicorn of
its own with its own database (the MLS's work is not ours). One agent's draft is pushed to the
sandbox first; then eight 24 MP camera JPEGs (made as bench/photos does: orientation 6, GPS,
XMP, quality 95, about 7.6 MB) are uploaded one after another as the media page's uploader posts
them (static/js/media.js: a JSON answer, a client key, the batch's keys), and the database is
polled until every photo is in the MLS (its RemoteItem confirmed with the master's digest).

CPU is read from /proc over the web and worker process trees, children included (utime, stime,
cutime, cstime), from just before the first upload to the last confirmation; the sandbox is
reported apart. The floor is measured in this same run, as bench/photos/run.py defines it:
decode at the needed JPEG scale and encode the portal's outputs, per photo. Prints ms of CPU
per photo for web and worker, the floor, the ratio (goal <= 2.5x) and the load average.

With --profile DIR the worker and the web process write one cProfile file per task / upload
request there (the PORTAL_PROFILE_DIR switch of listings_portal/lib/profiling.py).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.gunicorn_server import deployed_env, free_port, start_server, stop_server  # noqa: E402
from bench.load.run import CLOCK_TICKS, start, stop, tree_cpu_seconds, wait_for  # noqa: E402
from bench.photos.run import LIMITS, run_floor, timed  # noqa: E402
from media_manager.pipeline import VARIANTS, render_photo  # noqa: E402
from tests.media_manager import samples  # noqa: E402

PYTHON = sys.executable
BIN = Path(PYTHON).parent

SEED = r"""
import string
import django
django.setup()
from decimal import Decimal
from django.test import Client
from django.utils.crypto import get_random_string
from accounts.models import Company, Office, Role, User
from drafts.models import Draft
from mls.enqueue import publish
company = Company.objects.create(slug="bench", name="Bench Realty")
office = Office.objects.create(company=company, name="Bench office")
agent = User.objects.create(username="bench.agent", office=office, role=Role.AGENT, first_name="Bench",
                            last_name="Agent", email="bench@bench.example",
                            remote_agent_id="20080917142739989238000001")
draft = Draft.start(
    by=agent, property_type="A", property_sub_type="SF", list_price=Decimal(250000),
    street_number="100", street_name="Elm", street_suffix="St", city="Fargo",
    state_or_province="ND", postal_code="58103", county_or_parish="Cass", latitude=46.8,
    longitude=-96.8, year_built=1995, building_area_total=1850, beds_total=3, baths_total=2,
    baths_full=1, baths_three_quarter=1, baths_half=0,
    public_remarks="Well kept home close to parks and schools.", subdivision_name="Island Park",
    standard_fields_extra={"ListingContractDate": "2026-11-30", "LotSizeAcres": 0.17},
)
client = Client()
client.force_login(agent)
publish(draft.pk)
csrf = get_random_string(32, string.ascii_letters + string.digits)
print(draft.pk, client.cookies["sessionid"].value, csrf)
"""


def fork_server_cpu_seconds(root: int) -> float:
    """CPU of the isolation fork servers under `root` (their jobs included, which
    they reap): the share of a tree's CPU spent checking and processing in isolation."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        try:
            command = (Path("/proc") / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue
        if b"isolation_child" in command:
            total += tree_cpu_seconds(pid)
        else:
            stack.extend(children.get(pid, []))
    return total


def own_cpu_seconds(pid: int) -> float:
    """CPU of the process `pid` itself (utime + stime), without its children: the Celery
    worker's main process, which takes the messages and hands them to its pool."""
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def base_env(var_dir: Path) -> dict[str, str]:
    env = deployed_env(var_dir)
    env.pop("DATABASE_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def make_photos(directory: Path, count: int) -> list[Path]:
    """24 MP camera JPEGs as bench/photos makes them, each with a picture of its own."""
    paths = []
    for index in range(count):
        path = directory / f"IMG_{5000 + index}.jpg"
        stored = samples.photo_like(6000, 4000, seed=index + 1)
        path.write_bytes(samples.camera_jpeg(stored, orientation=6, quality=95))
        paths.append(path)
    return paths


def floor_seconds(photos: list[Path], repeats: int) -> float:
    """Median over the photos of the floor (decode at the needed scale + encode the portal's outputs)."""
    floors = []
    for path in photos:
        prepared = render_photo(path, limits=LIMITS, variants=dict(VARIANTS)).images
        floors.append(timed(functools.partial(run_floor, path, prepared), repeats)[0])
    return statistics.median(floors)


def confirmed_photos(database: Path, draft: int) -> tuple[int, int]:
    """(photos processed, photos whose RemoteItem the MLS confirmed with the master's digest)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as connection:
        processed = connection.execute(
            "SELECT count(*) FROM media_manager_photo WHERE draft_id = ? AND processed_at IS NOT NULL",
            (draft,),
        ).fetchone()[0]
        confirmed = connection.execute(
            "SELECT count(*) FROM mls_remoteitem r JOIN media_manager_photo p ON p.id = r.local_id "
            "WHERE r.draft_id = ? AND r.kind = 'photo' AND r.confirmed_at IS NOT NULL AND NOT r.sending "
            "AND r.content_sha256 = p.sha256",
            (draft,),
        ).fetchone()[0]
    return processed, confirmed


def draft_synced(database: Path, draft: int) -> bool:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as connection:
        row = connection.execute(
            "SELECT d.change_seq <= coalesce(s.confirmed_seq, 0) FROM drafts_draft d "
            "LEFT JOIN mls_draftsync s ON s.draft_id = d.id WHERE d.id = ?",
            (draft,),
        ).fetchone()
    return bool(row and row[0])


def wait_until(condition, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not happen in {timeout:.0f} s; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument(
        "--warm-up", type=int, default=2, help="photos uploaded before the clock starts (0: a cold portal)"
    )
    parser.add_argument("--floor-repeats", type=int, default=3)
    parser.add_argument(
        "--redis", default="", help="broker URL (e.g. redis://127.0.0.1:6379/6); default embedded"
    )
    parser.add_argument("--profile", default="", help="directory for cProfile files of tasks and uploads")
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="portal-bench-photocpu-"))
    portal_env, mls_env = base_env(work / "portal"), base_env(work / "mls")
    if options.redis:
        portal_env["CELERY_BROKER_URL"] = options.redis
        subprocess.run(["redis-cli", "-u", options.redis, "flushdb"], check=False, capture_output=True)
    if options.profile:
        Path(options.profile).mkdir(parents=True, exist_ok=True)
        portal_env["PORTAL_PROFILE_DIR"] = str(Path(options.profile).resolve())
    portal_env.update(
        {
            "SPARK_SANDBOX_ENABLED": "0",
            "SPARK_SANDBOX_ACCESS_TOKEN": "sandbox-access-token",
            "SPARK_ACCESS_TOKEN": "sandbox-access-token",
        }
    )
    mls_env.update({"SPARK_SANDBOX_ENABLED": "1", "CACHE_URL": ""})
    for directory in (work / "portal", work / "mls"):
        directory.mkdir(parents=True)
    database = work / "portal" / "portal.sqlite3"
    started = time.perf_counter()
    made = make_photos(work, options.photos + options.warm_up)
    warm_up, photos = made[options.photos :], made[: options.photos]
    mb = statistics.mean(p.stat().st_size for p in photos) / 1e6
    print(
        f"{len(photos)} photos of 24 MP, {mb:.1f} MB each, made in {time.perf_counter() - started:.0f} s",
        flush=True,
    )

    processes = []
    web = None
    try:
        manage(mls_env, "migrate", "--noinput")
        manage(portal_env, "migrate", "--noinput")
        manage(portal_env, "createcachetable")
        manage(portal_env, "collectstatic", "--noinput")
        mls_port, web_port = free_port(), free_port()
        mls_base, base = f"http://127.0.0.1:{mls_port}", f"http://127.0.0.1:{web_port}"
        portal_env["SPARK_API_URL"] = mls_base + "/sandbox"
        portal_env["PORTAL_BASE_URL"] = base
        gunicorn = str(BIN / "gunicorn")
        sandbox = start(
            mls_env, gunicorn, "listings_portal.wsgi", "-b", f"127.0.0.1:{mls_port}", "-w", "1",
            "-k", "gthread", "--threads", "4", "--log-level", "warning", log=work / "sandbox.log",
        )  # fmt: skip
        processes.append(sandbox)
        wait_for(mls_base + "/health/")
        manage(portal_env, "refresh_mls_metadata")
        worker = start(
            portal_env, PYTHON, "-m", "celery", "-A", "listings_portal", "worker", "--concurrency=2",
            "--loglevel=WARNING", log=work / "worker.log",
        )  # fmt: skip
        processes.append(worker)
        web = start_server(portal_env, web_port, extra=("--timeout", "120"))
        seeded = subprocess.run(
            [PYTHON, "-c", SEED], env=portal_env, cwd=ROOT, capture_output=True, text=True, check=True
        )
        draft_text, session, csrf = seeded.stdout.strip().splitlines()[-1].split()
        draft = int(draft_text)
        wait_until(lambda: draft_synced(database, draft), 120, "the draft's first push", work / "worker.log")
        time.sleep(2)  # let the worker settle after the push
        print("draft in the MLS; uploading", flush=True)

        floor_before = floor_seconds(photos[:2], options.floor_repeats)
        session_http = requests.Session()
        session_http.cookies.set("sessionid", session)
        session_http.cookies.set("csrftoken", csrf)
        # As static/js/media.js sends each file: JSON answer (no redirect to the media page, which
        # the uploader never loads), the CSRF token, the file's client key and its batch's keys.
        headers = {"X-CSRFToken": csrf, "Referer": base + "/", "Accept": "application/json"}
        keys = {path: str(uuid.uuid4()) for path in made}

        def upload(path: Path, batch: list[Path]) -> float:
            """POST one photo as the media page does; the request's wall time in ms."""
            fields = {
                "csrfmiddlewaretoken": csrf,
                "client_key": keys[path],
                "batch": ",".join(keys[chosen] for chosen in batch),
            }
            with path.open("rb") as body:
                t0 = time.perf_counter()
                answer = session_http.post(
                    f"{base}/drafts/{draft}/media/photos/upload/",
                    data=fields,
                    files={"file": (path.name, body, "image/jpeg")},
                    headers=headers,
                    timeout=120,
                    allow_redirects=False,
                )
                took = (time.perf_counter() - t0) * 1000
            if answer.status_code != 201 or answer.json()["files"][0]["status"] == "rejected":
                raise SystemExit(f"upload of {path.name} answered {answer.status_code}: {answer.text[:300]}")
            return took

        # A running portal has its fork servers started (one per web worker and pool child,
        # ~0.3 s of CPU each, once): warm-up photos start them outside the measured window.
        for path in warm_up:
            upload(path, warm_up)
        wait_until(
            lambda: confirmed_photos(database, draft)[1] >= len(warm_up),
            600,
            "the warm-up photos confirmed",
            work / "worker.log",
        )
        time.sleep(1)
        load_before = os.getloadavg()
        cpu0 = tree_cpu_seconds(web.pid), tree_cpu_seconds(worker.pid), tree_cpu_seconds(sandbox.pid)
        jobs0 = fork_server_cpu_seconds(web.pid), fork_server_cpu_seconds(worker.pid)
        consumer0 = own_cpu_seconds(worker.pid)
        began = time.perf_counter()
        upload_ms = [upload(path, photos) for path in photos]
        web_after_uploads = tree_cpu_seconds(web.pid)
        wait_until(
            lambda: confirmed_photos(database, draft)[1] >= len(warm_up) + len(photos),
            600,
            "every photo confirmed",
            work / "worker.log",
        )
        elapsed = time.perf_counter() - began
        cpu1 = tree_cpu_seconds(web.pid), tree_cpu_seconds(worker.pid), tree_cpu_seconds(sandbox.pid)
        jobs1 = fork_server_cpu_seconds(web.pid), fork_server_cpu_seconds(worker.pid)
        consumer1 = own_cpu_seconds(worker.pid)
        load_after = os.getloadavg()
        floor_after = floor_seconds(photos[-2:], options.floor_repeats)
    finally:
        if web is not None:
            stop_server(web)
        for process in reversed(processes):
            stop(process)

    n = len(photos)
    web_cpu, worker_cpu, mls_cpu = (after - before for after, before in zip(cpu1, cpu0, strict=True))
    floor = statistics.median([floor_before, floor_after])
    web_jobs, worker_jobs = ((after - before) / n * 1000 for after, before in zip(jobs1, jobs0, strict=True))
    portal = (web_cpu + worker_cpu) / n
    print(
        f"\n=== the whole portal's CPU per photo: {n} x 24 MP JPEG ({mb:.1f} MB), upload -> confirmed push"
        f" ({len(warm_up)} warm-up photos before the clock)"
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; {os.cpu_count()} cores")
    print(f"elapsed {elapsed:.1f} s; upload request p50 {statistics.median(upload_ms):.0f} ms wall")
    print(
        f"web    {web_cpu / n * 1000:6.0f} ms CPU per photo"
        f" (of which {(web_after_uploads - cpu0[0]) / n * 1000:.0f} ms until the last upload answered;"
        f" the isolated check {web_jobs:.0f} ms, the request itself {web_cpu / n * 1000 - web_jobs:.0f} ms)"
    )
    consumer = (consumer1 - consumer0) / n * 1000
    tasks = worker_cpu / n * 1000 - worker_jobs - consumer
    print(
        f"worker {worker_cpu / n * 1000:6.0f} ms CPU per photo (children included: the isolated processing"
        f" {worker_jobs:.0f} ms; the tasks and the push {tasks:.0f} ms;"
        f" Celery's main process {consumer:.0f} ms)"
    )
    print(f"portal {portal * 1000:6.0f} ms CPU per photo; sandbox apart {mls_cpu / n * 1000:.0f} ms")
    print(
        f"floor  {floor * 1000:6.0f} ms (decode at scale + encode the outputs; "
        f"{floor_before * 1000:.0f} ms before, {floor_after * 1000:.0f} ms after)"
    )
    ratio = portal / floor
    print(f"ratio  {ratio:.2f}x the floor (goal <= 2.5)  {'PASS' if ratio <= 2.5 else 'FAIL'}")
    if options.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
