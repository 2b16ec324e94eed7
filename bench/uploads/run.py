"""Memory of refused oversized uploads under gunicorn. One command:

    .venv/bin/python bench/uploads/run.py [--sizes 300,490] [--cases photo,document,newlines,chunked]

Sets up a throwaway portal (SQLite in a temp PORTAL_VAR_DIR, migrated, one agent and one
draft), then for each case starts gunicorn with one sync worker, signs in, warms the worker
up with a small refused upload, and streams one oversized body generated on the fly as a
photo or a document upload: a single file of SIZE MB of bytes with no newline in them
(`newlines`: one every 4 KB; `chunked`: sent without Content-Length). The worker's RSS is
read from /proc/<pid>/status before, its peak (VmHWM, reset through clear_refs, and a 10 ms
sampler) during, and the growth printed per case with the answer the client got.
Exits non-zero when a case grows the worker by more than --bar MB or the answer is not the
clear 413.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.gunicorn_server import deployed_env, free_port, start_server, stop_server  # noqa: E402

PYTHON = sys.executable
PASSWORD = "bench-pass-2026"
MiB = 1024 * 1024
SEND_CHUNK = 256 * 1024

SETUP = r"""
import django
django.setup()
from accounts.models import Company, Office, Role, User
from drafts.models import Draft
company, _ = Company.objects.get_or_create(slug="bench", defaults={"name": "Bench Realty"})
office, _ = Office.objects.get_or_create(company=company, name="Bench office")
agent, created = User.objects.get_or_create(
    username="bench.agent", defaults={"office": office, "role": Role.AGENT, "first_name": "Bench"}
)
agent.set_password(%(password)r)
agent.save()
draft = Draft.objects.filter(list_agent=agent).first() or Draft.objects.create(
    office=office, list_agent=agent, created_by=agent, updated_by=agent, property_type="A",
    list_price=250000, street_number="100", street_name="8th", street_suffix="St", city="Fargo",
    state_or_province="ND", postal_code="58103",
)
print(draft.pk)
"""


def environment(var_dir: Path) -> dict[str, str]:
    env = deployed_env(var_dir)
    env.pop("DATABASE_URL", None)  # always the throwaway SQLite database
    return env


def set_up(env: dict[str, str]) -> int:
    for args in (("migrate", "--noinput"), ("createcachetable",), ("collectstatic", "--noinput")):
        subprocess.run(
            [PYTHON, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL
        )
    result = subprocess.run(
        [PYTHON, "-c", SETUP % {"password": PASSWORD}], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode:
        raise SystemExit(f"setup failed:\n{result.stderr}")
    return int(result.stdout.strip().splitlines()[-1])


# --- gunicorn and its worker ------------------------------------------------------------------







def worker_pid(master: int) -> int:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The ppid is the 2nd field after the command, which is in parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == master:
            return int(entry.name)
    raise RuntimeError("no gunicorn worker found")


def memory_kib(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


class PeakSampler:
    """VmRSS every 10 ms while a request runs: the peak even where VmHWM cannot be reset."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, memory_kib(self.pid)["VmRSS"])
            except OSError:
                return
            time.sleep(0.01)

    def __enter__(self) -> PeakSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()


# --- the client -------------------------------------------------------------------------------


def signed_in(base: str) -> requests.Session:
    session = requests.Session()
    session.get(base + "/accounts/login/")
    response = session.post(
        base + "/accounts/login/",
        data={
            "username": "bench.agent",
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": base + "/accounts/login/"},
        allow_redirects=False,
    )
    assert response.status_code == 302, f"sign-in failed: {response.status_code}"
    return session


class MultipartBody:
    """One file field of `size` bytes, generated while it is sent. With `__len__`, requests
    sends a Content-Length; iterate `.chunks()` alone to send it chunked."""

    def __init__(self, csrf: str, file_name: str, content_type: str, size: int, *, newline_every: int = 0):
        self.boundary = "bench" + uuid.uuid4().hex
        self.head = (
            f"--{self.boundary}\r\n"
            'Content-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
            f"{csrf}\r\n"
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.size = size
        block = bytearray(b"\xa5" * SEND_CHUNK)  # no \n, no \r
        if newline_every:
            for at in range(newline_every - 1, SEND_CHUNK, newline_every):
                block[at] = 0x0A
        self.block = bytes(block)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def chunks(self) -> Iterator[bytes]:
        yield self.head
        left = self.size
        while left > 0:
            piece = self.block[: min(left, SEND_CHUNK)]
            left -= len(piece)
            yield piece
        yield self.tail

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks()


@dataclass
class Case:
    kind: str  # photo | document
    size_mb: int
    newline_every: int = 0
    chunked: bool = False

    @property
    def label(self) -> str:
        body = "newline every 4 KB" if self.newline_every else "no newlines"
        return f"{self.kind} {self.size_mb} MB, {body}{', chunked' if self.chunked else ''}"


def send(session: requests.Session, base: str, draft: int, case: Case, size: int) -> tuple[int | str, str]:
    csrf = session.cookies["csrftoken"]
    if case.kind == "photo":
        url, name, content_type = f"{base}/drafts/{draft}/media/photos/upload/", "big.jpg", "image/jpeg"
    else:
        url, name, content_type = (
            f"{base}/drafts/{draft}/media/documents/upload/",
            "big.pdf",
            "application/pdf",
        )
    body = MultipartBody(csrf, name, content_type, size, newline_every=case.newline_every)
    headers = {"Content-Type": body.content_type, "Accept": "application/json", "X-CSRFToken": csrf}
    try:
        response = session.post(
            url, data=body.chunks() if case.chunked else body, headers=headers, timeout=600
        )
    except requests.RequestException as error:
        return "no answer", type(error).__name__
    try:
        message = response.json().get("error") or str(response.json().get("files"))
    except ValueError:
        message = response.text[:80]
    return response.status_code, message


def run_case(env: dict[str, str], draft: int, case: Case) -> tuple[int, int, int | str, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(env, port, extra=("--timeout", "600"))
    try:
        session = signed_in(base)
        session.get(f"{base}/drafts/{draft}/media/").raise_for_status()
        pid = worker_pid(server.pid)
        # Warm up the same path (imports, the sandboxed checker) with a small refused file.
        send(session, base, draft, Case(case.kind, 0), 64 * 1024)
        before = memory_kib(pid)
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS from here on
        with PeakSampler(pid) as sampler:
            status, message = send(session, base, draft, case, case.size_mb * MiB)
        after = memory_kib(pid)
        peak = max(after["VmHWM"], sampler.peak)
        return (peak - before["VmRSS"]) // 1024, (after["VmRSS"] - before["VmRSS"]) // 1024, status, message
    finally:
        stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="300,490", help="body sizes in MB, comma-separated")
    parser.add_argument("--cases", default="photo,document,newlines,chunked")
    parser.add_argument("--bar", type=int, default=50, help="most peak growth allowed, in MB")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    wanted = set(options.cases.split(","))

    cases = []
    for size in sizes:
        if "photo" in wanted:
            cases.append(Case("photo", size))
        if "document" in wanted:
            cases.append(Case("document", size))
    if "newlines" in wanted:
        cases.append(Case("photo", sizes[0], newline_every=4096))
    if "chunked" in wanted:
        cases += [Case("photo", size, chunked=True) for size in sizes]

    var_dir = Path(tempfile.mkdtemp(prefix="portal-bench-uploads-"))
    env = environment(var_dir)
    failed = False
    try:
        draft = set_up(env)
        print(f"gunicorn, 1 sync worker, SQLite in {var_dir}; growth of the worker's RSS per request\n")
        print(f"{'case':<42} {'peak MB':>8} {'after MB':>9}  answer")
        for case in cases:
            peak, after, status, message = run_case(env, draft, case)
            clear = status == 413 and "larger than" in message
            over = peak > options.bar
            failed |= over or not clear
            mark = "  <-- over the bar" if over else ""
            print(f"{case.label:<42} {peak:8d} {after:9d}  {status} {message[:70]}{mark}", flush=True)
    finally:
        if not options.keep:
            shutil.rmtree(var_dir, ignore_errors=True)
    if failed:
        print(f"\nFAILED: a case grew the worker by more than {options.bar} MB or had no clear 413")
        sys.exit(1)


if __name__ == "__main__":
    main()
