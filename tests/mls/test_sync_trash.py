"""Trash and restore against the sandbox over real HTTP: trashing a draft removes its remote
incomplete listing, restoring it creates a fresh one, and lost answers on the way converge."""

from __future__ import annotations

import pytest

from drafts.models import DraftEvent
from media_manager.models import Document, Photo
from mls import drift, operations, push
from mls.models import DraftSync, RemoteItem, SyncState
from tests.factories import DraftFactory
from tests.mls.sync_support import add_document, add_photo, assert_in_sync, drain

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def draft(agent):
    draft = DraftFactory(list_agent=agent, beds_total=3, baths_total=2, year_built=1984)
    add_photo(draft, by=agent, name="Front", seed=21, caption="From the street")
    add_photo(draft, by=agent, name="Kitchen", seed=22)
    add_document(draft, by=agent, name="Survey", privacy="Public")
    draft.refresh_from_db()
    return draft


def listing_ids(env) -> list[str]:
    return [listing["Id"] for listing in env.control.state()["incomplete_listings"]]


def removed_events(draft) -> int:
    return DraftEvent.objects.filter(
        draft=draft, kind=DraftEvent.Kind.SYNC, note=operations.REMOVED_NOTE
    ).count()


def assert_removed(env, draft, old_remote_id: str) -> None:
    draft.refresh_from_db()
    assert old_remote_id not in listing_ids(env)
    assert draft.remote_id == "" and draft.remote_resource_uri == ""
    assert not RemoteItem.objects.filter(draft=draft).exists()
    assert set(Photo.objects.filter(draft=draft).values_list("remote_id", flat=True)) == {""}
    assert set(Document.objects.filter(draft=draft).values_list("remote_id", flat=True)) == {""}
    row = DraftSync.objects.get(pk=draft.pk)
    assert row.confirmed_seq == 0 and row.confirmed_fields == {} and row.create_marker == ""
    assert row.photo_order == [] and row.document_order == [] and row.primary_photo == ""
    assert row.lease_owner == "" and row.verify_after is None
    assert removed_events(draft) == 1


def test_trashing_removes_the_remote_listing_once(sync_env, draft, agent):
    assert drain(draft)[-1] == push.Outcome.SYNCED
    old = draft.remote_id
    assert old in listing_ids(sync_env)
    seq = draft.change_seq
    draft.move_to_trash(by=agent)
    # Trashing marks the draft for sync (the doorbell rings); the sweep would find it too.
    assert draft.change_seq == seq + 1
    assert draft.pk in push.due_for_sweep().values_list("draft_id", flat=True)
    assert push.sweep() == 1
    assert drain(draft)[-1] == push.Outcome.GONE
    assert_removed(sync_env, draft, old)
    assert sync_env.count("incomplete.delete") == 1
    # Idempotent: neither a second delivery nor the sweep sends anything.
    calls = sync_env.calls()
    assert push.push_draft(draft.pk) == push.Outcome.GONE
    assert push.sweep() == 0
    assert sync_env.calls() == calls
    assert removed_events(draft) == 1


def test_restoring_creates_a_fresh_listing_equal_to_the_draft(sync_env, draft, agent):
    drain(draft)
    old = draft.remote_id
    old_marker = DraftSync.objects.get(pk=draft.pk).create_marker
    draft.move_to_trash(by=agent)
    drain(draft)
    seq = draft.change_seq
    draft.restore_from_trash(by=agent)
    # Restoring marks the draft for sync too, and the emptied confirmed state keeps it due.
    assert draft.change_seq == seq + 1
    assert push.sweep() == 1
    assert drain(draft)[-1] == push.Outcome.SYNCED
    assert_in_sync(sync_env, draft)
    assert draft.remote_id and draft.remote_id != old
    assert listing_ids(sync_env) == [draft.remote_id]
    assert DraftSync.objects.get(pk=draft.pk).create_marker not in ("", old_marker)
    assert sync_env.count("incomplete.create") == 2
    assert sync_env.count("uploads.photo") == 4 and sync_env.count("uploads.document") == 2
    # Edits after the restore go to the new listing.
    draft.save_field("city", "Moorhead", by=agent, seen_version=draft.version, seen_value="Fargo")
    drain(draft)
    assert_in_sync(sync_env, draft)


def test_a_lost_answer_to_the_delete_still_converges(sync_env, draft, agent):
    drain(draft)
    old = draft.remote_id
    sync_env.control.faults({"kind": "drop_after_apply", "routes": ["incomplete.delete"], "times": 1})
    draft.move_to_trash(by=agent)
    assert push.push_draft(draft.pk) == push.Outcome.RETRY
    # The delete landed but we do not know it: the mapping stays until a delete is confirmed.
    assert old not in listing_ids(sync_env)
    draft.refresh_from_db()
    assert draft.remote_id == old
    assert drain(draft)[-1] == push.Outcome.GONE
    assert sync_env.count("incomplete.delete") == 2  # the second one answered 404: gone
    assert_removed(sync_env, draft, old)
    draft.restore_from_trash(by=agent)
    drain(draft)
    assert_in_sync(sync_env, draft)
    assert listing_ids(sync_env) == [draft.remote_id]


def test_restored_before_a_lost_delete_was_settled_waits_for_a_person(sync_env, draft, agent):
    """The delete landed, its answer was lost, and the draft came back before the retry: the
    read-back finds the listing gone and asks, as for any listing that vanished."""
    drain(draft)
    sync_env.control.faults({"kind": "drop_after_apply", "routes": ["incomplete.delete"], "times": 1})
    draft.move_to_trash(by=agent)
    assert push.push_draft(draft.pk) == push.Outcome.RETRY
    draft.restore_from_trash(by=agent)
    assert push.Outcome.PAUSED in drain(draft, timeout=30)
    row = DraftSync.objects.get(pk=draft.pk)
    assert row.state == SyncState.DRIFT and row.drift_remote == {"listing": drift.LISTING_GONE}
    assert drift.resolve_drift(draft, keep="portal", by=agent)
    drain(draft)
    assert_in_sync(sync_env, draft)
    assert listing_ids(sync_env) == [draft.remote_id]


def test_a_listing_a_lost_create_made_is_found_and_removed(sync_env, draft, agent):
    sync_env.control.faults({"kind": "drop_after_apply", "routes": ["incomplete.create"], "times": 1})
    assert push.push_draft(draft.pk) == push.Outcome.RETRY
    assert len(listing_ids(sync_env)) == 1
    draft.move_to_trash(by=agent)
    assert drain(draft)[-1] == push.Outcome.GONE
    assert listing_ids(sync_env) == []
    assert sync_env.count("incomplete.create") == 1 and sync_env.count("incomplete.delete") == 1
    assert DraftSync.objects.get(pk=draft.pk).create_sent_at is None


def test_a_draft_trashed_before_its_first_push_makes_no_call(sync_env, draft, agent):
    draft.move_to_trash(by=agent)
    assert push.push_draft(draft.pk) == push.Outcome.GONE
    assert push.sweep() == 0
    assert sync_env.calls() == 0
