"""A real S3 API for the media-on-S3 tests: moto's server (`moto_server`, from the dev extras)
in a process of its own on a free port, one fresh bucket per test, and the test's settings
pointed at it. Import the fixtures into a test module to use them:

    from tests.s3_support import s3_media, s3_server  # noqa: F401

`s3_media` switches the default storage to the bucket for the test (the web process's, this
one); `S3Bucket.env` is the same configuration as environment variables, for a worker started
in a process of its own (settings.py reads MEDIA_S3_*).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.mls.worker_harness import free_port, wait_port

REGION = "us-east-1"
ACCESS_KEY = "portal-tests"
SECRET_KEY = "portal-tests-secret"


def moto_server_binary() -> str:
    beside = Path(sys.executable).with_name("moto_server")
    found = str(beside) if beside.exists() else shutil.which("moto_server")
    if found is None:
        raise RuntimeError("moto_server is not installed: pip install -e '.[dev]' (moto[server])")
    return found


@dataclass
class S3Server:
    endpoint_url: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )


@dataclass
class S3Bucket:
    server: S3Server
    name: str

    def object_keys(self, prefix: str = "") -> list[str]:
        pages = (
            self.server.client().get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        body: bytes = self.server.client().get_object(Bucket=self.name, Key=key)["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self.server.client().delete_object(Bucket=self.name, Key=key)

    @property
    def storage(self) -> dict[str, Any]:
        """The STORAGES entry settings.py builds from `env`."""
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": self.name,
                "endpoint_url": self.server.endpoint_url,
                "region_name": REGION,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "signature_version": "s3v4",
                "addressing_style": "path",
                "default_acl": "private",
                "querystring_auth": True,
                "file_overwrite": True,
                "max_memory_size": 2_621_440,
            },
        }

    @property
    def env(self) -> dict[str, str]:
        return {
            "MEDIA_S3_BUCKET": self.name,
            "MEDIA_S3_ENDPOINT_URL": self.server.endpoint_url,
            "MEDIA_S3_REGION": REGION,
            "MEDIA_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "MEDIA_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """moto's S3 server in its own process for the session."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [moto_server_binary(), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_port(port)
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture
def s3_media(settings, s3_server) -> Iterator[S3Bucket]:
    """Private media in a fresh bucket for this test (MEDIA_ROOT stays set: nothing may use it)."""
    bucket = S3Bucket(s3_server, f"portal-media-{uuid.uuid4().hex[:16]}")
    client = s3_server.client()
    client.create_bucket(Bucket=bucket.name)
    settings.STORAGES = {**settings.STORAGES, "default": bucket.storage}
    yield bucket
    for key in bucket.object_keys():
        bucket.delete(key)
    client.delete_bucket(Bucket=bucket.name)
