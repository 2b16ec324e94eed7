"""A busy office under load. One command (PostgreSQL and Redis on 127.0.0.1):

    make bench-load        # = .venv/bin/python bench/load/run.py

The production-like stack, each part a process of its own: gunicorn (as the Dockerfile runs
it, with listings_portal/gunicorn_conf.py), PostgreSQL, Redis (broker and cache), one Celery
worker with two processes, beat, and the Spark sandbox in its own gunicorn with its own
database, answering every call after 20 ms (the MLS's work is not ours). The worker runs at
nice 10, the weight docker-compose gives it beside the web (--worker-nice 0 for an even share).
The office is seeded, every user signed in ahead of time, and every draft pushed to the MLS
before the clock starts. Then, with locust headless:

1. steady: 100 agents editing (an autosave every 2-5 s and the rules the editor re-reads after
   it, now and then a page load), 10 agents uploading 12 MP photos (5 each, 4 at a time as the
   photo page sends them, over a 20 Mbit/s uplink each, starting within 40 s of the sign-on
   burst), 5 admins reviewing, approving and publishing, for 3 minutes; its percentiles count
   from the end of the sign-on burst (20 s), as the ramp's do, the whole run's printed apart;
2. ramp: agents editing alone, in steps (default 100, 150, 200, 300, 45 s each), to find the
   knee: the number of agents at which autosave p95 crosses 300 ms.

Prints autosave p50/p95/p99, page p95, upload p95, errors, save->synced p95 (sampled from the
database every 200 ms: the time from a draft's change being seen to the MLS confirming it),
upload->processed p95, and the portal's CPU per request (web and worker processes, their
children included; the sandbox and PostgreSQL are reported apart). The databases named
bench_load and bench_load_mls (--database) are dropped and created, and Redis databases 10 and
11 (--redis-dbs) flushed: never point it at real data.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.gunicorn_server import deployed_env, free_port  # noqa: E402

PYTHON = sys.executable
BIN = Path(PYTHON).parent
PG = "postgres://postgres@127.0.0.1:5432"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Every locust run starts with all its users opening their editor within a few seconds (a
# burst no office sees at once); percentiles count only after this many seconds.
SETTLE_SECONDS = 20

SEED = r"""
import json, string, sys
from decimal import Decimal
import django
django.setup()
from django.test import Client
from django.utils.crypto import get_random_string
from accounts.models import Company, Office, Role, User
from drafts.models import Draft, DraftStatus

plan_path, agents, uploaders, admins, review_drafts, background = sys.argv[1], *map(int, sys.argv[2:7])
company = Company.objects.create(slug="bench", name="Bench Realty")
office = Office.objects.create(company=company, name="Bench office")
STREETS = ["Elm", "Broadway", "University", "Main", "Oak", "8th", "25th", "45th", "Prairie Rose", "River"]

def person(username, role, n):
    return User.objects.create(username=username, office=office, role=role, first_name=username.title(),
                               last_name="Bench", email=f"{username}@bench.example",
                               remote_agent_id=f"20080917142739989238{n:06d}")

def draft_for(agent, n):
    return Draft.start(
        by=agent, property_type="A", property_sub_type="SF", list_price=Decimal(200000 + n * 100),
        street_number=str(100 + n), street_name=STREETS[n % len(STREETS)], street_suffix="St",
        city="Fargo", state_or_province="ND", postal_code="58103", county_or_parish="Cass",
        latitude=46.80 + (n % 97) / 1000, longitude=-96.80 - (n % 89) / 1000, year_built=1995,
        building_area_total=1850, beds_total=3, baths_total=2, baths_full=1, baths_three_quarter=1,
        baths_half=0, public_remarks="Well kept home close to parks and schools.",
        subdivision_name="Island Park",
        standard_fields_extra={"ListingContractDate": "2026-11-30", "LotSizeAcres": 0.17},
    )

def signed_in(user):
    client = Client()
    client.force_login(user)
    # A CSRF secret of our own: Django accepts the unmasked 32-character secret as the token.
    return {"username": user.username, "session": client.cookies["sessionid"].value,
            "csrf": get_random_string(32, string.ascii_letters + string.digits)}

n = 0
plan = {"editors": [], "uploaders": [], "admins": [], "review_drafts": [], "drafts": []}
for i in range(agents):
    n += 1
    agent = person(f"agent{i:03d}", Role.AGENT, n)
    draft = draft_for(agent, n)
    plan["editors"].append({**signed_in(agent), "draft": draft.pk})
    plan["drafts"].append(draft.pk)
for i in range(uploaders):
    n += 1
    agent = person(f"uploader{i:02d}", Role.AGENT, n)
    draft = draft_for(agent, n)
    plan["uploaders"].append({**signed_in(agent), "draft": draft.pk})
    plan["drafts"].append(draft.pk)
for i in range(admins):
    n += 1
    plan["admins"].append(signed_in(person(f"admin{i}", Role.OFFICE_ADMIN, n)))
authors = [User.objects.get(username=e["username"]) for e in plan["editors"][:20]]
for i in range(review_drafts):
    n += 1
    draft = draft_for(authors[i % len(authors)], n)
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.SUBMITTED)
    plan["review_drafts"].append(draft.pk)
    plan["drafts"].append(draft.pk)
if background:  # the rest of a busy office's drafts: listed and searched, never pushed
    Draft.objects.bulk_create([
        Draft(office=office, list_agent=authors[k % len(authors)], created_by=authors[0],
              updated_by=authors[0], property_type="A", status=DraftStatus.LIVE,
              list_price=Decimal(100000 + k), street_number=str(k), street_name=STREETS[k % 10],
              street_suffix="Ave", city="Moorhead", state_or_province="MN", postal_code="56560")
        for k in range(background)
    ], batch_size=2000)
with open(plan_path, "w") as out:
    json.dump(plan, out)
"""

PUSH_ALL = r"""
import json, sys
import django
django.setup()
from mls.enqueue import publish
for pk in json.load(open(sys.argv[1]))["drafts"]:
    publish(pk)
"""


def base_env(var_dir: Path, database: str) -> dict[str, str]:
    return {**deployed_env(var_dir), "DATABASE_URL": f"{PG}/{database}"}


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*args], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args[:3])} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def manage(env: dict[str, str], *args: str) -> str:
    return run(env, PYTHON, str(ROOT / "manage.py"), *args)


def fresh_database(name: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")


def start(env: dict[str, str], *command: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        list(command),
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer in {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


# --- CPU of process trees ------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def tree_cpu_seconds(root: int) -> float:
    """CPU of `root` and every live descendant, with the children each has reaped (cutime)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        if fields := _stat(pid):
            # utime, stime, cutime, cstime are fields 14-17 of stat; here indices 11-14.
            total += sum(int(value) for value in fields[11:15])
        stack.extend(children.get(pid, []))
    return total / CLOCK_TICKS


def postgres_cpu_seconds() -> float:
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if name.startswith("postgres") and (fields := _stat(int(entry.name))):
                total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


# --- Save -> synced, sampled from the database ------------------------------------------------


class SyncSampler(threading.Thread):
    """Every 200 ms: each draft's change_seq and the seq the MLS confirmed. A change is seen
    at the first sample showing its seq, and synced at the first sample confirming it."""

    def __init__(self, url: str, drafts: list[int]) -> None:
        super().__init__(daemon=True)
        self.url, self.drafts = url, drafts
        self.stopped = threading.Event()
        self.seen: dict[tuple[int, int], float] = {}
        self.latencies: list[float] = []
        self.window: tuple[float, float] = (0.0, float("inf"))

    def run(self) -> None:
        pending: dict[int, list[tuple[int, float]]] = {}
        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self.stopped.wait(0.2):
                now = time.time()
                rows = connection.execute(
                    "SELECT d.id, d.change_seq, coalesce(s.confirmed_seq, 0) FROM drafts_draft d "
                    "LEFT JOIN mls_draftsync s ON s.draft_id = d.id WHERE d.id = ANY(%s)",
                    (self.drafts,),
                ).fetchall()
                for draft, change_seq, confirmed in rows:
                    waiting = pending.setdefault(draft, [])
                    if change_seq > confirmed and (not waiting or waiting[-1][0] < change_seq):
                        waiting.append((change_seq, now))
                    while waiting and waiting[0][0] <= confirmed:
                        _seq, since = waiting.pop(0)
                        if self.window[0] <= since <= self.window[1]:
                            self.latencies.append(now - since)

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)


class Timeline(threading.Thread):
    """Where the time goes while the steady run lasts: every 250 ms the web's accept queue (the
    requests waiting because every gunicorn worker is busy), every second the CPU of the web,
    the worker, the sandbox and PostgreSQL, so a slow autosave can be laid beside what ran."""

    def __init__(self, port: int, trees: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.port_hex = f"{port:04X}"
        self.trees = trees
        self.stopped = threading.Event()
        self.queue: list[tuple[float, int]] = []
        self.cpu: list[tuple[float, dict[str, float]]] = []

    def waiting(self) -> int:
        """Connections accepted by the kernel, not yet by a worker: a listening socket's rx_queue."""
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(":" + self.port_hex) and fields[3] == "0A":
                return int(fields[4].split(":")[1], 16)
        return 0

    def run(self) -> None:
        tick = 0
        while not self.stopped.wait(0.25):
            now = time.time()
            self.queue.append((now, self.waiting()))
            tick += 1
            if tick % 4 == 0:
                seconds = {name: tree_cpu_seconds(pid) for name, pid in self.trees.items()}
                seconds["postgres"] = postgres_cpu_seconds()
                self.cpu.append((now, seconds))

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)

    def table(
        self, rows: list[tuple[float, str, float, bool]], began: float, ended: float, width: int = 15
    ) -> list[str]:
        """One line per `width` seconds: requests, autosave p50/p95, the slowest kinds' p95, the
        accept queue and each part's share of one core."""
        lines = [
            f"{'from s':>6} {'reqs':>5} {'save p50':>8} {'p95':>5} {'rules p95':>9} {'page p95':>8} "
            f"{'uploads':>7} {'upl p95':>7} {'queue avg':>9} {'max':>4} "
            + " ".join(f"{name + ' %':>10}" for name in [*self.trees, "postgres"])
        ]
        start = began
        while start < ended:
            stop = start + width
            window = [row for row in rows if start <= row[0] < stop]
            saves = [ms for _, name, ms, _ in window if name == "autosave"]
            rules = [ms for _, name, ms, _ in window if name.startswith("rules")]
            pages = [ms for _, name, ms, _ in window if name.startswith("page:")]
            uploads = [ms for _, name, ms, _ in window if name.startswith("upload")]
            queued = [depth for at, depth in self.queue if start <= at < stop] or [0]
            samples = [(at, cpu) for at, cpu in self.cpu if start - 1 <= at < stop]
            shares = []
            for name in [*self.trees, "postgres"]:
                if len(samples) >= 2:
                    (t0, first), (t1, last) = samples[0], samples[-1]
                    shares.append(f"{(last[name] - first[name]) / (t1 - t0) * 100:>10.0f}")
                else:
                    shares.append(f"{'-':>10}")
            lines.append(
                f"{start - began:>6.0f} {len(window):>5} {percentile(saves, 0.5):>8.0f} "
                f"{percentile(saves, 0.95):>5.0f} {percentile(rules, 0.95):>9.0f} "
                f"{percentile(pages, 0.95):>8.0f} {len(uploads):>7} {percentile(uploads, 0.95):>7.0f} "
                f"{sum(queued) / len(queued):>9.1f} {max(queued):>4} " + " ".join(shares)
            )
            start = stop
        return lines


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def make_photos(directory: Path, count: int = 5) -> list[str]:
    """12 MP camera-like JPEGs (4000x3000: gradients, shapes and grain, about 3-4 MB each)."""
    from PIL import Image, ImageDraw, ImageFilter

    paths = []
    for index in range(count):
        small = Image.effect_noise((1000, 750), 40 + index * 5).convert("RGB")
        draw = ImageDraw.Draw(small)
        for k in range(30):
            x, y = (k * 137 + index * 53) % 1000, (k * 71 + index * 29) % 750
            draw.ellipse((x, y, x + 120, y + 90), fill=((k * 40) % 255, (k * 90 + index * 30) % 255, 120))
        image = small.filter(ImageFilter.GaussianBlur(2)).resize((4000, 3000), Image.Resampling.BICUBIC)
        grain = Image.effect_noise((4000, 3000), 18).convert("RGB")
        image = Image.blend(image, grain, 0.3)
        path = directory / f"photo-{index}.jpg"
        image.save(path, quality=92)
        paths.append(str(path))
    return paths


def read_requests(log: Path, since: float = 0.0) -> list[tuple[float, str, float, bool]]:
    rows = []
    for line in log.read_text().splitlines():
        at, name, ms, ok = line.split("\t")
        if float(at) >= since:
            rows.append((float(at), name, float(ms), ok == "1"))
    return rows


def locust(env: dict[str, str], base: str, users: int, seconds: int, classes: list[str], log: Path) -> None:
    command = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "bench/load/locustfile.py"),
        "--headless",
        "--host",
        base,
        "-u",
        str(users),
        "-r",
        str(max(10, users // 5)),
        "-t",
        f"{seconds}s",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "10",
        *classes,
    ]
    env = {**env, "LOAD_LOG": str(log)}
    with log.with_suffix(".locust.log").open("w") as output:  # locust's own summary, kept beside
        subprocess.run(command, env=env, cwd=ROOT, check=False, stdout=output, stderr=subprocess.STDOUT)


def summarise(rows: list[tuple[float, str, float, bool]]) -> dict[str, float]:
    def times(predicate) -> list[float]:
        return [ms for _, name, ms, ok in rows if predicate(name)]

    saves = times(lambda name: name == "autosave")
    pages = times(lambda name: name.startswith("page:"))
    uploads = times(lambda name: name.startswith("upload"))
    rules = times(lambda name: name.startswith("rules"))
    return {
        "requests": len(rows),
        "errors": sum(1 for row in rows if not row[3]),
        "saves": len(saves),
        "save_p50": percentile(saves, 0.50),
        "save_p95": percentile(saves, 0.95),
        "save_p99": percentile(saves, 0.99),
        "page_p95": percentile(pages, 0.95),
        "rules_p95": percentile(rules, 0.95),
        "rules": len(rules),
        "upload_p95": percentile(uploads, 0.95),
        "uploads": len(uploads),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--uploaders", type=int, default=10)
    parser.add_argument("--admins", type=int, default=5)
    parser.add_argument("--photos-each", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=180, help="the steady run")
    parser.add_argument("--ramp", default="100,150,200,300", help="agents per ramp step ('' for none)")
    parser.add_argument("--step-seconds", type=int, default=45)
    parser.add_argument("--background-drafts", type=int, default=5000)
    parser.add_argument(
        "--web-workers", type=int, default=0, help="gunicorn workers (0: listings_portal/gunicorn_conf.py's)"
    )
    parser.add_argument("--web-class", default="", help="gunicorn worker class (sync, gthread)")
    parser.add_argument("--web-threads", type=int, default=0, help="threads per gthread worker")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="the Celery worker's nice value, as docker-compose weighs it (cpu_shares 110); 0: the web's",
    )
    parser.add_argument(
        "--upload-mbps",
        type=float,
        default=20.0,
        help="each uploading agent's uplink in Mbit/s, shared by the 4 photos sent at once (0: loopback)",
    )
    parser.add_argument(
        "--uploads-within",
        type=int,
        default=40,
        help="each uploading agent starts at a random moment this many seconds after the sign-on burst",
    )
    parser.add_argument("--sandbox-latency-ms", type=int, default=20)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--redis-dbs", default="10,11", help="the broker's and the cache's Redis databases")
    parser.add_argument(
        "--database", default="bench_load", help="dropped and created, with <name>_mls for the sandbox"
    )
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    ramp = [int(step) for step in options.ramp.split(",") if step]
    most_agents = max([options.agents, *ramp])
    broker_db, cache_db = options.redis_dbs.split(",")
    database, mls_database = options.database, f"{options.database}_mls"

    work = Path(tempfile.mkdtemp(prefix="portal-bench-load-"))
    portal_env = base_env(work / "portal", database)
    portal_env.update(
        {
            "CELERY_BROKER_URL": f"{options.redis}/{broker_db}",
            "CACHE_URL": f"{options.redis}/{cache_db}",
            "SPARK_SANDBOX_ENABLED": "0",
            "SPARK_SANDBOX_ACCESS_TOKEN": "sandbox-access-token",
            "SPARK_ACCESS_TOKEN": "sandbox-access-token",
        }
    )
    mls_env = base_env(work / "mls", mls_database)
    mls_env.update(
        {
            "SPARK_SANDBOX_ENABLED": "1",
            "SPARK_SANDBOX_FAULTS": json.dumps({"latency_ms": options.sandbox_latency_ms, "rules": []}),
            "CACHE_URL": "",
        }
    )
    for directory in (work / "portal", work / "mls"):
        directory.mkdir(parents=True)
    processes: list[subprocess.Popen] = []
    try:
        for name in (database, mls_database):
            fresh_database(name)
        subprocess.run(
            ["redis-cli", "-u", f"{options.redis}/{broker_db}", "flushdb"], check=False, capture_output=True
        )
        subprocess.run(
            ["redis-cli", "-u", f"{options.redis}/{cache_db}", "flushdb"], check=False, capture_output=True
        )
        print(f"setting up in {work} ...", flush=True)
        manage(mls_env, "migrate", "--noinput")
        manage(portal_env, "migrate", "--noinput")
        manage(portal_env, "createcachetable")
        manage(portal_env, "collectstatic", "--noinput")

        mls_port, web_port = free_port(), free_port()
        mls_base, base = f"http://127.0.0.1:{mls_port}", f"http://127.0.0.1:{web_port}"
        portal_env["SPARK_API_URL"] = mls_base + "/sandbox"
        portal_env["PORTAL_BASE_URL"] = base
        sandbox = start(
            mls_env,
            str(BIN / "gunicorn"),
            "listings_portal.wsgi",
            "-b",
            f"127.0.0.1:{mls_port}",
            "-w",
            "2",
            "-k",
            "gthread",
            "--threads",
            "8",
            "--log-level",
            "warning",
            log=work / "sandbox.log",
        )
        processes.append(sandbox)
        wait_for(mls_base + "/health/")
        manage(portal_env, "refresh_mls_metadata")

        plan_path = work / "plan.json"
        run(
            portal_env,
            PYTHON,
            "-c",
            SEED,
            str(plan_path),
            str(most_agents),
            str(options.uploaders),
            str(options.admins),
            str(options.admins * 12),
            str(options.background_drafts),
        )
        plan = json.loads(plan_path.read_text())
        plan["photos"] = make_photos(work) if options.uploaders else []
        plan["photos_each"] = options.photos_each
        plan["upload_bytes_per_second"] = options.upload_mbps * 1e6 / 8
        plan["uploads_begin_within"] = [SETTLE_SECONDS, SETTLE_SECONDS + options.uploads_within]
        plan_path.write_text(json.dumps(plan))
        steady_editors = plan["editors"][: options.agents]

        worker = start(
            portal_env,
            *(["nice", "-n", str(options.worker_nice)] if options.worker_nice else []),
            PYTHON,
            "-m",
            "celery",
            "-A",
            "listings_portal",
            "worker",
            "--concurrency=2",
            "--loglevel=WARNING",
            log=work / "worker.log",
        )
        processes.append(worker)
        beat = start(  # a process of its own, as docker-compose runs it
            portal_env,
            PYTHON,
            "-m",
            "celery",
            "-A",
            "listings_portal",
            "beat",
            "--loglevel=WARNING",
            f"--schedule={work / 'celerybeat-schedule'}",
            log=work / "beat.log",
        )
        processes.append(beat)
        web_env = {
            **portal_env,
            **({"WEB_WORKERS": str(options.web_workers)} if options.web_workers else {}),
            **({"WEB_WORKER_CLASS": options.web_class} if options.web_class else {}),
            **({"WEB_THREADS": str(options.web_threads)} if options.web_threads else {}),
        }
        # What the conf gives in the web's environment, read as gunicorn starts it (not as run.py began).
        web_workers, web_class, web_threads, web_keepalive = run(
            web_env,
            PYTHON,
            "-c",
            "from listings_portal import gunicorn_conf as g; "
            "print(g.workers, g.worker_class, g.threads, g.keepalive)",
        ).split()
        web = start(  # as the Dockerfile runs it: its settings from listings_portal/gunicorn_conf.py
            web_env,
            str(BIN / "gunicorn"),
            "-c",
            "python:listings_portal.gunicorn_conf",
            "listings_portal.wsgi",
            "-b",
            f"127.0.0.1:{web_port}",
            "--log-level",
            "warning",
            log=work / "web.log",
        )
        processes.append(web)
        wait_for(base + "/health/")
        run(portal_env, PYTHON, "-c", PUSH_ALL, str(plan_path))
        url = f"{PG}/{database}"
        deadline = time.monotonic() + 600
        with psycopg.connect(url, autocommit=True) as connection:
            while time.monotonic() < deadline:
                behind = connection.execute(
                    "SELECT count(*) FROM drafts_draft d LEFT JOIN mls_draftsync s ON s.draft_id = d.id "
                    "WHERE d.id = ANY(%s) AND d.change_seq > coalesce(s.confirmed_seq, 0)",
                    (plan["drafts"],),
                ).fetchone()[0]
                if not behind:
                    break
                time.sleep(2)
            else:
                raise SystemExit(
                    f"{behind} drafts still not in the MLS after 10 minutes; see {work}/worker.log"
                )
        print(
            f"{len(plan['drafts'])} drafts in the MLS; {options.background_drafts} more in the office",
            flush=True,
        )

        # --- steady ---
        plan_steady = {**plan, "editors": steady_editors}
        steady_path = work / "plan-steady.json"
        steady_path.write_text(json.dumps(plan_steady))
        env = {**portal_env, "LOAD_PLAN": str(steady_path)}
        log = work / "steady.tsv"
        sampler = SyncSampler(url, [e["draft"] for e in steady_editors])
        sampler.start()
        timeline = Timeline(web_port, {"web": web.pid, "worker": worker.pid, "sandbox": sandbox.pid})
        timeline.start()
        cpu_before = (tree_cpu_seconds(web.pid), tree_cpu_seconds(worker.pid), tree_cpu_seconds(sandbox.pid))
        pg_before, load_before = postgres_cpu_seconds(), os.getloadavg()
        began = time.time()
        sampler.window = (began, began + options.seconds)
        users = options.agents + options.uploaders + options.admins
        locust(env, base, users, options.seconds, ["AgentEditing", "AgentUploading", "AdminReviewing"], log)
        ended = time.time()
        load_steady = os.getloadavg()[0]
        timeline.stop()
        time.sleep(15)  # let the last saves reach the MLS
        cpu_after = (tree_cpu_seconds(web.pid), tree_cpu_seconds(worker.pid), tree_cpu_seconds(sandbox.pid))
        pg_used = postgres_cpu_seconds() - pg_before
        sampler.stop()
        steady_rows = read_requests(log)
        # The office after its sign-on burst, as every ramp step is measured; the whole run apart.
        steady = summarise([row for row in steady_rows if row[0] >= began + SETTLE_SECONDS])
        whole = summarise(steady_rows)
        with psycopg.connect(url, autocommit=True) as connection:
            processed = [
                row[0]
                for row in connection.execute(
                    "SELECT extract(epoch FROM processed_at - created_at) FROM media_manager_photo "
                    "WHERE processed_at IS NOT NULL"
                )
            ]
            photos_total = connection.execute("SELECT count(*) FROM media_manager_photo").fetchone()[0]
        web_cpu, worker_cpu, mls_cpu = (
            after - before for after, before in zip(cpu_after, cpu_before, strict=True)
        )

        # --- ramp ---
        knee_rows = []
        for agents in ramp:
            step_plan = work / f"plan-{agents}.json"
            step_plan.write_text(json.dumps({**plan, "editors": plan["editors"][:agents]}))
            step_log = work / f"ramp-{agents}.tsv"
            cpu0 = tree_cpu_seconds(web.pid)
            step_began = time.time()
            locust(
                {**portal_env, "LOAD_PLAN": str(step_plan)},
                base,
                agents,
                SETTLE_SECONDS + options.step_seconds,
                ["AgentEditing"],
                step_log,
            )
            # The web CPU of the whole step (sign-on burst included) over its requests.
            step_rows = read_requests(step_log)
            cpu_per_request = (tree_cpu_seconds(web.pid) - cpu0) / max(1, len(step_rows)) * 1000
            stats = summarise(read_requests(step_log, since=step_began + SETTLE_SECONDS))
            knee_rows.append((agents, stats, cpu_per_request, os.getloadavg()[0]))
    finally:
        for process in reversed(processes):
            stop(process)

    elapsed = ended - began
    requests_made = max(1, whole["requests"])
    machine = (web_cpu + worker_cpu + mls_cpu + pg_used) / elapsed / (os.cpu_count() or 1) * 100
    photo_mb = Path(plan["photos"][0]).stat().st_size / 1e6 if plan["photos"] else 0.0
    synced = sampler.latencies
    lines = [
        f"\n=== steady: {options.agents} agents editing, {options.uploaders} uploading, "
        f"{options.admins} admins, {elapsed:.0f} s",
        f"load average before {load_before[0]:.2f}, at the end {load_steady:.2f}; {os.cpu_count()} cores",
        f"web: gunicorn {web_workers} x {web_class}"
        f"{'' if web_class == 'sync' else f' ({web_threads} threads, keep-alive {web_keepalive} s)'}; "
        f"Celery worker nice {options.worker_nice}",
        f"requests {whole['requests']} ({whole['requests'] / elapsed:.1f}/s), errors {whole['errors']}",
        f"from {SETTLE_SECONDS} s on (after the sign-on burst):",
        f"autosave  n={steady['saves']}  p50 {steady['save_p50']:.0f} ms  p95 {steady['save_p95']:.0f} ms  "
        f"p99 {steady['save_p99']:.0f} ms  (goal: p95 <= 150 ms, 0 errors)",
        f"rules after save  n={steady['rules']}  p95 {steady['rules_p95']:.0f} ms",
        f"pages     p95 {steady['page_p95']:.0f} ms",
        f"uploads   n={steady['uploads']}  p95 {steady['upload_p95']:.0f} ms  "
        f"(12 MP JPEG of {photo_mb:.1f} MB, 4 at a time over "
        f"{f'{options.upload_mbps:g} Mbit/s' if options.upload_mbps else 'the loopback'})",
        f"the whole run, sign-on burst included: {whole['requests']} requests, errors {whole['errors']}, "
        f"autosave p50 {whole['save_p50']:.0f} ms  p95 {whole['save_p95']:.0f} ms  "
        f"p99 {whole['save_p99']:.0f} ms, pages p95 {whole['page_p95']:.0f} ms, "
        f"uploads n={whole['uploads']} p95 {whole['upload_p95']:.0f} ms",
        f"save->synced  n={len(synced)}  p50 {percentile(synced, 0.5):.1f} s  "
        f"p95 {percentile(synced, 0.95):.1f} s",
        f"upload->processed  {len(processed)} of {photos_total}  p50 {percentile(processed, 0.5):.1f} s  "
        f"p95 {percentile(processed, 0.95):.1f} s",
        f"portal CPU: web {web_cpu:.1f} s + worker {worker_cpu:.1f} s = "
        f"{(web_cpu + worker_cpu) / requests_made * 1000:.1f} ms per request "
        f"(web alone {web_cpu / requests_made * 1000:.1f} ms)",
        f"apart: sandbox {mls_cpu:.1f} s, PostgreSQL {pg_used:.1f} s; "
        f"all of it {machine:.0f}% of the machine",
    ]
    lines.append(
        "\n=== steady, over time (CPU: % of one core; queue: connections no web worker has taken yet,"
        " which gthread workers take at once and queue for their threads)"
    )
    lines.extend(timeline.table(steady_rows, began, ended))
    if knee_rows:
        lines.append(f"\n=== ramp: agents editing alone, {options.step_seconds} s per step")
        lines.append(
            f"{'agents':>7} {'saves':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>7} "
            f"{'web CPU ms/req':>15} {'load avg':>9}"
        )
        knee = None
        for agents, stats, cpu_per_request, load in knee_rows:
            lines.append(
                f"{agents:>7} {stats['saves']:>6} {stats['save_p50']:>7.0f} {stats['save_p95']:>7.0f} "
                f"{stats['save_p99']:>7.0f} {stats['errors']:>7} {cpu_per_request:>15.1f} {load:>9.2f}"
            )
            if knee is None and stats["save_p95"] > 300:
                knee = agents
        last = knee_rows[-1][0]
        lines.append(
            f"knee: autosave p95 crosses 300 ms at {knee} agents"
            if knee
            else f"knee: autosave p95 stayed under 300 ms up to {last} agents"
        )
    print("\n".join(lines))
    if not options.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")


if __name__ == "__main__":
    main()
