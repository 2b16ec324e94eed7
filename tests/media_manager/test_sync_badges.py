"""Sync badges on the media page: each photo and document shows what the MLS has of it.

The remote's mirror (mls.models RemoteItem / DraftSync) is set up directly as rows: that is
the data the badges read, not a stand-in for the sync engine.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from media_manager.models import DocumentPrivacy, Photo
from mls.models import DraftSync, ItemKind, RemoteItem, SyncState
from tests.factories import DocumentFactory, PhotoFactory
from tests.media_manager.media_helpers import mark_processed

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _synced(photo: Photo, remote_id: str) -> RemoteItem:
    return RemoteItem.objects.create(
        draft=photo.draft,
        kind=ItemKind.PHOTO,
        local_id=photo.pk,
        remote_id=remote_id,
        name=photo.name,
        caption=photo.caption,
        content_sha256=photo.sha256,
        confirmed_at=timezone.now(),
    )


def _badge(html: str, kind: str, pk: int) -> str:
    """The text of one item's badge (its label and the remote's reason)."""
    found = re.search(
        rf'id="sync-{kind}-{pk}"[^>]*>([^<]*(?:<span class="visually-hidden">[^<]*</span>)?)</span>', html
    )
    assert found, f"no badge for {kind} {pk}"
    return re.sub(r"<[^>]+>", "", found.group(1))


@pytest.fixture
def photos(draft, agent):
    """A synced photo, one waiting to be sent, one the MLS refused, one still processing."""
    synced, waiting, refused, processing = (
        PhotoFactory(draft=draft, by=agent, original_name=name)
        for name in ("front.jpg", "yard.jpg", "attic.jpg", "new.jpg")
    )
    for photo in (synced, waiting, refused):
        mark_processed(photo)
    synced.refresh_from_db()
    _synced(synced, "20240101000000000001000000")
    RemoteItem.objects.create(
        draft=draft,
        kind=ItemKind.PHOTO,
        local_id=refused.pk,
        failed_seq=draft.change_seq + 100,
        error_message="Photo too dark",
        error_code=1053,
        error_at=timezone.now(),
    )
    return {"synced": synced, "waiting": waiting, "refused": refused, "processing": processing}


def test_each_photo_card_shows_its_sync_state(agent_client, draft, photos):
    page = agent_client.get(reverse("media_manager:draft_media", args=[draft.pk])).content.decode()
    assert _badge(page, "photo", photos["synced"].pk) == "In the MLS"
    assert _badge(page, "photo", photos["waiting"].pk) == "Waiting to sync"
    assert _badge(page, "photo", photos["refused"].pk) == "Not accepted by the MLS: Photo too dark"
    assert 'title="Photo too dark"' in page
    assert _badge(page, "photo", photos["processing"].pk) == "Not sent yet: processing"


def test_the_partial_grid_keeps_the_badges(agent_client, draft, photos):
    grid = agent_client.get(reverse("media_manager:photo_grid", args=[draft.pk]), **HTMX).content.decode()
    assert _badge(grid, "photo", photos["synced"].pk) == "In the MLS"
    assert _badge(grid, "photo", photos["refused"].pk) == "Not accepted by the MLS: Photo too dark"
    # After a change answered with the grid (htmx), too: the renamed photo waits to be sent.
    move = reverse("media_manager:photo_move", args=[draft.pk, photos["synced"].pk])
    region = agent_client.post(move, {"direction": "later"}, **HTMX).content.decode()
    assert _badge(region, "photo", photos["synced"].pk) == "In the MLS"
    assert _badge(region, "photo", photos["waiting"].pk) == "Waiting to sync"


def test_the_regions_poll_for_badges_only_while_a_push_is_due(agent_client, draft, agent):
    photo = mark_processed(PhotoFactory(draft=draft, by=agent, original_name="front.jpg"))
    _synced(photo, "20240101000000000001000000")
    draft.refresh_from_db()
    DraftSync.objects.create(
        draft=draft, state=SyncState.SYNCED, confirmed_seq=draft.change_seq, last_synced_at=timezone.now()
    )
    grid_url = reverse("media_manager:photo_grid", args=[draft.pk])
    documents_url = reverse("media_manager:document_list", args=[draft.pk])
    assert "every 10s" not in agent_client.get(grid_url, **HTMX).content.decode()
    assert "every 10s" not in agent_client.get(documents_url, **HTMX).content.decode()
    # A change was just made: the region answered polls, so its badges move on as the push lands.
    rename = reverse(
        "media_manager:document_update",
        args=[draft.pk, DocumentFactory(draft=draft, by=agent, stored=True).pk],
    )
    region = agent_client.post(rename, {"name": "Survey 2", "privacy": "Private"}, **HTMX)
    assert "every 10s" in region.content.decode()
    # And while the draft has changes the MLS has not confirmed yet.
    assert "every 10s" in agent_client.get(grid_url, **HTMX).content.decode()
    assert "every 10s" in agent_client.get(documents_url, **HTMX).content.decode()


def test_a_photo_changed_since_the_mls_confirmed_it_waits_to_sync(agent_client, draft, photos, agent):
    photos["synced"].update_text(name="Front porch", caption="", by=agent)
    grid = agent_client.get(reverse("media_manager:photo_grid", args=[draft.pk]), **HTMX).content.decode()
    assert _badge(grid, "photo", photos["synced"].pk) == "Waiting to sync"


def test_a_photo_being_sent_shows_it(agent_client, draft, photos):
    RemoteItem.objects.create(
        draft=draft,
        kind=ItemKind.PHOTO,
        local_id=photos["waiting"].pk,
        sending=True,
        sending_since=timezone.now(),
    )
    grid = agent_client.get(reverse("media_manager:photo_grid", args=[draft.pk]), **HTMX).content.decode()
    assert _badge(grid, "photo", photos["waiting"].pk) == "Sending…"


def test_a_trashed_photo_still_in_the_mls_is_being_removed(agent_client, draft, photos, agent):
    photos["synced"].move_to_trash(by=agent)
    grid = agent_client.get(reverse("media_manager:photo_grid", args=[draft.pk]), **HTMX).content.decode()
    trash = grid[grid.index('class="trash"') :]
    assert _badge(trash, "photo", photos["synced"].pk) == "Removing from the MLS"


def test_each_document_row_shows_its_sync_state(agent_client, draft, agent):
    synced = DocumentFactory(draft=draft, by=agent, name="Survey", stored=True)
    waiting = DocumentFactory(draft=draft, by=agent, name="Floor plan", stored=True)
    refused = DocumentFactory(draft=draft, by=agent, name="Inspection", stored=True)
    RemoteItem.objects.create(
        draft=draft,
        kind=ItemKind.DOCUMENT,
        local_id=synced.pk,
        remote_id="20240101000000000002000000",
        name=synced.name,
        privacy=synced.privacy,
        content_sha256=synced.sha256,
    )
    RemoteItem.objects.create(
        draft=draft,
        kind=ItemKind.DOCUMENT,
        local_id=refused.pk,
        failed_seq=draft.change_seq + 100,
        error_message="The PDF is password protected",
    )
    page = agent_client.get(reverse("media_manager:draft_media", args=[draft.pk])).content.decode()
    assert _badge(page, "document", synced.pk) == "In the MLS"
    assert _badge(page, "document", waiting.pk) == "Waiting to sync"
    assert _badge(page, "document", refused.pk) == "Not accepted by the MLS: The PDF is password protected"
    # A privacy change the MLS has not confirmed yet, through the htmx region.
    url = reverse("media_manager:document_update", args=[draft.pk, synced.pk])
    region = agent_client.post(
        url, {"name": "Survey", "privacy": DocumentPrivacy.PUBLIC}, **HTMX
    ).content.decode()
    assert _badge(region, "document", synced.pk) == "Waiting to sync"
    listing = agent_client.get(
        reverse("media_manager:document_list", args=[draft.pk]), **HTMX
    ).content.decode()
    assert _badge(listing, "document", refused.pk).startswith("Not accepted by the MLS")


def test_the_page_shows_when_the_draft_needs_attention(agent_client, draft, photos):
    DraftSync.objects.create(
        draft=draft, state=SyncState.ATTENTION, error_message="Two photos in the MLS match one upload"
    )
    page = agent_client.get(reverse("media_manager:draft_media", args=[draft.pk])).content.decode()
    assert "Needs attention" in page and "Two photos in the MLS match one upload" in page


def _count_queries(client, url, **headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, **headers).status_code == 200
    return len(queries)


def test_badges_cost_one_query_however_many_items(agent_client, draft, agent):
    """The mirror is read once per response: more photos and documents, no more queries."""
    page_url = reverse("media_manager:draft_media", args=[draft.pk])
    grid_url = reverse("media_manager:photo_grid", args=[draft.pk])
    documents_url = reverse("media_manager:document_list", args=[draft.pk])

    def grow(count: int) -> None:
        for index in range(count):
            photo = mark_processed(PhotoFactory(draft=draft, by=agent, original_name=f"p{index}.jpg"))
            _synced(photo, f"2024010100000000000{index:07d}")
            document = DocumentFactory(draft=draft, by=agent, name=f"Doc {index} {photo.pk}", stored=True)
            RemoteItem.objects.create(
                draft=draft, kind=ItemKind.DOCUMENT, local_id=document.pk, remote_id=f"d{document.pk}"
            )

    grow(2)
    few = [_count_queries(agent_client, url, **HTMX) for url in (grid_url, documents_url)]
    few_page = _count_queries(agent_client, page_url)
    grow(12)
    many = [_count_queries(agent_client, url, **HTMX) for url in (grid_url, documents_url)]
    assert many == few
    assert _count_queries(agent_client, page_url) == few_page
