"""PostgreSQL restart mid-run (docs/reliability.md#j13-postgresql-restart, long form), one command:

    .venv/bin/python bench/sync/pg_restart.py [--drafts 40] [--photos 3] [--documents 1]
                                              [--restarts 2] [--gap 5] [--seed 1]

The machine's PostgreSQL is shared and must never be restarted, so the run starts a throwaway
cluster of its own: `initdb` into a temporary directory (as the `postgres` OS user when run as
root), trust authentication, a free port on 127.0.0.1, fsync off (a fast shutdown still writes
its checkpoint; this run is about lost connections, not lost disks). The harness
(tests/mls/worker_harness.py) creates its throwaway database there and brings up its own
Redis, the sandbox (which keeps its state in the same database), a prefork worker and beat.

Run: the sandbox's chaos faults (5xx, dropped replies, rate limits, hangs: `chaos_faults`),
seed the drafts (their pushes start at once), queue every draft once more, edit all along (each
save handled like a web request: connections checked before, closed after), and while pushes
and edits are in flight `pg_ctl restart -m fast` --restarts times, --gap seconds apart. Then
wait until every draft is synced.

Pass: 0 lost changes, 0 duplicate remote listings/photos/documents, remote == local for every
draft, no claim left held, 0 lease violations, and the worker and beat that were started
before the restarts are still the ones running (no manual restart). Printed: the figures, the
time to converge after the last restart, and the database errors the worker logged. The
cluster is stopped and its directory removed at the end, also on failure or SIGTERM.

DATABASE_CONN_MAX_AGE defaults to the production default (60 s, persistent connections with
health checks); --conn-max-age 0 runs with a connection per task instead.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.mls.worker_harness import (  # noqa: E402
    CHAOS_SETTINGS,
    Harness,
    chaos_faults,
    children_of,
    final_figures,
    free_port,
    wait_port,
)

# What the processes log when the database goes away under them.
DB_ERROR = re.compile(
    r"OperationalError|InterfaceError|DatabaseError|terminating connection|server closed the connection"
    r"|connection to server|the database system is (?:shutting down|starting up)|connection refused"
    r"|connection already closed|consuming input failed|connection is closed|connection is lost",
    re.IGNORECASE,
)
TASK_DIED = re.compile(r"Task ([\w.]+)\[[^\]]+\] raised unexpected: (?:OperationalError|InterfaceError)")


# --- The throwaway cluster ----------------------------------------------------------------------


def find_bindir() -> Path:
    candidates = sorted(
        (Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    if not candidates and (initdb := shutil.which("initdb")):
        candidates = [Path(initdb).parent]
    for bindir in candidates:
        if (bindir / "pg_ctl").exists():
            return bindir
    raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) found")


class PgCluster:
    """initdb + pg_ctl in a temporary directory, as `postgres` when we are root."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="bench-pg-restart-cluster-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.as_postgres = os.geteuid() == 0
        self.started = False

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, action: str, *options: str, wait: int = 60) -> None:
        """`pg_ctl -D <data> <options> -w -t <wait> <action>`: waits until it is done."""
        self._cmd(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            *options,
            "-w",
            "-t",
            str(wait),
            action,
            timeout=wait + 60,
        )

    def _cmd(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        result = subprocess.run(
            [*prefix, *args], cwd=self.root, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def start(self) -> None:
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._cmd(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.root}",
                "-c listen_addresses=127.0.0.1",
                "-c max_connections=200",
                "-c shared_buffers=64MB",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        self._pg_ctl("start", "-l", str(self.log), "-o", options)
        self.started = True
        wait_port(self.port)

    def restart(self) -> float:
        """`pg_ctl restart -m fast` (the options of the first start are reused); seconds taken."""
        began = time.monotonic()
        self._pg_ctl("restart", "-l", str(self.log), "-m", "fast")
        return time.monotonic() - began

    def postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        return None

    def stop(self) -> None:
        try:
            if self.started:
                try:
                    self._pg_ctl("stop", "-m", "immediate", wait=30)
                except (RuntimeError, subprocess.TimeoutExpired):
                    if pid := self.postmaster_pid():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                self.started = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


# --- The run ---------------------------------------------------------------------------------------


def try_run(harness: Harness, command: str, **arguments: Any) -> Any:
    """A driver command that may meet the database down: None instead of an exception."""
    try:
        return harness.run(command, timeout=120, **arguments)
    except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return None


def db_errors(log: Path) -> dict[str, Any]:
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    hits = [line for line in lines if DB_ERROR.search(line)]
    kinds: Counter[str] = Counter()
    for line in hits:
        match = DB_ERROR.search(line)
        kinds[match.group(0) if match else "?"] += 1
    # The first line of each distinct message shape, for the report.
    shapes: dict[str, str] = {}
    for line in hits:
        shape = re.sub(r"\d+", "N", re.sub(r"^\S+ \S+ ", "", line))[:160]
        shapes.setdefault(shape, line[:400])
    # Tasks that ended on a database error instead of recording a retry (Celery's ERROR line).
    died: Counter[str] = Counter()
    for line in lines:
        if match := TASK_DIED.search(line):
            died[match.group(1)] += 1
    return {
        "lines": len(hits),
        "kinds": dict(kinds),
        "tasks_died": dict(died),
        "examples": list(shapes.values())[:8],
    }


def orphaned(first: dict[str, Any] | None, second: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Claims held by the same owner with the same expiry in both samples: nobody renews them
    (a live worker renews before every call), so only their expiry and the sweep free them."""
    if not first or not second:
        return []
    later = {(row["id"], row["owner"], row["expires_at"]) for row in second["leases"] if row["owner"]}
    return [row for row in first["leases"] if (row["id"], row["owner"], row["expires_at"]) in later]


def run_restarts(harness: Harness, cluster: PgCluster, options: argparse.Namespace) -> dict[str, Any]:
    worker = harness.procs["worker"]
    beat = harness.procs["beat"]
    harness.control("POST", "reset")
    harness.control("POST", "faults", chaos_faults(options.seed))
    started = time.monotonic()
    seeded = harness.run(
        "seed",
        drafts=options.drafts,
        photos=options.photos,
        documents=options.documents,
        seed=7,
        timeout=1800,
    )
    ids = seeded["ids"]
    seeded_at = time.monotonic() - started
    harness.run("ring_all", ids=ids)

    # The editor needs ~2 s to start; it edits until a few seconds after the last restart.
    edit_seconds = options.lead + max(0, options.restarts - 1) * options.gap + 10
    editor = harness.start("edit_requests", ids=ids, seconds=edit_seconds, seed=8)
    children_before = sorted(children_of(worker.pid))
    schedule = time.monotonic() + options.lead
    restarts = []
    for number in range(options.restarts):
        # Progress first (a driver command takes a second or two), then the restart on schedule.
        before = try_run(harness, "progress", ids=ids)
        time.sleep(max(0.0, schedule + number * options.gap - time.monotonic()))
        at = time.monotonic() - started
        took = cluster.restart()
        restarts.append(
            {
                "at_s": round(at, 1),
                "took_s": round(took, 2),
                "synced_before": f"{before['synced']}/{before['total']}" if before else "?",
                "states_before": before["states"] if before else "?",
            }
        )
        last = restarts[-1]
        print(
            f"  restart {number + 1}: {took:.2f} s at t={at:.1f} s; "
            f"synced before {last['synced_before']} {last['states_before']}",
            flush=True,
        )
    if not options.restarts:
        time.sleep(max(0.0, schedule - time.monotonic()))  # a baseline: "last restart" = the lead
    last_restart = time.monotonic()
    # Two samples of the claims, half a lease apart, from just after the last restart.
    lease_seconds = float(harness.env.get("SYNC_LEASE_SECONDS") or 0) or 70.0
    first_sample = try_run(harness, "leases", ids=ids) if options.restarts else None
    first_sampled = time.monotonic()
    second_sample = None

    out, err = editor.communicate(timeout=edit_seconds + 180)
    edits: dict[str, Any] = {"saves": 0, "errors": [f"editor died: {err[-2000:]}"], "outages": []}
    if editor.returncode == 0:
        edits = json.loads(out.strip().splitlines()[-1])

    deadline = last_restart + options.timeout
    progress: dict[str, Any] | None = None
    leases_held: list[dict[str, Any]] = []
    converged = None
    while time.monotonic() < deadline:
        if second_sample is None and time.monotonic() - first_sampled >= lease_seconds / 2:
            second_sample = try_run(harness, "leases", ids=ids)
        progress = try_run(harness, "progress", ids=ids)
        if progress and progress["total"] and progress["synced"] == progress["total"]:
            leases = try_run(harness, "leases", ids=ids)
            leases_held = [row for row in (leases or {"leases": [{}]})["leases"] if row.get("owner")]
            if leases is not None and not leases_held:
                converged = time.monotonic() - last_restart
                break
        time.sleep(1)
    if converged is None:
        leases = try_run(harness, "leases", ids=ids)
        leases_held = [row for row in (leases or {"leases": []})["leases"] if row.get("owner")]

    dump, figures = final_figures(harness, ids)
    children_after = sorted(children_of(worker.pid)) if worker.alive() else []
    figures.update(
        {
            "engine": f"{harness.engine} (own cluster on port {cluster.port})",
            "fault_seed": options.seed,
            "restarts": restarts,
            "edits": edits,
            "seeded_seconds": seeded_at,
            "converged_after_last_restart": converged,
            "total_seconds": time.monotonic() - started,
            "synced_after_seeded": (
                last_restart + converged - started - seeded_at if converged is not None else None
            ),
            "states": progress["states"] if progress else "?",
            "leases_held": leases_held,
            "orphaned_claims": orphaned(first_sample, second_sample),
            "claims_after_restart": len(
                [row for row in (first_sample or {"leases": []})["leases"] if row["owner"]]
            ),
            "worker_alive": worker.alive() and harness.procs.get("worker") is worker,
            "worker_pid": worker.pid,
            "beat_alive": beat.alive() and harness.procs.get("beat") is beat,
            "children_before": children_before,
            "children_after": children_after,
            "worker_db_errors": db_errors(harness.workdir / "logs" / "worker.log"),
            "beat_db_errors": db_errors(harness.workdir / "logs" / "beat.log"),
            "sandbox_db_errors": db_errors(harness.workdir / "logs" / "sandbox.log"),
            "unsynced_detail": [
                {
                    k: d[k]
                    for k in (
                        "id",
                        "state",
                        "attempts",
                        "error",
                        "verify_pending",
                        "change_seq",
                        "confirmed_seq",
                    )
                }
                for d in dump["drafts"]
                if d["id"] in figures["unsynced_drafts"]
            ][:10],
        }
    )
    return figures


def report(figures: dict[str, Any]) -> str:
    f = figures
    edits = f["edits"]
    converged = f["converged_after_last_restart"]
    worker_errors = f["worker_db_errors"]
    injected = f["injected"]
    ending = (
        f"all synced {converged:.1f} s after the last restart"
        if converged is not None
        else "NOT converged within the timeout"
    )
    lines = [
        f"PostgreSQL restart run ({f['engine']}, fault seed {f['fault_seed']}):",
        f"  {f['drafts']} drafts, {f['photos']} photos, {f['documents']} documents; "
        f"{f['calls']} remote calls; faults injected {sum(injected.values())} {injected}",
        f"  restarts ({len(f['restarts'])}): {f['restarts']}",
        f"  seeded in {f['seeded_seconds']:.1f} s; {ending} ("
        + (f"{f['synced_after_seeded']:.1f} s after the seeding ended, " if converged is not None else "")
        + f"{f['total_seconds']:.1f} s in all)",
        f"  lost changes {f['lost_changes']}, duplicate items {f['duplicate_items']}, "
        f"duplicate listings {f['duplicate_listings']}, remote listings {f['remote_listings']}, "
        f"unsynced {len(f['unsynced_drafts'])}, leases still held {len(f['leases_held'])}, "
        f"lease violations {len(f['lease_violations'])} over {f['claims']} claims; states {f['states']}",
        f"  worker {f['worker_pid']} alive {f['worker_alive']} (pool children before "
        f"{f['children_before']}, after {f['children_after']}); beat alive {f['beat_alive']}",
        f"  saves during the run {edits['saves']} (failed {len(edits['errors'])}, "
        f"outages [start s, length s] {edits.get('outages')}, p99 {edits.get('p99_ms', 0):.0f} ms, "
        f"still failing {edits.get('still_failing')})",
        f"  DB errors in worker log: {worker_errors['lines']} lines {worker_errors['kinds']}; "
        f"beat log: {f['beat_db_errors']['lines']}; sandbox log: {f['sandbox_db_errors']['lines']}",
        f"  tasks that ended on a DB error (no retry recorded): {worker_errors['tasks_died']}; "
        f"claims held just after the last restart {f['claims_after_restart']}, of which not renewed for "
        f"half a lease (freed only by lease expiry + sweep): {len(f['orphaned_claims'])}",
    ]
    lines += [f"    orphaned| {row}" for row in f["orphaned_claims"][:5]]
    lines += [f"    worker| {example}" for example in worker_errors["examples"]]
    lines += [f"    sandbox| {example}" for example in f["sandbox_db_errors"]["examples"][:3]]
    lines += [f"    save| {error}" for error in edits["errors"][:3]]
    if f["unsynced_detail"]:
        lines.append(f"  unsynced drafts: {f['unsynced_detail']}")
    if f["leases_held"]:
        lines.append(f"  leases held: {f['leases_held'][:10]}")
    if f["mismatched_drafts"]:
        lines.append(f"  mismatched: {f['mismatched_drafts'][:5]}")
    return "\n".join(lines)


def passed(figures: dict[str, Any]) -> bool:
    return (
        figures["converged_after_last_restart"] is not None
        and figures["lost_changes"] == 0
        and figures["duplicate_items"] == 0
        and figures["duplicate_listings"] == 0
        and figures["remote_listings"] == figures["drafts"]
        and not figures["unsynced_drafts"]
        and not figures["leases_held"]
        and not figures["lease_violations"]
        and figures["worker_alive"]
        and figures["beat_alive"]
        and not figures["edits"].get("still_failing", True)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drafts", type=int, default=40)
    parser.add_argument("--photos", type=int, default=3)
    parser.add_argument("--documents", type=int, default=1)
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--gap", type=float, default=5.0, help="seconds between restarts")
    parser.add_argument("--lead", type=float, default=3.0, help="seconds of edits before the first restart")
    parser.add_argument("--seed", type=int, default=1, help="the sandbox's fault seed")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds to converge after the last restart"
    )
    parser.add_argument("--conn-max-age", default="60", help="DATABASE_CONN_MAX_AGE of every process")
    parser.add_argument("--keep", action="store_true", help="keep the run's logs (always kept on failure)")
    options = parser.parse_args()

    settings = {**CHAOS_SETTINGS, "DATABASE_CONN_MAX_AGE": options.conn_max_age}
    cluster = PgCluster()
    workdir = Path(tempfile.mkdtemp(prefix="bench-pg-restart-"))
    figures: dict[str, Any] | None = None
    try:
        cluster.start()
        print(
            f"own PostgreSQL cluster: {cluster.bindir}, port {cluster.port}, data {cluster.data}", flush=True
        )
        os.environ["DATABASE_URL"] = cluster.url
        with Harness(workdir, settings_env=settings) as harness:
            harness.start_worker()
            harness.start_beat()
            figures = run_restarts(harness, cluster, options)
    finally:
        cluster.stop()
        ok = figures is not None and passed(figures)
        if options.keep or not ok:
            print(f"logs kept in {workdir / 'logs'}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(("PASS " if ok else "FAIL ") + report(figures), flush=True)
    return 0 if ok else 1


def _exit_on_term(signum, frame) -> None:
    # SIGTERM (timeout, Ctrl-C in a pipeline) still stops the processes and the cluster.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_term)
    raise SystemExit(main())
