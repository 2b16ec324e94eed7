"""Real processes for the worker tests and the sync benchmark.

`Harness` gives a run its own database (a throwaway PostgreSQL database when DATABASE_URL is
postgres, else a temporary SQLite file in WAL mode), migrated in a subprocess; its own
`redis-server` on a free port (no persistence: a restart really loses the queued messages);
the Spark sandbox (`manage.py runsandbox`); Celery workers and beat, all pointed at them
through the environment. The machine's own Redis and PostgreSQL databases are never touched.

The test seeds and reads the shared database through driver commands run in subprocesses
with the same environment: ``python -m tests.mls.worker_harness <command> '<json>'``
prints one JSON line. Commands: seed, edit, edit_requests, reorder_burst, field_burst,
photo_edit, document_edit, wait_synced, dump, progress, leases, ...
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def jpeg_bytes(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """A picture of its own for each seed: shapes placed and coloured by the seed, so that two
    seeds never look like copies of each other to the duplicate check (perceptual hash)."""
    chooser = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size, ((seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        left, top = chooser.randrange(width), chooser.randrange(height)
        box = (
            left,
            top,
            left + chooser.randrange(width // 8, width // 2),
            top + chooser.randrange(height // 8, height // 2),
        )
        colour = tuple(chooser.randrange(256) for _ in range(3))
        (draw.ellipse if chooser.random() < 0.5 else draw.rectangle)(box, fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def pdf_bytes(text: str) -> bytes:
    body = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port}")


def redis_server_command(binary: str, port: int, data: Path) -> list[str]:
    """A throwaway redis-server on loopback: nothing kept on disk, so a restart really loses
    the queued messages; never evicts (as the project requires of its broker)."""
    where = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)]
    return [binary, *where, "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Harness:
    """Database, Redis, sandbox, workers and beat for one run. Use as a context manager."""

    workdir: Path
    worker_concurrency: int = 2
    settings_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, Proc] = field(default_factory=dict)
    redis_port: int = 0
    sandbox_port: int = 0
    database_url: str = ""
    # The sandbox's _control/ answers requests that carry it (X-Sandbox-Control-Token).
    control_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    _pg_admin_url: str = ""
    _pg_name: str = ""

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Harness:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        self.redis_port = free_port()
        self.sandbox_port = free_port()
        try:
            self.create_database()
            self.start_redis()
            self.migrate()
            self.start_sandbox()
        except BaseException:
            # __exit__ does not run when __enter__ fails: stop what was started.
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM, wait=5)
        self.drop_database()

    @property
    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CELERY_", "SYNC_", "SPARK_"))
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "listings_portal.settings",
                "DATABASE_URL": self.database_url,
                "DATABASE_CONN_MAX_AGE": "0",
                "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "SYNC_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/1",
                "CACHE_URL": "",
                "SPARK_API_URL": f"http://127.0.0.1:{self.sandbox_port}",
                "SPARK_SANDBOX_CONTROL_ENABLED": "1",
                "SPARK_SANDBOX_CONTROL_TOKEN": self.control_token,
                # Explicit: with DJANGO_DEBUG=0 (the benchmarks) neither has a default.
                "SPARK_ACCESS_TOKEN": "sandbox-access-token",
                "DJANGO_SECRET_KEY": "worker-harness-only-" + "k" * 40,
                "PORTAL_VAR_DIR": str(self.workdir / "var"),
                "MEDIA_ROOT": str(self.workdir / "media"),
                "PORTAL_FAST_PASSWORD_HASHER": "1",
                "LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.settings_env)
        return env

    def _spawn(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> Proc:
        log = self.workdir / "logs" / f"{name}.log"
        handle = open(log, "ab")  # noqa: SIM115  (kept open for the process's life)
        popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = Proc(name, popen, log)
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL, *, wait: float = 10) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or not proc.alive():
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.popen.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.popen.wait(5)

    # --- database ----------------------------------------------------------------------------
    def create_database(self) -> None:
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith(("postgres://", "postgresql://")):
            import psycopg

            base, _, _name = url.rpartition("/")
            self._pg_name = f"portal_sync_{uuid.uuid4().hex[:10]}"
            self._pg_admin_url = f"{base}/postgres"
            with psycopg.connect(self._pg_admin_url, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{self._pg_name}"')
            self.database_url = f"{base}/{self._pg_name}"
        else:
            self.database_url = f"sqlite:///{self.workdir / 'portal.sqlite3'}"

    def drop_database(self) -> None:
        if self._pg_name:
            import psycopg

            with psycopg.connect(self._pg_admin_url, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')
            self._pg_name = ""

    @property
    def engine(self) -> str:
        return "postgresql" if self._pg_name else "sqlite"

    @property
    def sandbox_database_url(self) -> str:
        # The sandbox stands in for a remote service: its own database, so its writes never wait
        # for the portal's (one SQLite file has one writer) and a portal database restart
        # (bench/sync/pg_restart.py) does not restart the remote too.
        return f"sqlite:///{self.workdir / 'sandbox.sqlite3'}"

    def migrate(self) -> None:
        for args in (["migrate", "--noinput", "-v0"], ["createcachetable"]):
            subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, check=True, timeout=300)
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env={**self.env, "DATABASE_URL": self.sandbox_database_url},
            check=True,
            timeout=300,
        )

    # --- services ----------------------------------------------------------------------------
    def start_redis(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        data = self.workdir / "redis"
        data.mkdir(exist_ok=True)
        self._spawn("redis", redis_server_command(binary, self.redis_port, data))
        wait_port(self.redis_port)

    def stop_redis(self) -> None:
        """SIGKILL: no save, the queued messages are gone (docs/reliability.md#j12-redis-restart)."""
        self.kill("redis", signal.SIGKILL)

    def start_sandbox(self) -> None:
        self._spawn(
            "sandbox",
            [PYTHON, "manage.py", "runsandbox", "--port", str(self.sandbox_port)],
            {"DATABASE_URL": self.sandbox_database_url},
        )
        wait_port(self.sandbox_port)

    def purge_queue(self) -> None:
        """Drop every message waiting in the broker (e.g. the processing messages of photos a
        seeding already processed), so a measured run starts with only its own work."""
        subprocess.run(
            [PYTHON, "-m", "celery", "-A", "listings_portal", "purge", "-f"],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=120,
            capture_output=True,
        )

    def start_worker(
        self, name: str = "worker", *, concurrency: int | None = None, conf: dict[str, Any] | None = None
    ) -> Proc:
        """`conf`: Celery settings overriding the project's for this worker only (e.g. the
        guard test's ``{"task_reject_on_worker_lost": False}``), through a tiny app module written
        into the run's directory; the production settings stay as they are."""
        app, extra_env = "listings_portal", None
        if conf:
            app, extra_env = self._conf_app(name, conf)
        return self._spawn(
            name,
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                app,
                "worker",
                "-n",
                f"{name}-{uuid.uuid4().hex[:6]}@%h",
                f"--concurrency={concurrency or self.worker_concurrency}",
                "--pool=prefork",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
            ],
            extra_env,
        )

    def _conf_app(self, name: str, conf: dict[str, Any]) -> tuple[str, dict[str, str]]:
        folder = self.workdir / "celery_conf"
        folder.mkdir(exist_ok=True)
        module = f"harness_app_{name.replace('-', '_')}"
        (folder / f"{module}.py").write_text(
            "import json\n\n"
            "from listings_portal.celery import app\n\n"
            f"app.conf.update(json.loads({json.dumps(json.dumps(conf))}))\n"
        )
        pythonpath = os.pathsep.join([str(folder), self.env["PYTHONPATH"]])
        return module, {"PYTHONPATH": pythonpath}

    def start_beat(self) -> Proc:
        return self._spawn(
            "beat",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "listings_portal",
                "beat",
                "--loglevel=WARNING",
                "-s",
                str(self.workdir / "celerybeat-schedule"),
            ],
        )

    def worker_children(self, name: str = "worker") -> list[int]:
        proc = self.procs.get(name)
        return children_of(proc.pid) if proc is not None else []

    def kill_worker_child(self, name: str = "worker") -> int | None:
        children = self.worker_children(name)
        if not children:
            return None
        victim = random.choice(children)
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return victim

    # --- the sandbox ---------------------------------------------------------------------------
    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def control(self, method: str, name: str, body: dict | None = None) -> Any:
        response = requests.request(
            method,
            f"{self.sandbox_url}/_control/{name}",
            json=body,
            headers={"X-Sandbox-Control-Token": self.control_token},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    # --- driver commands ---------------------------------------------------------------------
    def run(
        self, command: str, timeout: float = 300, env: dict[str, str] | None = None, **arguments: Any
    ) -> Any:
        result = subprocess.run(
            [PYTHON, "-m", "tests.mls.worker_harness", command, json.dumps(arguments)],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"driver {command} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def start(self, command: str, **arguments: Any) -> subprocess.Popen:
        """A driver command in the background (e.g. saves while Redis is killed)."""
        return subprocess.Popen(
            [PYTHON, "-m", "tests.mls.worker_harness", command, json.dumps(arguments)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def log_tail(self, name: str, lines: int = 60) -> str:
        path = self.workdir / "logs" / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


# --- Comparing ------------------------------------------------------------------------------


# The sandbox's state dump keys the parts by their reorder key.
PART_COLLECTIONS = {"room": "Rooms", "unit": "Units", "tour": "VirtualTours", "video": "Videos"}


def part_view(kind: str, attributes: dict[str, Any]) -> Any:
    if kind in ("room", "unit"):
        fields = attributes.get("Fields", attributes)
        return {name: value for name, value in fields.items() if value not in (None, "")}
    keys = ("Name", "Type", "Uri") if kind == "tour" else ("Name", "Type", "ObjectHtml", "Caption")
    return tuple(attributes.get(key) or "" for key in keys)


def remote_parts_view(listing: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        kind: [
            part_view(kind, record)
            for record in sorted(listing.get(key) or [], key=lambda record: record["Order"])
        ]
        for kind, key in PART_COLLECTIONS.items()
    }


def compare(dump: dict[str, Any], remote_state: dict[str, Any]) -> dict[str, Any]:
    """Local (driver `dump`) against remote (sandbox `_control/state`): the pass figures."""
    remote = {listing["Id"]: listing for listing in remote_state["incomplete_listings"]}
    figures = {
        "drafts": len(dump["drafts"]),
        "remote_listings": len(remote),
        "lost_changes": 0,
        "duplicate_items": 0,
        "mismatched_drafts": [],
        "unsynced_drafts": [],
    }
    mapped = set()
    for item in dump["drafts"]:
        if item["confirmed_seq"] != item["change_seq"] or item["state"] != "synced" or item["verify_pending"]:
            figures["unsynced_drafts"].append(item["id"])
        listing = remote.get(item["remote_id"])
        if listing is None:
            figures["lost_changes"] += 1
            figures["mismatched_drafts"].append((item["id"], "no remote listing"))
            continue
        mapped.add(item["remote_id"])
        for kind in ("Photos", "Documents"):
            names = [entry["FileName"] for entry in listing[kind]]
            figures["duplicate_items"] += len(names) - len(set(names))
        if "parts" in item:
            # A part record the remote holds more of than the draft has is a duplicate.
            remote_parts = _json(remote_parts_view(listing))
            for kind, records in item["parts"].items():
                extra = len(remote_parts.get(kind, [])) - len(records)
                figures["duplicate_items"] += max(0, extra)
        problems = differences(item, listing)
        if problems:
            figures["lost_changes"] += 1
            figures["mismatched_drafts"].append((item["id"], problems))
    figures["duplicate_listings"] = len(set(remote) - mapped)
    return figures


def differences(item: dict[str, Any], listing: dict[str, Any]) -> list[str]:
    problems = []
    for name, value in item["fields"].items():
        if name != "CustomFields" and listing["StandardFields"].get(name) != value:
            problems.append(f"field {name}: remote {listing['StandardFields'].get(name)!r} != {value!r}")
    photos = [
        [p["Name"], p["Caption"], p["Primary"], p["sha256"], p["FileName"].split(".")[0]]
        for p in sorted(listing["Photos"], key=lambda p: p["Order"])
    ]
    if photos != item["photos"]:
        problems.append(f"photos: remote {photos} != local {item['photos']}")
    documents = [
        [d["Name"], d["Privacy"], d["sha256"], d["FileName"].split(".")[0]]
        for d in sorted(listing["Documents"], key=lambda d: d["Order"])
    ]
    if documents != item["documents"]:
        problems.append(f"documents: remote {documents} != local {item['documents']}")
    if "parts" in item:
        remote_parts = _json(remote_parts_view(listing))
        if remote_parts != item["parts"]:
            problems.append(f"parts: remote {remote_parts} != local {item['parts']}")
        for key in ("VirtualTours", "Videos"):
            # Each branded record is paired (same GroupId) with an unbranded one.
            records = listing.get(key) or []
            unbranded = {r["GroupId"] for r in records if r["Type"] == "unbranded"}
            lone = [r["Id"] for r in records if r["Type"] == "branded" and r["GroupId"] not in unbranded]
            if lone:
                problems.append(f"{key}: branded records without their unbranded twin {lone}")
    return problems


def _json(value: Any) -> Any:
    """As the driver's JSON carries it (tuples become lists)."""
    return json.loads(json.dumps(value))


# --- Remote calls per change (bench/sync/calls.py and tests/mls/test_sync_calls.py) ----------------


@dataclass
class CallScenario:
    """One burst of a person's edits on a synced draft, and the driver command that makes it."""

    key: str
    title: str
    changes: int
    command: str
    arguments: dict[str, Any] = field(default_factory=dict)


CALL_SCENARIOS = (
    CallScenario(
        "fields", "20 saves of the list price in 5 s", 20, "field_burst", {"count": 20, "seconds": 5.0}
    ),
    CallScenario("drags", "20 photo drags in 5 s", 20, "reorder_burst", {"count": 20, "seconds": 5.0}),
    CallScenario(
        "photo", "a caption, then the star, on one photo (0.5 s apart)", 2, "photo_edit", {"gap": 0.5}
    ),
    CallScenario("document", "a document's name and privacy in one save", 2, "document_edit"),
)


def run_call_scenarios(
    harness: Harness, scenarios: tuple[CallScenario, ...] = CALL_SCENARIOS, *, quiet: float = 2.0
) -> list[dict[str, Any]]:
    """Each scenario on a draft of its own, synced and quiet first (photos and a document):
    the sandbox journal's requests from the first edit until the draft is synced again, and
    `quiet` seconds more (a late call counts too). A worker must be running."""
    seeded = harness.run("seed", drafts=len(scenarios), photos=5, documents=1, seed=7, timeout=600)
    ready = harness.run("wait_synced", ids=seeded["ids"], within=120, timeout=150)
    if not ready["synced"]:
        raise AssertionError(f"seeded drafts not synced: {ready}\n{harness.log_tail('worker')}")
    # Past the coalescing windows of the seeding's own pushes: an agent coming back to a draft.
    time.sleep(quiet)
    results = []
    for scenario, draft_id in zip(scenarios, seeded["ids"], strict=True):
        before = harness.control("GET", "calls")["journal"]
        last_id = before[-1]["id"] if before else 0
        made = harness.run(scenario.command, draft_id=draft_id, **scenario.arguments)
        synced = harness.run("wait_synced", ids=[draft_id], within=60, timeout=90)
        time.sleep(quiet)
        calls = harness.control("GET", f"calls?since={last_id}")["journal"]
        routes: dict[str, int] = {}
        for call in calls:
            routes[call["route"]] = routes.get(call["route"], 0) + 1
        dump = harness.run("dump", ids=[draft_id])
        figures = compare(dump, harness.control("GET", "state"))
        results.append(
            {
                "key": scenario.key,
                "title": scenario.title,
                "changes": scenario.changes,
                "calls": len(calls),
                "routes": routes,
                "synced": synced["synced"],
                # From the last edit's commit to the last call's answer (the journal's time):
                # how long the MLS lagged behind the draft.
                "settle_seconds": answered_at(calls[-1]) - made["last_edit_at"] if calls else 0.0,
                "matches": not figures["mismatched_drafts"],
                "mismatches": figures["mismatched_drafts"],
                "made": made,
            }
        )
    return results


def answered_at(call: dict[str, Any]) -> float:
    """When the sandbox answered a journaled call (its `at` is when the request came in)."""
    return dt.datetime.fromisoformat(call["at"]).timestamp() + call["duration_ms"] / 1000


def call_report(results: list[dict[str, Any]]) -> str:
    lines = []
    for result in results:
        routes = ", ".join(f"{route} {count}" for route, count in sorted(result["routes"].items()))
        lines.append(
            f"{result['title']}: {result['changes']} changes -> {result['calls']} call(s) to the MLS "
            f"({routes or 'none'}); the last answered {result['settle_seconds']:.1f} s after the last edit; "
            f"remote == local: {'yes' if result['matches'] else 'NO ' + str(result['mismatches'])}"
        )
    return "\n".join(lines)


# --- The chaos scenario (CI test and Long benchmark) ----------------------------------------------


def chaos_faults(seed: int) -> dict[str, Any]:
    """The mix of docs/reliability.md#j14-headline-chaos-run: 20% 5xx, 10% replies dropped after
    the change applied, 5% rate limits (429 and 503/1550), 2% hangs past the read timeout."""
    return {
        "seed": seed,
        "rules": [
            {"kind": "server_error", "status": 500, "probability": 0.08},
            {"kind": "server_error", "status": 502, "probability": 0.06},
            {"kind": "server_error", "status": 503, "probability": 0.06},
            {"kind": "drop_after_apply", "methods": ["POST", "PUT", "DELETE"], "probability": 0.10},
            {"kind": "rate_limit", "status": 429, "retry_after": 1, "probability": 0.03},
            {"kind": "rate_limit", "status": 503, "retry_after": None, "probability": 0.02},
            {"kind": "hang", "hang_seconds": 5, "probability": 0.02},
        ],
    }


def wait_until_synced(harness: Harness, ids: list[int], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    progress: dict[str, Any] = {}
    while time.monotonic() < deadline:
        progress = harness.run("progress", ids=ids)
        if progress["total"] and progress["synced"] == progress["total"]:
            return progress
        time.sleep(2)
    raise AssertionError(
        f"not synced within {timeout:.0f}s: {progress}\n--- worker log ---\n{harness.log_tail('worker')}"
    )


# Settings for fault runs: short timeouts, leases and back-off, so that a run of a few minutes
# goes through many failures and recoveries (the CI chaos test, bench/sync/chaos.py and
# bench/sync/pg_restart.py).
CHAOS_SETTINGS = {
    "SPARK_READ_TIMEOUT": "3",
    "SPARK_CONNECT_TIMEOUT": "2",
    "SPARK_RATE_LIMIT_PER_SECOND": "40",
    "SYNC_LEASE_SECONDS": "20",
    "SYNC_AMBIGUOUS_SETTLE_SECONDS": "8",
    "SYNC_BACKOFF_BASE_SECONDS": "0.5",
    "SYNC_BACKOFF_CAP_SECONDS": "6",
    "SYNC_SWEEP_SECONDS": "2",
    "SYNC_REQUEUE_AFTER_SECONDS": "6",
    "SYNC_DRIFT_INTERVAL_SECONDS": "3600",
    "SYNC_PUSH_BUDGET_SECONDS": "60",
}


def run_chaos(
    harness: Harness,
    *,
    drafts: int,
    photos: int,
    documents: int,
    fault_seed: int,
    edit_seconds: float = 16.0,
    timeout: float = 200.0,
    parts: int = 0,
) -> dict[str, Any]:
    """Seed under faults, queue every draft twice more (duplicate deliveries), edit all along,
    SIGKILL a worker child, kill Redis (messages lost) and restart it, SIGKILL a child again,
    SIGKILL the whole worker and start a new one; wait until every draft is synced; compare.

    `parts`: every how many drafts one has rooms, a tour and a video (`command_seed`), and the
    edits change them too; 0: none, 1 (or True): every draft."""
    harness.control("POST", "reset")
    harness.control("POST", "faults", chaos_faults(fault_seed))
    started = time.monotonic()
    seeded = harness.run(
        "seed", drafts=drafts, photos=photos, documents=documents, parts=parts, seed=7, timeout=1800
    )
    ids = seeded["ids"]
    seeded_at = time.monotonic() - started
    harness.run("ring_all", ids=ids)
    harness.run("ring_all", ids=ids)

    editor = harness.start("edit", ids=ids, seconds=edit_seconds, seed=8, parts=parts)
    events = []
    time.sleep(2)
    events.append(f"worker child SIGKILL ({harness.kill_worker_child()})")
    time.sleep(2)
    harness.stop_redis()
    events.append("redis SIGKILL (queued messages lost)")
    time.sleep(4)
    harness.start_redis()
    events.append("redis restarted")
    time.sleep(3)
    events.append(f"worker child SIGKILL ({harness.kill_worker_child()})")
    time.sleep(2)
    harness.kill("worker")
    events.append("whole worker SIGKILL")
    time.sleep(2)
    harness.start_worker()
    events.append("worker restarted")
    out, err = editor.communicate(timeout=edit_seconds + 120)
    if editor.returncode != 0:
        raise RuntimeError(f"the editor failed: {err[-3000:]}")
    edits = json.loads(out.strip().splitlines()[-1])

    progress = wait_until_synced(harness, ids, timeout)
    converged = time.monotonic() - started
    _dump, figures = final_figures(harness, ids)
    figures.update(
        {
            "engine": harness.engine,
            "fault_seed": fault_seed,
            "events": events,
            "edits": edits,
            "seeded_seconds": seeded_at,
            "converged_seconds": converged,
            "states": progress["states"],
        }
    )
    return figures


def final_figures(harness: Harness, ids: list[int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The local dump and the pass figures of a fault run once it has settled: local against
    remote (`compare`), what was pushed, the calls and faults the sandbox saw, the lease check."""
    dump = harness.run("dump", ids=ids)
    figures = compare(dump, harness.control("GET", "state"))
    figures["parts"] = sum(len(records) for item in dump["drafts"] for records in item["parts"].values())
    rules = harness.control("GET", "faults")["rules"]
    journal = harness.control("GET", "calls")
    leases = harness.run("lease_violations", ids=ids)
    figures.update(
        {
            "photos": sum(len(d["photos"]) for d in dump["drafts"]),
            "documents": sum(len(d["documents"]) for d in dump["drafts"]),
            "calls": sum(journal["counts"].values()),
            "injected": {f"{r['kind']}:{r.get('status', '')}": r["injected"] for r in rules},
            "lease_violations": leases["violations"],
            "claims": leases["claims"],
        }
    )
    return dump, figures


def chaos_report(figures: dict[str, Any]) -> str:
    edits = figures["edits"]
    parts = [
        f"Worker chaos run ({figures['engine']}, fault seed {figures['fault_seed']}):",
        f"{figures['drafts']} drafts, {figures['photos']} photos, {figures['documents']} documents,",
        f"{figures.get('parts', 0)} room/unit/tour/video records;",
        f"{figures['calls']} remote calls;",
        f"faults injected {figures['injected']} ({sum(figures['injected'].values())} in all);",
        f"events {figures['events']};",
        f"{edits['saves']} saves during the chaos (errors {len(edits['errors'])},",
        f"p99 {edits['p99_ms']:.0f} ms, max {edits['max_ms']:.0f} ms);",
        f"seeded in {figures['seeded_seconds']:.1f} s,",
        f"all synced {figures['converged_seconds']:.1f} s after the start;",
        f"lost changes {figures['lost_changes']}, duplicate items {figures['duplicate_items']},",
        f"duplicate listings {figures['duplicate_listings']}, unsynced {len(figures['unsynced_drafts'])};",
        f"lease violations {len(figures['lease_violations'])} over {figures['claims']} claims;",
        f"states {figures['states']}",
    ]
    return " ".join(parts)


# --- Driver commands (run in a subprocess with the harness's environment) ------------------------


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "listings_portal.settings")
    import django

    django.setup()


def command_seed(
    drafts: int = 20, photos: int = 3, documents: int = 1, seed: int = 1, parts: int = 0, **_: Any
) -> dict[str, Any]:
    """`parts`: every how many drafts one has two rooms, a tour and a video (0: none; True: 1)."""
    from django.db import transaction

    from accounts.models import Company, Office, Role, User
    from drafts.models import Draft
    from mls.enqueue import doorbell
    from tests.mls.sync_support import add_document, add_photo

    rng = random.Random(seed)
    company, _ = Company.objects.get_or_create(slug="harness", defaults={"name": "Harness Realty"})
    office, _ = Office.objects.get_or_create(company=company, name="Harness office")
    agent, _ = User.objects.get_or_create(
        username="harness-agent",
        defaults={"office": office, "role": Role.AGENT, "remote_agent_id": "20080917142739989238000001"},
    )
    ids = []
    started = time.monotonic()
    for number in range(drafts):
        draft = Draft.start(
            by=agent,
            property_type="A",
            property_sub_type="SF",
            list_price=200000 + 1000 * rng.randrange(100),
            street_number=str(100 + number),
            street_name=rng.choice(["8th", "Elm", "Oak", "Main"]),
            street_suffix="St",
            city="Fargo",
            state_or_province="ND",
            postal_code="58103",
            beds_total=rng.randrange(1, 6),
            baths_total=rng.randrange(1, 4),
            year_built=rng.randrange(1950, 2024),
        )
        for index in range(photos):
            with transaction.atomic():
                add_photo(draft, by=agent, name=f"Photo {index + 1}", seed=number * 10 + index)
        for index in range(documents):
            add_document(
                draft, by=agent, name=f"Disclosure {index + 1}", privacy=rng.choice(["Public", "Private"])
            )
        if parts and number % int(parts) == 0:
            # Every other draft with parts has a branded tour link too.
            _add_parts(draft, number, rng, branded=(number // int(parts)) % 2 == 1)
        ids.append(draft.pk)
    doorbell.flush(30)
    return {"ids": ids, "seconds": time.monotonic() - started}


ROOM_NAMES = ("Bedroom", "Bathroom", "Kitchen", "Living Room", "Office", "Laundry")
ROOM_LEVELS = ("Basement", "Main", "Upper")


def _add_parts(draft, number: int, rng: random.Random, *, branded: bool) -> None:
    """Two rooms, a virtual tour (with a branded link too when `branded`) and a video."""
    from tests.mls.sync_support import add_part

    for _index in range(2):
        add_part(
            draft,
            "room",
            fields={"RoomName": rng.choice(ROOM_NAMES), "LevelOrFloor": rng.choice(ROOM_LEVELS)},
        )
    add_part(
        draft,
        "tour",
        name=f"Tour {number}",
        url=f"https://tours.example/{number}",
        branded_url=f"https://branded.example/{number}" if branded else "",
    )
    add_part(
        draft, "video", name=f"Video {number}", url=f"https://vimeo.com/{100000 + number}", caption="Walk"
    )


def _random_part_edit(draft, action: str, rng: random.Random) -> None:
    """A room changed, added or removed, the rooms reordered, the tour's branded link toggled."""
    from drafts.models import ListingPart
    from tests.mls.sync_support import add_part, change_part, remove_part, reorder_parts

    rooms = list(ListingPart.objects.filter(draft=draft, kind="room").order_by("position"))
    if action == "room" and rooms:
        change_part(
            rng.choice(rooms),
            fields={"RoomName": rng.choice(ROOM_NAMES), "LevelOrFloor": rng.choice(ROOM_LEVELS)},
        )
    elif action == "room_order" and len(rooms) > 1:
        rng.shuffle(rooms)
        reorder_parts(draft, "room", rooms)
    elif action == "room_count":
        if len(rooms) > 3 or (rooms and rng.random() < 0.5):
            remove_part(rng.choice(rooms))
        else:
            add_part(draft, "room", fields={"RoomName": rng.choice(ROOM_NAMES)})
    else:
        tour = ListingPart.objects.filter(draft=draft, kind="tour").first()
        if tour is not None:
            branded = "" if tour.branded_url else f"https://branded.example/{draft.pk}/{rng.randrange(100)}"
            change_part(tour, branded_url=branded)


def _random_edit(draft, action: str, rng: random.Random, agent) -> None:
    """One edit an agent might make: price, reorder, primary, caption, document privacy, or
    one of its rooms, their order, its tour."""
    from media_manager.models import Document, MediaOrder, Photo

    if action in ("room", "room_order", "room_count", "tour"):
        _random_part_edit(draft, action, rng)
    elif action == "price":
        value = str(200000 + 1000 * rng.randrange(500))
        draft.save_field(
            "list_price", value, by=agent, seen_version=draft.version, seen_value=draft.list_price
        )
    elif action == "reorder":
        current = Photo.ordered_ids(draft)
        rng.shuffle(current)
        Photo.reorder(draft, current, seen_version=MediaOrder.versions(draft).photo_version, by=agent)
    elif action == "primary":
        Photo.objects.active().filter(draft=draft).order_by("?").first().make_primary(by=agent)
    elif action == "caption":
        photo = Photo.objects.active().filter(draft=draft).order_by("?").first()
        photo.update_text(name=photo.name, caption=f"Caption {rng.randrange(1000)}", by=agent)
    else:
        document = Document.objects.active().filter(draft=draft).first()
        if document is not None:
            privacy = "Public" if document.privacy != "Public" else "Private"
            document.update(name=document.name, privacy=privacy, by=agent)


def command_edit(
    ids: list[int], seconds: float = 5.0, seed: int = 2, parts: int = 0, **_: Any
) -> dict[str, Any]:
    """Edits while the run goes on: fields, reorders, primary, captions, privacy (with `parts`,
    also rooms changed, added, removed and reordered, the tour's branded link toggled). Measures
    each save (commit + doorbell) as a request would feel it."""
    from drafts.models import Draft

    rng = random.Random(seed)
    agent = Draft.objects.get(pk=ids[0]).list_agent
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        draft = Draft.objects.get(pk=rng.choice(ids))
        actions = ["price", "price", "reorder", "primary", "caption", "privacy"]
        if parts:
            actions += ["room", "room_order", "room_count", "tour"]
        action = rng.choice(actions)
        started = time.monotonic()
        try:
            _random_edit(draft, action, rng, agent)
        except Exception as error:
            errors.append(f"{action}: {type(error).__name__}: {error}")
        latencies.append(time.monotonic() - started)
        time.sleep(0.02)
    return _saves_summary(latencies, errors)


def _saves_summary(latencies: list[float], errors: list[str]) -> dict[str, Any]:
    """What an edit driver reports: how many saves, their errors and latencies, and what the
    doorbell did with them (flushed for a second first)."""
    from mls.enqueue import doorbell

    flushed = doorbell.flush(1)
    latencies = sorted(latencies)
    return {
        "saves": len(latencies),
        "errors": errors,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else 0,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else 0,
        "max_ms": 1000 * latencies[-1] if latencies else 0,
        "doorbell": {"rung": doorbell.rung, "published": doorbell.published, "failed": doorbell.failed},
        "flushed": flushed,
    }


def command_reorder_burst(
    draft_id: int, count: int = 20, seconds: float = 5.0, seed: int = 3, **_: Any
) -> dict:
    from drafts.models import Draft
    from media_manager.models import MediaOrder, Photo
    from mls.enqueue import doorbell

    rng = random.Random(seed)
    draft = Draft.objects.get(pk=draft_id)
    agent = draft.list_agent
    orders = []
    for _index in range(count):
        current = Photo.ordered_ids(draft)
        while True:
            rng.shuffle(current)
            if not orders or current != orders[-1]:
                break
        Photo.reorder(draft, current, seen_version=MediaOrder.versions(draft).photo_version, by=agent)
        orders.append(list(current))
        last_edit_at = time.time()
        time.sleep(seconds / count)
    doorbell.flush(10)
    return {"final": orders[-1], "last_edit_at": last_edit_at}


def command_field_burst(
    draft_id: int, count: int = 20, seconds: float = 5.0, field: str = "list_price", **_: Any
) -> dict[str, Any]:
    """`count` saves of one field spread evenly over `seconds`, as an agent nudging a price:
    each a committed change that rings the doorbell, as the editor's autosave makes it."""
    from drafts.models import Draft
    from mls.enqueue import doorbell

    draft = Draft.objects.get(pk=draft_id)
    agent = draft.list_agent
    started = time.monotonic()
    values = []
    for index in range(count):
        draft.refresh_from_db()
        value = str(300000 + 1000 * (index + 1))
        draft.save_field(field, value, by=agent, seen_version=draft.version, seen_value=getattr(draft, field))
        values.append(value)
        last_edit_at = time.time()
        time.sleep(max(0.0, started + (index + 1) * seconds / count - time.monotonic()))
    doorbell.flush(10)
    return {"saves": count, "final": values[-1], "last_edit_at": last_edit_at}


def command_photo_edit(draft_id: int, gap: float = 0.5, **_: Any) -> dict[str, Any]:
    """A person's two edits of one photo, `gap` seconds apart: a new caption, then the star
    (made primary)."""
    from drafts.models import Draft
    from media_manager.models import Photo
    from mls.enqueue import doorbell

    draft = Draft.objects.get(pk=draft_id)
    agent = draft.list_agent
    photo = Photo.objects.active().filter(draft=draft, is_primary=False).order_by("position").last()
    assert photo is not None, "the draft needs a photo that is not primary"
    photo.update_text(name=photo.name, caption=f"Sunlit corner, edited {time.time():.0f}", by=agent)
    time.sleep(gap)
    photo.make_primary(by=agent)
    last_edit_at = time.time()
    doorbell.flush(10)
    return {"photo": photo.pk, "last_edit_at": last_edit_at}


def command_document_edit(draft_id: int, **_: Any) -> dict[str, Any]:
    """One save of a document's name and privacy together (the document form sends both)."""
    from drafts.models import Draft
    from media_manager.models import Document
    from mls.enqueue import doorbell

    draft = Draft.objects.get(pk=draft_id)
    document = Document.objects.active().filter(draft=draft).order_by("position").first()
    assert document is not None, "the draft needs a document"
    privacy = "Public" if document.privacy != "Public" else "Private"
    document.update(name=f"{document.name} (signed)", privacy=privacy, by=draft.list_agent)
    last_edit_at = time.time()
    doorbell.flush(10)
    return {"document": document.pk, "last_edit_at": last_edit_at}


def command_wait_synced(ids: list[int], within: float = 60, **_: Any) -> dict[str, Any]:
    """Wait here (one light query every 50 ms) until every draft in `ids` is synced."""
    started = time.monotonic()
    while True:
        progress = command_progress(ids)
        if progress["total"] and progress["synced"] == progress["total"]:
            return {"synced": True, "synced_at": time.time(), "progress": progress}
        if time.monotonic() - started > within:
            return {"synced": False, "synced_at": time.time(), "progress": progress}
        time.sleep(0.05)


def command_dump(ids: list[int] | None = None, **_: Any) -> dict[str, Any]:
    from drafts.models import Draft
    from media_manager.models import Document, Photo
    from mls.models import DraftSync
    from tests.mls.sync_support import local_parts_view

    drafts = []
    chosen = Draft.objects.order_by("pk")
    if ids is not None:
        chosen = chosen.filter(pk__in=ids)
    for draft in chosen:
        row = DraftSync.objects.filter(pk=draft.pk).first()
        photos = Photo.objects.active().filter(draft=draft).order_by("position")
        documents = Document.objects.active().filter(draft=draft).order_by("position")
        drafts.append(
            {
                "id": draft.pk,
                "remote_id": draft.remote_id,
                "change_seq": draft.change_seq,
                "confirmed_seq": row.confirmed_seq if row else 0,
                "state": row.display_state(draft.change_seq) if row else "pending",
                "attempts": row.attempts if row else 0,
                "error": row.error_message if row else "",
                "verify_pending": bool(row and row.verify_after),
                "fields": draft.spark_fields(),
                "photos": [[p.name, p.caption, p.is_primary, p.sha256, p.upload_token.hex] for p in photos],
                "documents": [[d.name, d.privacy, d.sha256, d.upload_token.hex] for d in documents],
            }
        )
        # Always: a draft whose parts were all removed must show none in the MLS either.
        drafts[-1]["parts"] = _json(local_parts_view(draft))
    return {"drafts": drafts}


def command_progress(ids: list[int] | None = None, **_: Any) -> dict[str, Any]:
    from django.db.models import Count, F

    from drafts.models import Draft
    from mls.models import DraftSync

    drafts = Draft.objects.all() if ids is None else Draft.objects.filter(pk__in=ids)
    rows = DraftSync.objects.filter(draft__in=drafts)
    total = drafts.count()
    synced = rows.filter(confirmed_seq__gte=F("draft__change_seq"), verify_after__isnull=True).count()
    states = dict(rows.order_by().values_list("state").annotate(n=Count("pk")))
    return {"total": total, "synced": synced, "states": states}


def command_ring_all(ids: list[int], wait: float = 0, **_: Any) -> dict[str, Any]:
    """Queue a push of every draft at once (the benchmark's start line); with `wait`, then wait
    here, up to that many seconds, until all are synced: one process, set up before the start,
    watching with one light query every 0.1 s (not a new process per look)."""
    from mls.enqueue import publish

    started = time.time()
    for draft_id in ids:
        publish(draft_id)
    result: dict[str, Any] = {"started": started, "published": len(ids)}
    if wait:
        deadline = time.monotonic() + wait
        while True:
            result["progress"] = command_progress(ids)
            if result["progress"]["synced"] == result["progress"]["total"] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    return result


def command_synced_times(ids: list[int], **_: Any) -> dict[str, Any]:
    from mls.models import DraftSync

    rows = DraftSync.objects.filter(pk__in=ids).values_list("pk", "last_synced_at")
    return {str(pk): when.timestamp() if when else None for pk, when in rows}


def command_latency_probe(
    ids: list[int], count: int = 20, seed: int = 4, timeout: float = 60, **_: Any
) -> dict:
    """One save at a time; each waits until the remote confirmed it: save-to-synced latency."""
    from django.db import close_old_connections

    from drafts.models import Draft
    from media_manager.models import Photo
    from mls.enqueue import doorbell
    from mls.models import DraftSync

    rng = random.Random(seed)
    latencies = []
    for index in range(count):
        draft = Draft.objects.get(pk=rng.choice(ids))
        agent = draft.list_agent
        started = time.monotonic()
        if index % 2:
            photo = Photo.objects.active().filter(draft=draft).order_by("?").first()
            photo.update_text(name=photo.name, caption=f"Probe {index}", by=agent)
        else:
            value = str(400000 + index)
            draft.save_field(
                "list_price", value, by=agent, seen_version=draft.version, seen_value=draft.list_price
            )
        seq = Draft.objects.get(pk=draft.pk).change_seq
        while time.monotonic() - started < timeout:
            close_old_connections()
            row = DraftSync.objects.filter(pk=draft.pk).values("confirmed_seq", "verify_after").first()
            if row and row["confirmed_seq"] >= seq:
                break
            time.sleep(0.01)
        latencies.append(time.monotonic() - started)
    doorbell.flush(5)
    return {"latencies": latencies}


def command_lease_violations(ids: list[int], **_: Any) -> dict[str, Any]:
    """Calls of one draft made by two different claims at the same time (should be none)."""
    from datetime import timedelta

    from mls.models import RemoteCall

    violations = []
    for draft_id in ids:
        calls = [
            (at - timedelta(milliseconds=duration), at, worker)
            for at, duration, worker in RemoteCall.objects.filter(draft_id=draft_id)
            .exclude(worker="")
            .order_by("at")
            .values_list("at", "duration_ms", "worker")
        ]
        calls.sort()
        for (start_a, end_a, worker_a), (start_b, _end_b, worker_b) in itertools.pairwise(calls):
            if worker_a != worker_b and start_b < end_a:
                violations.append([draft_id, worker_a, worker_b, start_b.isoformat(), end_a.isoformat()])
    workers = RemoteCall.objects.filter(draft_id__in=ids).values("worker").distinct().count()
    return {"violations": violations, "claims": workers}


def command_publish(ids: list[int], **_: Any) -> dict[str, Any]:
    """Complete, approve (as data) and publish each draft as an office admin."""
    from accounts.models import Role, User
    from drafts.models import Draft, DraftStatus
    from mls import publishing

    agent = User.objects.get(username="harness-agent")
    admin, _ = User.objects.get_or_create(
        username="harness-admin", defaults={"office": agent.office, "role": Role.OFFICE_ADMIN}
    )
    for draft in Draft.objects.filter(pk__in=ids).order_by("pk"):
        draft.save_field(
            "public_remarks",
            f"Well kept home number {draft.pk}.",
            by=agent,
            seen_version=draft.version,
            seen_value=draft.public_remarks,
        )
        Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.APPROVED)
        draft.refresh_from_db()
        publishing.start(draft, by=admin)
    return {"published": len(ids)}


def command_promotions(ids: list[int], **_: Any) -> dict[str, Any]:
    """Each draft's publishing job and, for comparison, what the live listing should hold."""
    from drafts.models import Draft
    from media_manager.models import Document, Photo
    from mls.models import Promotion

    rows = []
    for draft in Draft.objects.filter(pk__in=ids).order_by("pk"):
        job = Promotion.objects.filter(pk=draft.pk).first()
        photos = Photo.objects.active().filter(draft=draft).order_by("position")
        documents = Document.objects.active().filter(draft=draft).order_by("position")
        rows.append(
            {
                "id": draft.pk,
                "status": draft.status,
                "live_listing_id": draft.live_listing_id,
                "remote_id": draft.remote_id,
                "state": job.state if job else "",
                "step": job.step if job else "",
                "error": job.error_message if job else "",
                "fields": draft.spark_fields(),
                "photos": [[p.name, p.caption, p.is_primary, p.sha256] for p in photos],
                "documents": [[d.name, d.privacy, d.sha256] for d in documents],
            }
        )
    return {"drafts": rows}


def command_leases(ids: list[int] | None = None, **_: Any) -> dict[str, Any]:
    """Who holds each draft's claim (``host:pid:token``), its state and expiry."""
    from mls.models import DraftSync

    rows = DraftSync.objects.all() if ids is None else DraftSync.objects.filter(pk__in=ids)
    return {
        "leases": [
            {
                "id": pk,
                "owner": owner,
                "state": state,
                "expires_at": expires.isoformat() if expires else None,
            }
            for pk, owner, state, expires in rows.order_by("pk").values_list(
                "pk", "lease_owner", "state", "lease_expires_at"
            )
        ]
    }


def command_edit_requests(ids: list[int], seconds: float = 5.0, seed: int = 2, **_: Any) -> dict[str, Any]:
    """Like `edit`, but every save is handled as a web request would be: connections are checked
    before and closed after it (Django's request_started / request_finished), and a database
    error fails that save only. For database outages (docs/reliability.md#j13-postgresql-restart):
    `outages` lists [start, seconds] from the first failed save to the next one that worked."""
    from django.db import close_old_connections, connections

    from drafts.models import Draft

    rng = random.Random(seed)
    agent = Draft.objects.get(pk=ids[0]).list_agent
    connections.close_all()
    latencies: list[float] = []
    errors: list[str] = []
    outages: list[list[float]] = []
    failing_since: float | None = None
    start = time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline:
        action = rng.choice(["price", "price", "reorder", "primary", "caption", "privacy"])
        started = time.monotonic()
        close_old_connections()
        try:
            draft = Draft.objects.get(pk=rng.choice(ids))
            _random_edit(draft, action, rng, agent)
        except Exception as error:
            errors.append(f"{started - start:.2f}s {action}: {type(error).__name__}: {error}"[:300])
            if failing_since is None:
                failing_since = started
        else:
            if failing_since is not None:
                # One outage as a user saw it: from the first failed save to the next good one.
                outages.append([round(failing_since - start, 2), round(time.monotonic() - failing_since, 2)])
                failing_since = None
        finally:
            # request_finished: with CONN_MAX_AGE=0 the connection closes after every request.
            close_old_connections()
        latencies.append(time.monotonic() - started)
        time.sleep(0.02)
    return {
        **_saves_summary(latencies, errors),
        "outages": outages,
        "still_failing": failing_since is not None,
    }


COMMANDS = {
    "leases": command_leases,
    "edit_requests": command_edit_requests,
    "publish": command_publish,
    "promotions": command_promotions,
    "lease_violations": command_lease_violations,
    "ring_all": command_ring_all,
    "synced_times": command_synced_times,
    "latency_probe": command_latency_probe,
    "seed": command_seed,
    "edit": command_edit,
    "reorder_burst": command_reorder_burst,
    "field_burst": command_field_burst,
    "photo_edit": command_photo_edit,
    "document_edit": command_document_edit,
    "wait_synced": command_wait_synced,
    "dump": command_dump,
    "progress": command_progress,
}


def main(argv: list[str]) -> None:
    _setup()
    command = COMMANDS[argv[1]]
    arguments = json.loads(argv[2]) if len(argv) > 2 else {}
    print(json.dumps(command(**arguments), default=str))


if __name__ == "__main__":
    main(sys.argv)
