"""``manage.py runsandbox``: the same API at the root of its own threaded server, in another process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.sandbox.conftest import CONTROL_HEADERS, CONTROL_TOKEN, DRAFT, TOKEN

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"X-SparkApi-User-Agent": "t", "Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def standalone(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.sqlite3'}",
        "SPARK_SANDBOX_CONTROL_ENABLED": "1",
        "SPARK_SANDBOX_CONTROL_TOKEN": CONTROL_TOKEN,
        "DJANGO_DEBUG": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runsandbox", "--port", str(port), "--migrate"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/_control/state", headers=CONTROL_HEADERS, timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow
def test_runsandbox_serves_the_api_at_the_root(standalone):
    created = requests.post(
        f"{standalone}/v1/listings/incomplete", json={"D": DRAFT}, headers=HEADERS, timeout=5
    )
    assert created.status_code == 201
    owner = created.json()["D"]["Results"][0]["ResourceUri"]
    ticket = requests.post(
        f"{standalone}{owner}/photos/tickets",
        json={"D": {"Service": "PhotoUploads"}},
        headers=HEADERS,
        timeout=5,
    ).json()["D"]["Results"][0]
    assert ticket["Uri"] == f"{standalone}/uploads/photos"
    faults = {"rules": [{"kind": "drop_after_apply", "routes": ["incomplete.update"], "times": 1}]}
    assert (
        requests.post(
            f"{standalone}/_control/faults", json=faults, headers=CONTROL_HEADERS, timeout=5
        ).status_code
        == 200
    )
    with pytest.raises(requests.ConnectionError):
        requests.put(f"{standalone}{owner}", json={"D": {"ListPrice": 7}}, headers=HEADERS, timeout=5)
    state = requests.get(f"{standalone}/_control/state", headers=CONTROL_HEADERS, timeout=5).json()
    assert state["incomplete_listings"][0]["StandardFields"]["ListPrice"] == 7
    # No login page here: anonymous visitors get a plain 403, the control token opens the page.
    assert requests.get(f"{standalone}/", timeout=5).status_code == 403
    assert requests.get(f"{standalone}/_control/state", timeout=5).status_code == 403
    page = requests.get(f"{standalone}/", headers=CONTROL_HEADERS, timeout=5)
    assert "611 8th St S" in page.text
    css = page.text.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    assert requests.get(f"{standalone}{css}", timeout=5).status_code == 200
