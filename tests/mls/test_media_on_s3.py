"""Private media in S3-compatible storage (MEDIA_S3_*), against a real S3 API server (moto's,
tests/s3_support.py): upload -> process -> push with nothing written under MEDIA_ROOT, the
scoped file views streaming from the bucket with the headers they send from disk, and the
push reading the bytes it sends from the bucket (docs/architecture.md#media-storage-past-one-machine).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse

from media_manager import tasks
from media_manager.models import Document, Photo, ProcessingState
from mls import push
from tests.factories import AgentFactory, DraftFactory, PhotoFactory
from tests.media_manager.conftest import eager_celery, media_root, upload_temp_dir  # noqa: F401
from tests.media_manager.media_helpers import small_jpeg, stored_files, upload
from tests.mls.sync_support import assert_in_sync, drain
from tests.mls.worker_harness import PYTHON, ROOT, pdf_bytes
from tests.s3_support import S3Bucket, s3_media, s3_server  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

JSON = {"HTTP_ACCEPT": "application/json"}
PRIVATE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def _upload(client, draft, route: str, name: str, data: bytes, content_type: str) -> int:
    response = client.post(
        reverse(f"media_manager:{route}", args=[draft.pk]),
        {"file": [upload(name, data, content_type)]},
        **JSON,
    )
    assert response.status_code == 201, response.content
    [result] = response.json()["files"]
    assert result["status"] in ("accepted", "warning"), result
    return int(result["id"])


def _download(client, url: str) -> tuple[object, bytes]:
    response = client.get(url)
    assert response.status_code == 200, url
    return response, b"".join(response.streaming_content)


@pytest.fixture
def draft_on_s3(s3_media, sync_env, agent, eager_celery, upload_temp_dir):  # noqa: F811
    return DraftFactory(list_agent=agent)


def test_upload_process_and_push_keep_every_file_in_the_bucket(
    s3_media: S3Bucket,  # noqa: F811
    sync_env,
    agent_client,
    draft_on_s3,
    media_root,  # noqa: F811
    upload_temp_dir,  # noqa: F811
):
    draft = draft_on_s3
    original = small_jpeg(seed=7)
    photo_id = _upload(agent_client, draft, "photo_upload", "Front porch.jpg", original, "image/jpeg")
    document_id = _upload(
        agent_client, draft, "document_upload", "Floor plan.pdf", pdf_bytes("Floor plan"), "application/pdf"
    )

    # Eager Celery: the upload's commit ran process_photo, which read the original from the bucket.
    photo = Photo.objects.get(pk=photo_id)
    assert photo.state == ProcessingState.READY
    document = Document.objects.get(pk=document_id)
    stored = {photo.original.name, photo.master.name, *photo.variants.values(), document.file.name}
    assert set(s3_media.object_keys()) == stored
    assert photo.original.name.startswith("photos/originals/")
    assert photo.master.name.startswith("photos/masters/")
    assert sorted(photo.variants) == ["large", "medium", "thumb"]
    assert s3_media.read(photo.original.name) == original
    assert hashlib.sha256(s3_media.read(photo.master.name)).hexdigest() == photo.sha256

    # The push sends what the bucket holds.
    assert drain(draft)[-1] == push.Outcome.SYNCED
    assert_in_sync(sync_env, draft)
    listing = sync_env.remote(draft)
    assert [item["sha256"] for item in listing["Photos"]] == [photo.sha256]
    assert [item["sha256"] for item in listing["Documents"]] == [
        hashlib.sha256(s3_media.read(document.file.name)).hexdigest()
    ]

    # Nothing on this machine's disk: no MEDIA_ROOT file, no temp copy left behind.
    assert stored_files(media_root) == []
    assert list(upload_temp_dir.iterdir()) == []


def test_the_scoped_views_stream_from_the_bucket_with_the_private_headers(
    s3_media: S3Bucket,  # noqa: F811
    agent_client,
    client,
    draft_on_s3,
    other_office,
):
    draft = draft_on_s3
    original = small_jpeg(seed=8)
    photo_id = _upload(agent_client, draft, "photo_upload", "Yard.jpg", original, "image/jpeg")
    document_id = _upload(
        agent_client, draft, "document_upload", "Survey.pdf", pdf_bytes("Survey"), "application/pdf"
    )
    photo = Photo.objects.get(pk=photo_id)
    document = Document.objects.get(pk=document_id)

    thumb_url = reverse("media_manager:photo_file", args=[draft.pk, photo.pk, "thumb"])
    thumb, body = _download(agent_client, thumb_url)
    assert body == s3_media.read(photo.variants["thumb"])
    assert thumb["Content-Type"] == "image/jpeg"
    assert thumb["Content-Length"] == str(len(body))
    assert thumb["Content-Disposition"].startswith("inline;")
    assert thumb["Cache-Control"] == "private, max-age=3600"
    for header, value in PRIVATE_HEADERS.items():
        assert thumb[header] == value, header

    download, body = _download(
        agent_client, reverse("media_manager:photo_file", args=[draft.pk, photo.pk, "original"])
    )
    assert body == original
    assert download["Content-Disposition"].startswith('attachment; filename="Yard.jpg"')
    assert download["Cache-Control"] == "private, no-store"

    pdf, body = _download(agent_client, reverse("media_manager:document_file", args=[draft.pk, document.pk]))
    assert body == s3_media.read(document.file.name)
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"].startswith('attachment; filename="Survey.pdf"')

    # The bucket is no way around the access check: another office's agent gets a 404.
    client.force_login(AgentFactory(office=other_office))
    assert client.get(thumb_url).status_code == 404

    # A file gone from the bucket is a 404 too, not a server error.
    s3_media.delete(photo.variants["thumb"])
    assert agent_client.get(thumb_url).status_code == 404


def test_an_original_missing_from_the_bucket_is_rejected_with_words(
    s3_media: S3Bucket,  # noqa: F811
    memory_broker,
    draft,
    agent,
    upload_temp_dir,  # noqa: F811
):
    photo = PhotoFactory(draft=draft, by=agent, stored=True)
    assert s3_media.object_keys() == [photo.original.name]
    s3_media.delete(photo.original.name)

    assert tasks.process_photo(photo.pk) == "rejected"
    photo.refresh_from_db()
    assert photo.state == ProcessingState.REJECTED
    assert photo.rejection_reason == tasks.COULD_NOT_PROCESS
    assert s3_media.object_keys() == []
    assert list(upload_temp_dir.iterdir()) == []


def test_settings_build_the_s3_storage_from_the_environment(s3_media: S3Bucket, tmp_path):  # noqa: F811
    """What a web or worker process started with MEDIA_S3_* uses: the bucket, never MEDIA_ROOT."""
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("MEDIA_")},
        **s3_media.env,
        "DJANGO_SETTINGS_MODULE": "listings_portal.settings",
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(tmp_path / "unused-media"),
    }
    script = (
        "import json, django; django.setup();"
        "from django.conf import settings; from django.core.files.storage import default_storage;"
        "from django.core.files.base import ContentFile;"
        "name = default_storage.save('probe/settings.txt', ContentFile(b'from the environment'));"
        "print(json.dumps({'storage': settings.STORAGES['default'], 'name': name,"
        " 'class': type(default_storage._wrapped).__name__}))"
    )
    done = subprocess.run(
        [PYTHON, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["class"] == "S3Storage"
    assert answer["storage"] == s3_media.storage
    assert s3_media.read(answer["name"]) == b"from the environment"
    assert not Path(tmp_path / "unused-media").exists()


def test_an_upload_while_the_bucket_is_down_is_refused_in_words_and_keeps_nothing(
    s3_media: S3Bucket,  # noqa: F811
    draft_on_s3,
    agent_client,
    upload_temp_dir,  # noqa: F811
):
    """A store that refuses (here the bucket is gone) answers the upload in plain words that name
    the file, not with a 500; no photo or document row is kept, and the draft is as it was."""
    client = s3_media.server.client()
    client.delete_bucket(Bucket=s3_media.name)

    for route, name, data, content_type in (
        ("photo_upload", "IMG_4101.jpg", small_jpeg(), "image/jpeg"),
        ("document_upload", "disclosure.pdf", pdf_bytes("Seller disclosure"), "application/pdf"),
    ):
        response = agent_client.post(
            reverse(f"media_manager:{route}", args=[draft_on_s3.pk]),
            {"file": [upload(name, data, content_type)]},
            **JSON,
        )
        assert response.status_code == 400
        [result] = response.json()["files"]
        assert result["status"] == "rejected"
        assert result["file"] == name
        assert "could not be stored just now" in result["message"]
    assert not Photo.objects.filter(draft=draft_on_s3).exists()
    assert not Document.objects.filter(draft=draft_on_s3).exists()
    assert list(upload_temp_dir.iterdir()) == []
    client.create_bucket(Bucket=s3_media.name)  # for the fixture's clean-up
