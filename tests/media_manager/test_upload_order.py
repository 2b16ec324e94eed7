"""Uploads of files chosen together land in the order they were chosen, whatever order their
requests finish in; the first chosen is primary unless the draft already has one."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from media_manager.models import Document, Photo
from tests.factories import DraftFactory, PhotoFactory
from tests.media_manager import samples
from tests.media_manager.media_helpers import active_order, small_jpeg, upload

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


def _send(client, draft, keys, index, *, kind="photo", content=None):
    if kind == "photo":
        file = upload(f"IMG_410{index + 1}.jpg", content or small_jpeg(seed=index))
    else:
        file = upload(f"doc-{index}.pdf", content or samples.pdf_plain(), "application/pdf")
    data = {
        "file": [file],
        "client_key": str(keys[index]),
        "batch": ",".join(str(key) for key in keys),
    }
    return client.post(reverse(f"media_manager:{kind}_upload", args=[draft.pk]), data, **JSON)


def _names(draft) -> list[str]:
    return [photo.original_name for photo in Photo.objects.active().filter(draft=draft).order_by("position")]


def test_photos_land_in_the_order_chosen_not_the_order_finished(agent_client, draft, upload_temp_dir):
    keys = [uuid.uuid4() for _ in range(6)]
    for index in (3, 2, 0, 1, 5, 4):  # the finishing order the issue saw
        assert _send(agent_client, draft, keys, index).status_code == 201
    assert _names(draft) == [f"IMG_410{n}.jpg" for n in range(1, 7)]
    primary = Photo.objects.get(draft=draft, is_primary=True)
    assert primary.original_name == "IMG_4101.jpg"
    assert len(active_order(draft)) == 6


def test_files_landing_in_the_order_chosen_are_placed_without_rewriting_the_order(
    agent_client, draft, upload_temp_dir
):
    keys = [uuid.uuid4() for _ in range(4)]
    for index in range(3):
        assert _send(agent_client, draft, keys, index).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        assert _send(agent_client, draft, keys, 3).status_code == 201
    # The last file chosen lands last, where it was created: no position is written again.
    assert not [q["sql"] for q in queries.captured_queries if '"position" =' in q["sql"]]
    assert _names(draft) == [f"IMG_410{n}.jpg" for n in range(1, 5)]
    assert Photo.objects.get(draft=draft, is_primary=True).original_name == "IMG_4101.jpg"
    assert len(active_order(draft)) == 4


def test_a_batch_goes_after_photos_already_there_and_keeps_their_primary(
    agent_client, draft, agent, upload_temp_dir
):
    existing = PhotoFactory(draft=draft, by=agent, original_name="kitchen.jpg")
    assert Photo.objects.get(pk=existing.pk).is_primary
    keys = [uuid.uuid4() for _ in range(3)]
    for index in (2, 0, 1):
        assert _send(agent_client, draft, keys, index).status_code == 201
    assert _names(draft) == ["kitchen.jpg", "IMG_4101.jpg", "IMG_4102.jpg", "IMG_4103.jpg"]
    assert Photo.objects.get(draft=draft, is_primary=True).pk == existing.pk


def test_a_rejected_file_leaves_no_hole(agent_client, draft, upload_temp_dir):
    keys = [uuid.uuid4() for _ in range(4)]
    assert _send(agent_client, draft, keys, 3).status_code == 201
    refused = _send(agent_client, draft, keys, 0, content=b"not a picture at all")
    assert refused.status_code == 400
    assert refused.json()["files"][0]["status"] == "rejected"
    assert _send(agent_client, draft, keys, 2).status_code == 201
    assert _send(agent_client, draft, keys, 1).status_code == 201
    assert _names(draft) == ["IMG_4102.jpg", "IMG_4103.jpg", "IMG_4104.jpg"]
    positions = list(
        Photo.objects.active().filter(draft=draft).order_by("position").values_list("position", flat=True)
    )
    assert positions == [0, 1, 2]
    assert Photo.objects.get(draft=draft, is_primary=True).original_name == "IMG_4102.jpg"


def test_two_batches_at_once_each_keep_their_order(agent_client, draft, upload_temp_dir):
    first = [uuid.uuid4() for _ in range(2)]
    second = [uuid.uuid4() for _ in range(2)]
    _send(agent_client, draft, first, 1)
    _send(agent_client, draft, second, 1)
    _send(agent_client, draft, first, 0)
    _send(agent_client, draft, second, 0)
    order = [photo.client_key for photo in Photo.objects.active().filter(draft=draft).order_by("position")]
    assert order.index(first[0]) + 1 == order.index(first[1])
    assert order.index(second[0]) + 1 == order.index(second[1])


def test_an_unreadable_batch_puts_the_file_last(agent_client, draft, upload_temp_dir):
    PhotoFactory(draft=draft, original_name="kitchen.jpg")
    data = {
        "file": [upload("IMG_4101.jpg", small_jpeg())],
        "client_key": str(uuid.uuid4()),
        "batch": "nonsense",
    }
    response = agent_client.post(reverse("media_manager:photo_upload", args=[draft.pk]), data, **JSON)
    assert response.status_code == 201
    assert _names(draft) == ["kitchen.jpg", "IMG_4101.jpg"]


def test_documents_land_in_the_order_chosen(agent_client, draft, upload_temp_dir):
    keys = [uuid.uuid4() for _ in range(3)]
    for index in (2, 0, 1):
        response = _send(
            agent_client, draft, keys, index, kind="document", content=samples.pdf_pages(index + 1)
        )
        assert response.status_code == 201, response.content
    names = [d.original_name for d in Document.objects.active().filter(draft=draft).order_by("position")]
    assert names == ["doc-0.pdf", "doc-1.pdf", "doc-2.pdf"]


# --- Several at once: move and download ----------------------------------------------------

HTMX = {"HTTP_HX_REQUEST": "true"}


def _version(draft) -> int:
    from media_manager.models import MediaOrder

    return MediaOrder.versions(draft).photo_version


def test_move_selected_to_the_end_keeps_their_order(agent_client, draft, agent):
    photos = [PhotoFactory(draft=draft, by=agent, original_name=f"p{n}.jpg") for n in range(4)]
    url = reverse("media_manager:photo_bulk_move", args=[draft.pk])
    data = {"selected": [photos[2].pk, photos[0].pk], "where": "end", "version": _version(draft)}
    response = agent_client.post(url, data, **HTMX)
    assert response.status_code == 200
    assert active_order(draft) == [photos[1].pk, photos[3].pk, photos[0].pk, photos[2].pk]
    assert "2 photos moved to the end" in response["HX-Trigger-After-Settle"]


def test_move_selected_seen_at_an_old_version_is_refused(agent_client, draft, agent):
    photos = [PhotoFactory(draft=draft, by=agent) for _ in range(3)]
    url = reverse("media_manager:photo_bulk_move", args=[draft.pk])
    data = {"selected": [photos[2].pk], "where": "start", "version": _version(draft) - 1}
    response = agent_client.post(url, data, **HTMX)
    assert response.status_code == 409
    assert "select and move again" in response.content.decode()
    assert active_order(draft) == [photo.pk for photo in photos]


def test_move_with_nothing_selected_says_what_to_do(agent_client, draft, agent):
    PhotoFactory(draft=draft, by=agent)
    url = reverse("media_manager:photo_bulk_move", args=[draft.pk])
    response = agent_client.post(url, {"where": "start", "version": _version(draft)}, **HTMX)
    assert response.status_code == 400
    assert "Select photos first" in response.content.decode()


def test_download_selected_is_a_zip_of_their_originals_in_order(agent_client, draft, agent):
    import io
    import zipfile

    photos = [
        PhotoFactory(draft=draft, by=agent, original_name=f"room {n}.jpg", stored=True) for n in range(3)
    ]
    other = PhotoFactory(draft=DraftFactory(list_agent=agent), by=agent, stored=True)
    url = reverse("media_manager:photo_bulk_download", args=[draft.pk])
    response = agent_client.get(url, {"selected": [photos[2].pk, photos[0].pk, other.pk]})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="photos-')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["01-room 0.jpg", "03-room 2.jpg"]  # another draft's photo is left out
    with photos[0].original.open("rb") as original:
        assert archive.read("01-room 0.jpg") == original.read()


def test_a_photo_text_error_names_the_field(agent_client, draft, agent):
    photo = PhotoFactory(draft=draft, by=agent)
    url = reverse("media_manager:photo_update", args=[draft.pk, photo.pk])
    response = agent_client.post(url, {"name": "n" * 41, "caption": ""}, **HTMX)
    assert response.status_code == 422
    assert response.content.decode().startswith("Name: ")
    response = agent_client.post(url, {"name": "Kitchen", "caption": "c" * 1001}, **HTMX)
    assert response.content.decode().startswith("Caption: ")
