"""Web and worker sharing a bucket, not a disk (docs/architecture.md#media-storage-past-one-machine):
the live server (the web process) and a real Celery worker in a process of its own each get
their own MEDIA_ROOT, and both point at one bucket of a real S3 API server (moto's). A browser
uploads photos and a document; the worker processes them and pushes them to the sandbox; the
page shows the thumbnails the web process streams from the bucket. Neither MEDIA_ROOT gets a
file and the worker's temp copies are gone.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from media_manager.models import Document, Photo
from tests.factories import DraftFactory
from tests.media_manager.media_helpers import small_jpeg, stored_files
from tests.mls.worker_harness import pdf_bytes
from tests.s3_support import S3Bucket, s3_media, s3_server  # noqa: F401
from tests.sandbox_support import SandboxControl

from .conftest import assert_no_page_problems, login
from .worker import CeleryWorker, running_worker

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.timeout(240)]

SHOTS = Path("/tmp/shots-s3")
PHOTO_FILES = ("porch.jpg", "kitchen.jpg")


def wait_for_the_push(sandbox: SandboxControl, draft_id: int, worker: CeleryWorker) -> dict:
    """The incomplete listing with both photos and the document, as the worker pushed them."""
    deadline = time.monotonic() + 60
    while True:
        listings = sandbox.state()["incomplete_listings"]
        if len(listings) == 1 and len(listings[0]["Photos"]) == 2 and len(listings[0]["Documents"]) == 1:
            return listings[0]
        worker.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"the push did not arrive: {listings}\n{worker.log_tail('worker')}")
        time.sleep(0.25)


def test_web_and_worker_share_the_bucket_and_no_disk(
    browser_page,
    live_server,
    settings,
    tmp_path,
    agent,
    s3_media: S3Bucket,  # noqa: F811
):
    page = browser_page
    web_media = Path(settings.MEDIA_ROOT)
    worker_media = tmp_path / "worker-media"
    worker_temp = tmp_path / "worker-tmp"
    worker_temp.mkdir()
    draft = DraftFactory(list_agent=agent)
    with running_worker(
        live_server,
        settings,
        tmp_path,
        media_root=worker_media,
        extra_env={**s3_media.env, "FILE_UPLOAD_TEMP_DIR": str(worker_temp)},
    ) as worker:
        sandbox = SandboxControl(settings.SPARK_API_URL)
        sandbox.reset()
        login(page, agent, next_url=f"/drafts/{draft.pk}/media/")
        paths = []
        for index, name in enumerate(PHOTO_FILES):
            path = tmp_path / name
            path.write_bytes(small_jpeg(seed=60 + index))
            paths.append(str(path))
        page.set_input_files("#photo-files", paths)
        page.wait_for_function("() => document.querySelectorAll('#photo-list > [data-id]').length === 2")
        pdf = tmp_path / "floor-plan.pdf"
        pdf.write_bytes(pdf_bytes("Floor plan"))
        page.set_input_files("#document-files", str(pdf))
        page.wait_for_function("() => document.querySelectorAll('#document-rows > [data-id]').length === 1")

        worker.wait_ready()
        # The worker processed them from the bucket; the web process streams the thumbnails back.
        page.wait_for_function(
            "() => document.querySelectorAll('#photo-list img').length === 2"
            " && !document.querySelector('#photo-grid .state-pending')",
            timeout=60_000,
        )
        page.wait_for_function(
            "() => [...document.querySelectorAll('#photo-list img')]"
            ".every((img) => img.complete && img.naturalWidth > 0)"
        )
        listing = wait_for_the_push(sandbox, draft.pk, worker)

        photos = list(Photo.objects.filter(draft=draft).order_by("position"))
        document = Document.objects.get(draft=draft)
        assert sorted(item["sha256"] for item in listing["Photos"]) == sorted(
            photo.sha256 for photo in photos
        )
        stored = {name for photo in photos for name in photo.file_names()} | {document.file.name}
        assert len(stored) == 2 * 5 + 1  # original, master, three variants each; the PDF
        assert set(s3_media.object_keys()) == stored
        for photo in photos:
            assert hashlib.sha256(s3_media.read(photo.master.name)).hexdigest() == photo.sha256

        SHOTS.mkdir(parents=True, exist_ok=True)
        for width, height in ((1366, 900), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.reload()
            page.wait_for_function(
                "() => [...document.querySelectorAll('#photo-list img')]"
                ".every((img) => img.complete && img.naturalWidth > 0)"
            )
            # For people to look at (the page's layout is the media page's own business).
            page.screenshot(path=str(SHOTS / f"media-on-s3-{width}.png"), full_page=True)
        assert_no_page_problems(page)

    # Neither process wrote a private file to its disk; the worker's temp copies are gone.
    assert stored_files(web_media) == []
    assert stored_files(worker_media) == []
    assert list(worker_temp.iterdir()) == []
