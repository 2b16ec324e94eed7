"""A person's media change is an edit of the draft: who and when, a reviewed draft back to
drafting, and no change at all to a draft being published or live."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_htmx.middleware import HtmxDetails

from drafts.models import Draft, DraftEvent, DraftStatus
from media_manager.models import (
    Document,
    DocumentPrivacy,
    DraftNotEditable,
    MediaOrder,
    Photo,
    random_storage_name,
)
from media_manager.refusals import media_change
from media_manager.tasks import process_photo
from tests.factories import AgentFactory, DocumentFactory, PhotoFactory
from tests.media_manager import samples
from tests.media_manager.media_helpers import small_jpeg, stored_files, upload

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
JSON = {"HTTP_ACCEPT": "application/json"}


def _set_status(draft: Draft, status: str) -> Draft:
    Draft.objects.filter(pk=draft.pk).update(status=status)
    draft.refresh_from_db()
    return draft


def _sent_back(draft: Draft) -> list[DraftEvent]:
    return list(
        DraftEvent.objects.filter(
            draft=draft, kind=DraftEvent.Kind.STATUS_CHANGED, note="Photos or documents changed"
        )
    )


@pytest.fixture
def media(draft, agent):
    photos = [
        PhotoFactory(draft=draft, by=agent, original_name=f"{name}.jpg")
        for name in ("front", "kitchen", "yard")
    ]
    documents = [
        DocumentFactory(draft=draft, by=agent, name=name, stored=True) for name in ("Survey", "Floor plan")
    ]
    photos[2].move_to_trash(by=agent)
    documents[1].move_to_trash(by=agent)
    draft.refresh_from_db()
    return {"photos": photos, "documents": documents}


def _replace(photo: Photo, by) -> None:
    data = small_jpeg(3)
    stored = default_storage.save(random_storage_name("photos/originals", "jpg"), ContentFile(data))
    photo.replace_original(
        by=by,
        original_name="new.jpg",
        stored_name=stored,
        original_format="jpg",
        original_size=len(data),
        original_sha256=hashlib.sha256(data).hexdigest(),
        width=1200,
        height=900,
    )


def _add_document(draft: Draft, by) -> None:
    data = samples.pdf_plain()
    stored = default_storage.save(random_storage_name("documents", "pdf"), ContentFile(data))
    Document.add(
        draft,
        by=by,
        original_name="x.pdf",
        stored_name=stored,
        size=len(data),
        sha256="",
        pages=1,
        name="Plat",
    )


def test_a_replacement_marks_the_draft_for_sync_only_once_processed(draft, agent):
    photo = PhotoFactory(draft=draft, by=agent, stored=True)
    assert process_photo(photo.pk) == "ready"
    draft.refresh_from_db()
    before = draft.change_seq
    photo.refresh_from_db()
    _replace(photo, agent)
    draft.refresh_from_db()
    assert draft.change_seq == before  # the MLS keeps the old picture until the new one is ready
    assert process_photo(photo.pk) == "ready"
    draft.refresh_from_db()
    assert draft.change_seq == before + 1


# Every kind of change a person makes, as the model offers it.
CHANGES = {
    "photo upload": lambda d, m, by: PhotoFactory(draft=d, by=by, original_name="porch.jpg"),
    "photo rename": lambda d, m, by: m["photos"][0].update_text(name="Front porch", caption="", by=by),
    "photo caption": lambda d, m, by: m["photos"][0].update_text(name="front", caption="Sunny", by=by),
    "photo reorder": lambda d, m, by: Photo.reorder(
        d,
        [m["photos"][1].pk, m["photos"][0].pk],
        seen_version=MediaOrder.versions(d).photo_version,
        by=by,
    ),
    "photo move": lambda d, m, by: m["photos"][0].move_to(1, by=by),
    "photo primary": lambda d, m, by: m["photos"][1].make_primary(by=by),
    "photo trash": lambda d, m, by: m["photos"][0].move_to_trash(by=by),
    "photo restore": lambda d, m, by: m["photos"][2].restore(by=by),
    "photo rotate": lambda d, m, by: m["photos"][0].rotate(1, by=by),
    "photo replace": lambda d, m, by: _replace(m["photos"][0], by),
    "document upload": lambda d, m, by: _add_document(d, by),
    "document rename": lambda d, m, by: m["documents"][0].update(name="Survey 2", privacy="Private", by=by),
    "document privacy": lambda d, m, by: m["documents"][0].update(
        name="Survey", privacy=DocumentPrivacy.PUBLIC, by=by
    ),
    "document trash": lambda d, m, by: m["documents"][0].move_to_trash(by=by),
    "document restore": lambda d, m, by: m["documents"][1].restore(by=by),
}


@pytest.mark.parametrize("change", CHANGES)
def test_every_media_change_sends_an_approved_draft_back_to_drafting(draft, media, agent, change):
    draft = _set_status(draft, DraftStatus.APPROVED)
    editor = AgentFactory(office=draft.office)
    before = draft.updated_at

    CHANGES[change](draft, media, editor)

    draft.refresh_from_db()
    assert draft.status == DraftStatus.DRAFT
    assert draft.updated_by == editor and draft.updated_at > before
    [event] = _sent_back(draft)
    assert (event.old_value, event.new_value, event.actor) == (
        DraftStatus.APPROVED,
        DraftStatus.DRAFT,
        editor,
    )


@pytest.mark.parametrize("status", [DraftStatus.CHANGES_REQUESTED, DraftStatus.PROMOTION_FAILED])
def test_changes_requested_and_failed_publishing_go_back_too(draft, media, agent, status):
    draft = _set_status(draft, status)
    media["photos"][0].update_text(name="Front porch", caption="", by=agent)
    assert Draft.objects.get(pk=draft.pk).status == DraftStatus.DRAFT


def test_a_submitted_draft_stays_submitted_but_records_the_edit(draft, media, office_admin):
    draft = _set_status(draft, DraftStatus.SUBMITTED)
    media["photos"][0].make_primary(by=office_admin)  # already primary: nothing changes
    media["photos"][1].make_primary(by=office_admin)
    draft.refresh_from_db()
    assert draft.status == DraftStatus.SUBMITTED and draft.updated_by == office_admin
    assert not _sent_back(draft)


def test_a_change_that_changes_nothing_leaves_the_draft_alone(draft, media, agent):
    draft = _set_status(draft, DraftStatus.APPROVED)
    photo = media["photos"][0]
    assert photo.update_text(name=photo.name, caption=photo.caption, by=agent) is False
    order = [p.pk for p in media["photos"][:2]]
    Photo.reorder(draft, order, seen_version=MediaOrder.versions(draft).photo_version, by=agent)
    assert Draft.objects.get(pk=draft.pk).status == DraftStatus.APPROVED


@pytest.mark.parametrize("status", [DraftStatus.PROMOTING, DraftStatus.LIVE])
@pytest.mark.parametrize("change", CHANGES)
def test_no_change_reaches_a_draft_being_published_or_live(draft, media, agent, status, change):
    """The views refuse these drafts first; this is the check under the draft's lock, for a
    change that started before publishing did."""
    photos = list(Photo.objects.values_list("pk", "position", "name", "caption", "is_primary", "rotation"))
    documents = list(Document.objects.values_list("pk", "position", "name", "privacy"))
    Draft.objects.filter(pk=draft.pk).update(status=status)  # `draft` in hand still says "draft"
    events = DraftEvent.objects.count()

    with pytest.raises(DraftNotEditable, match="can no longer be changed"):
        CHANGES[change](draft, media, agent)

    assert (
        list(Photo.objects.values_list("pk", "position", "name", "caption", "is_primary", "rotation"))
        == photos
    )
    assert list(Document.objects.values_list("pk", "position", "name", "privacy")) == documents
    assert DraftEvent.objects.count() == events
    assert Draft.objects.get(pk=draft.pk).status == status


# --- Through the views ------------------------------------------------------------------------


def test_renaming_a_photo_sends_an_approved_draft_back(agent_client, draft, media, agent):
    draft = _set_status(draft, DraftStatus.APPROVED)
    photo = media["photos"][0]
    url = reverse("media_manager:photo_update", args=[draft.pk, photo.pk])
    response = agent_client.post(url, {"name": "Front porch", "caption": ""}, **HTMX)
    assert response.status_code == 200 and response.content == b"Saved"
    draft.refresh_from_db()
    assert draft.status == DraftStatus.DRAFT and draft.updated_by == agent
    assert len(_sent_back(draft)) == 1


def test_uploading_a_document_sends_an_approved_draft_back(agent_client, draft, agent, upload_temp_dir):
    draft = _set_status(draft, DraftStatus.APPROVED)
    url = reverse("media_manager:document_upload", args=[draft.pk])
    pdf = upload("Plat.pdf", samples.pdf_plain(), "application/pdf")
    response = agent_client.post(url, {"file": [pdf], "client_key": str(uuid.uuid4())}, **JSON)
    assert response.status_code == 201, response.content
    draft.refresh_from_db()
    assert draft.status == DraftStatus.DRAFT and draft.updated_by == agent
    assert len(_sent_back(draft)) == 1


@pytest.mark.parametrize("status", [DraftStatus.PROMOTING, DraftStatus.LIVE])
def test_a_photo_upload_to_a_draft_being_published_or_live_is_refused_clearly(
    agent_client, draft, status, media_root, upload_temp_dir
):
    draft = _set_status(draft, status)
    before = stored_files(media_root)
    url = reverse("media_manager:photo_upload", args=[draft.pk])
    response = agent_client.post(url, {"file": [upload("porch.jpg", small_jpeg())]}, **JSON)
    assert response.status_code == 403
    assert "can no longer be changed" in response.json()["error"]
    assert not Photo.objects.filter(draft=draft).exists()
    assert stored_files(media_root) == before
    assert list(upload_temp_dir.iterdir()) == []
    # A plain form post gets the page with the reason, not a bare "Forbidden".
    plain = agent_client.post(url, {"file": [upload("porch.jpg", small_jpeg())]})
    assert plain.status_code == 403 and "can no longer be changed" in plain.content.decode()


@pytest.mark.parametrize("status", [DraftStatus.PROMOTING, DraftStatus.LIVE])
def test_a_reorder_of_a_draft_being_published_or_live_is_refused_clearly(agent_client, draft, media, status):
    draft = _set_status(draft, status)
    first, second = media["photos"][:2]
    url = reverse("media_manager:photo_reorder", args=[draft.pk])
    version = MediaOrder.versions(draft).photo_version
    response = agent_client.post(url, {"order": [second.pk, first.pk], "version": version}, **HTMX)
    assert response.status_code == 403
    assert response["X-Media-Refused"] == "not-editable"  # media.js shows it in place
    html = response.content.decode()
    assert 'id="photo-grid"' in html and "can no longer be changed" in html
    assert list(
        Photo.objects.active().filter(draft=draft).order_by("position").values_list("pk", flat=True)
    ) == [
        first.pk,
        second.pk,
    ]
    assert MediaOrder.versions(draft).photo_version == version
    # The same request is accepted once the draft can be edited again (publishing failed).
    _set_status(draft, DraftStatus.PROMOTION_FAILED)
    assert (
        agent_client.post(url, {"order": [second.pk, first.pk], "version": version}, **HTMX).status_code
        == 200
    )
    assert Photo.ordered_ids(draft) == [second.pk, first.pk]


@pytest.mark.parametrize(
    ("answer", "headers", "expected"),
    [
        ("photo-grid", HTMX, 'id="photo-grid"'),
        ("document-list", HTMX, 'id="document-list"'),
        ("photo-upload", JSON, '"error": "Photos and documents can no longer be changed'),
        ("photo-text", HTMX, "Photos and documents can no longer be changed"),
        ("photo-grid", {}, "Photos and documents can no longer be changed: this draft is being published."),
    ],
)
def test_publishing_that_starts_during_a_change_is_a_409_with_the_reason(
    rf, draft, agent, answer, headers, expected
):
    """The model refuses under the draft's lock (DraftNotEditable); the views answer 409 in
    the shape their caller reads. A view raising it stands for the change that lost the race."""

    @media_change(answer)
    def change(request, pk):
        Draft.objects.filter(pk=pk).update(status=DraftStatus.PROMOTING)
        raise DraftNotEditable(Draft.objects.get(pk=pk))

    request = rf.post("/", **headers)
    request.user = agent
    request.htmx = HtmxDetails(request)
    request.session = {}
    request._messages = FallbackStorage(request)
    response = change(request, draft.pk)
    if hasattr(response, "render"):
        response.render()
    assert response.status_code == 409
    assert response["X-Media-Refused"] == "not-editable"
    assert expected in response.content.decode()


def test_a_media_change_reads_and_writes_the_draft_row_once(draft, media, agent):
    """The edit check, the sync mark and the who/when/status bookkeeping share one locked read
    and one UPDATE of the draft's row (a busy grid sends many small changes)."""
    photo = Photo.objects.select_related("draft").get(pk=media["photos"][0].pk)
    with CaptureQueriesContext(connection) as queries:
        photo.update_text(name="Front porch", caption="Sunny", by=agent)
    on_the_draft = [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "drafts_draft"' in q["sql"] or q["sql"].startswith('UPDATE "drafts_draft"')
    ]
    assert len([sql for sql in on_the_draft if sql.startswith("SELECT")]) == 1, on_the_draft
    assert len([sql for sql in on_the_draft if sql.startswith("UPDATE")]) == 1, on_the_draft
    draft.refresh_from_db()
    assert draft.updated_by == agent
