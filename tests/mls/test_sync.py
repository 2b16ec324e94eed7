"""The sync engine against the sandbox over real HTTP (the live server): what it sends, that a
second push sends nothing, and that every fault kind ends with remote == local, no duplicates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from drafts.models import Draft, DraftEvent, DraftStatus
from media_manager.models import Document, Photo
from mls import operations, planner, push, remote, state
from mls.models import DraftSync, RemoteCall, RemoteItem, SyncState
from sandbox.models import Listing as SandboxListing
from spark.client import ListingRef
from tests.factories import DraftFactory
from tests.mls.sync_support import (
    add_document,
    add_photo,
    assert_in_sync,
    drain,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def full_draft(agent):
    draft = DraftFactory(list_agent=agent, beds_total=3, baths_total=2, year_built=1984)
    add_photo(draft, by=agent, name="Front", seed=1, caption="From the street")
    add_photo(draft, by=agent, name="Kitchen", seed=2)
    add_photo(draft, by=agent, name="Yard", seed=3)
    add_document(draft, by=agent, name="Floor Plan", privacy="Public")
    add_document(draft, by=agent, name="Survey", privacy="Private")
    draft.refresh_from_db()
    return draft


def test_a_draft_is_created_with_its_photos_and_documents(sync_env, full_draft):
    assert drain(full_draft)[-1] == push.Outcome.SYNCED
    assert_in_sync(sync_env, full_draft)
    listing = sync_env.remote(full_draft)
    marker = DraftSync.objects.get(pk=full_draft.pk).create_marker
    assert listing["CustomFields"][operations.MARKER_GROUP][operations.MARKER_FIELD] == marker
    # Three uploads appended in order need no reorder; the first photo is primary by itself.
    assert sync_env.count("incomplete.create") == 1
    assert sync_env.count("uploads.photo") == 3
    assert sync_env.count("uploads.document") == 2
    assert sync_env.count("photos.reorder") == 0
    assert sync_env.count("photos.update") == 0
    # Each call is in the sync log, with its status.
    logged = RemoteCall.objects.filter(draft=full_draft)
    assert logged.count() == sync_env.calls()
    assert set(logged.values_list("status", flat=True)) <= {200, 201}
    # The media rows know their remote ids; history notes the creation.
    assert all(Photo.objects.filter(draft=full_draft).values_list("remote_id", flat=True))
    assert DraftEvent.objects.filter(draft=full_draft, kind=DraftEvent.Kind.SYNC).exists()


def test_a_second_push_makes_no_call(sync_env, full_draft):
    drain(full_draft)
    before = sync_env.calls()
    logged = RemoteCall.objects.count()
    assert push.push_draft(full_draft.pk) == push.Outcome.NOTHING
    # Even when forced to look (a duplicate delivery after a change was confirmed).
    DraftSync.objects.filter(pk=full_draft.pk).update(confirmed_seq=0)
    assert push.push_draft(full_draft.pk) == push.Outcome.SYNCED
    assert sync_env.calls() == before
    assert RemoteCall.objects.count() == logged


def test_a_first_push_makes_the_sync_row_and_a_missing_draft_is_gone(sync_env, agent):
    draft = DraftFactory(list_agent=agent)
    assert not DraftSync.objects.filter(pk=draft.pk).exists()
    assert push.push_draft(draft.pk) == push.Outcome.SYNCED
    assert DraftSync.objects.get(pk=draft.pk).state == SyncState.SYNCED
    calls = sync_env.calls()
    missing = draft.pk + 1000
    assert push.push_draft(missing) == push.Outcome.GONE
    assert not DraftSync.objects.filter(pk=missing).exists()
    assert sync_env.calls() == calls


def test_a_field_update_sends_only_the_changed_fields(sync_env, full_draft, agent):
    drain(full_draft)
    # Someone changes City in the MLS; the portal then changes only the price.
    listing = SandboxListing.objects.get(spark_id=full_draft.remote_id)
    listing.fields = {**listing.fields, "City": "Moorhead"}
    listing.save()
    full_draft.save_field(
        "list_price", "265000", by=agent, seen_version=full_draft.version, seen_value="250000"
    )
    drain(full_draft)
    remote = sync_env.remote(full_draft)
    assert remote["StandardFields"]["ListPrice"] == 265000
    assert remote["StandardFields"]["City"] == "Moorhead"  # not overwritten: not sent
    assert sync_env.count("incomplete.update") == 1
    last = RemoteCall.objects.filter(draft=full_draft, route="incomplete.update").get()
    assert last.purpose == "UpdateFields ListPrice"


def test_order_primary_names_privacy_and_trash_reach_the_remote(sync_env, full_draft, agent):
    drain(full_draft)
    photos = list(Photo.objects.filter(draft=full_draft).order_by("position"))
    documents = list(Document.objects.filter(draft=full_draft).order_by("position"))
    Photo.reorder(full_draft, [photos[2].pk, photos[0].pk, photos[1].pk], seen_version=4, by=agent)
    photos[1].make_primary(by=agent)
    photos[2].update_text(name="Back yard", caption="South facing", by=agent)
    documents[1].update(name="Survey 2026", privacy="Public", by=agent)
    Document.reorder(full_draft, [documents[1].pk, documents[0].pk], seen_version=3, by=agent)
    drain(full_draft)
    assert_in_sync(sync_env, full_draft)
    assert sync_env.count("photos.reorder") == 1
    assert sync_env.count("documents.reorder") == 1
    # Trash one photo (the primary) and restore nothing: deleted remotely, primary follows.
    photos[1].move_to_trash(by=agent)
    add_photo(full_draft, by=agent, name="Garage", seed=4)
    drain(full_draft)
    assert_in_sync(sync_env, full_draft)
    assert sync_env.count("photos.delete") == 1


def test_a_replaced_picture_is_replaced_in_place(sync_env, full_draft, agent):
    from tests.mls.sync_support import finish_processing

    drain(full_draft)
    photo = Photo.objects.filter(draft=full_draft).order_by("position")[1]
    old_remote = photo.remote_id
    photo.rotate(1, by=agent)
    finish_processing(photo, seed=77)
    drain(full_draft)
    assert_in_sync(sync_env, full_draft)
    assert sync_env.count("photos.replace") == 1
    photo.refresh_from_db()
    assert photo.remote_id and photo.remote_id != old_remote


# --- Faults: each ends with remote == local and no duplicates ----------------------------------

FAULTS = {
    "server_error_500": {"kind": "server_error", "status": 500},
    "server_error_502": {"kind": "server_error", "status": 502},
    "server_error_503": {"kind": "server_error", "status": 503},
    "server_error_504_html": {"kind": "server_error", "status": 504, "envelope": False},
    "rate_limit_429": {"kind": "rate_limit", "status": 429, "retry_after": 1},
    "rate_limit_503_date": {"kind": "rate_limit", "status": 503, "retry_after_date_in": 1},
    "rate_limit_no_header": {"kind": "rate_limit", "status": 503, "retry_after": None},
    "token_expired": {"kind": "token_expired"},
    "hang": {"kind": "hang", "hang_seconds": 2.5},
    "drop_after_apply": {"kind": "drop_after_apply"},
    "trickle": {"kind": "trickle", "trickle_interval": 1.5, "trickle_bytes": 2},
}
ROUTES = ["incomplete.create", "uploads.photo", "uploads.document", "photos.reorder", "photos.update"]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_fault_kind_ends_in_sync_without_duplicates(sync_env, full_draft, agent, fault):
    rule = {**FAULTS[fault], "routes": ROUTES, "times": 3, "probability": 1.0}
    sync_env.control.faults(rule, seed=7)
    # Reorder and move the primary before the first push, so order and primary calls are faulted too.
    photos = list(Photo.objects.filter(draft=full_draft).order_by("position"))
    Photo.reorder(full_draft, [photos[1].pk, photos[2].pk, photos[0].pk], seen_version=4, by=agent)
    photos[2].make_primary(by=agent)
    drain(full_draft, timeout=60)
    assert_in_sync(sync_env, full_draft)
    state = sync_env.control.state()["incomplete_listings"]
    assert len(state) == 1, "a duplicate listing"
    assert len(state[0]["Photos"]) == 3 and len(state[0]["Documents"]) == 2
    assert sum(rule["injected"] for rule in sync_env.fault_rules()) >= 1
    assert RemoteItem.objects.filter(draft=full_draft, sending=True).count() == 0


def test_a_lost_create_is_adopted_not_repeated(sync_env, full_draft):
    sync_env.control.faults({"kind": "drop_after_apply", "routes": ["incomplete.create"], "times": 1})
    assert push.push_draft(full_draft.pk) == push.Outcome.RETRY
    assert DraftSync.objects.get(pk=full_draft.pk).create_sent_at is not None
    drain(full_draft)
    assert sync_env.count("incomplete.create") == 1
    assert len(sync_env.control.state()["incomplete_listings"]) == 1
    assert_in_sync(sync_env, full_draft)


def test_a_hung_create_that_lands_late_is_adopted(sync_env, full_draft):
    # The create sleeps longer than our read timeout, then applies: we must not create twice.
    sync_env.control.faults(
        {"kind": "hang", "hang_seconds": 2.5, "routes": ["incomplete.create"], "times": 1}
    )
    drain(full_draft, timeout=60)
    assert sync_env.count("incomplete.create") == 1
    assert len(sync_env.control.state()["incomplete_listings"]) == 1
    assert_in_sync(sync_env, full_draft)


def test_a_lost_upload_reply_is_settled_with_the_same_ticket(sync_env, full_draft):
    sync_env.control.faults({"kind": "hang", "hang_seconds": 2.5, "routes": ["uploads.photo"], "times": 1})
    drain(full_draft, timeout=60)
    assert_in_sync(sync_env, full_draft)
    # One ticket per item, taken before the first upload: the hung upload and its retry shared
    # one single-use ticket (one of them was refused), and the uploads the hang cut off kept
    # theirs for the next push.
    assert sync_env.count("tickets.create") == 3 + 2


def test_a_runs_later_tickets_are_asked_for_together_and_logged(sync_env, full_draft):
    # Every ticket answers after 0.4 s. The first is asked for alone; the other four at once,
    # from helper threads, each still logged to the draft's sync log.
    sync_env.control.faults({"kind": "hang", "hang_seconds": 0.4, "routes": ["tickets.create"]})
    drain(full_draft, timeout=60)
    assert_in_sync(sync_env, full_draft)
    assert sync_env.count("tickets.create") == 5
    logged = RemoteCall.objects.filter(draft=full_draft, route="tickets.create", status=201)
    spans = sorted((call.at - dt.timedelta(milliseconds=call.duration_ms), call.at) for call in logged)
    assert len(spans) == 5
    first, together = spans[0], spans[1:]
    assert first[1] <= min(start for start, _end in together)  # the first came back before the rest left
    assert max(start for start, _end in together) < min(
        end for _start, end in together
    )  # all in flight at once
    assert {call.worker for call in logged} == {RemoteCall.objects.filter(draft=full_draft).first().worker}


@dataclass
class UploadRun:
    """A push claimed by hand and planned, stopped before the uploads of two new photos."""

    pusher: push.Pusher
    draft: Draft
    porch: Photo
    garage: Photo
    uploads: list  # the plan's ops from the first upload on
    seq: int

    def send(self, index: int) -> None:
        context = operations.PushContext(
            self.seq, ListingRef.for_incomplete(self.draft.remote_id), self.uploads[index + 1 :]
        )
        self.pusher._execute(self.uploads[index], self.draft, context)


def two_new_photos_to_upload(draft: Draft, agent) -> UploadRun:
    drain(draft)
    porch = add_photo(draft, by=agent, name="Porch", seed=21)
    garage = add_photo(draft, by=agent, name="Garage", seed=22)
    draft = Draft.objects.get(pk=draft.pk)
    pusher = push.Pusher(draft.pk)
    assert pusher.claim()
    pusher.row = DraftSync.objects.get(pk=draft.pk)
    local = state.local_state(draft)
    the_plan = planner.plan(local, state.mirror_state(draft, pusher.row), state.timing())
    first = next(i for i, op in enumerate(the_plan.ops) if isinstance(op, planner.Upload))
    uploads = the_plan.ops[first:]
    assert [op.local_id for op in uploads[:2]] == [porch.pk, garage.pk]
    return UploadRun(pusher, draft, porch, garage, uploads, local.seq)


def test_a_run_of_uploads_cut_off_by_a_crash_is_finished_once(sync_env, full_draft, agent):
    """A run of uploads takes its tickets and commits all its intents before the first bytes
    leave; each upload's remote id is recorded at once, the order they make at the run's end.
    A worker that dies after the first upload leaves a confirmed item the order does not know
    yet, and an intent for bytes that never left: the next push sends that one once, with its
    kept ticket, puts both in place and copies their remote ids onto the photos."""
    run = two_new_photos_to_upload(full_draft, agent)
    draft, porch, garage = run.draft, run.porch, run.garage
    order_before = list(run.pusher.row.photo_order)
    tickets, uploads = sync_env.count("tickets.create"), sync_env.count("uploads.photo")
    run.send(0)
    assert sync_env.count("tickets.create") == tickets + 2  # the run's two, before any upload
    assert sync_env.count("uploads.photo") == uploads + 1
    sent = RemoteItem.objects.get(draft_id=draft.pk, kind="photo", local_id=porch.pk)
    assert sent.remote_id and not sent.sending  # recorded at once
    prepared = RemoteItem.objects.get(draft_id=draft.pk, kind="photo", local_id=garage.pk)
    assert prepared.sending and prepared.ticket_usable and not prepared.remote_id
    assert DraftSync.objects.get(pk=draft.pk).photo_order == order_before  # the run's end not reached
    assert Photo.objects.get(pk=porch.pk).remote_id == ""
    run.pusher.release()  # the worker dies here; its lease is given up

    assert drain(draft)[-1] == push.Outcome.SYNCED
    assert_in_sync(sync_env, draft)  # one Porch and one Garage in the MLS, in their places
    assert sync_env.count("tickets.create") == tickets + 2  # the kept ticket was used
    assert sync_env.count("uploads.photo") == uploads + 2  # each photo sent once
    garage_row = RemoteItem.objects.get(pk=prepared.pk)
    assert garage_row.remote_id
    assert DraftSync.objects.get(pk=draft.pk).photo_order[-2:] == [sent.remote_id, garage_row.remote_id]
    assert Photo.objects.get(pk=porch.pk).remote_id == sent.remote_id  # the copy healed
    assert Photo.objects.get(pk=garage.pk).remote_id == garage_row.remote_id


def test_a_later_ticket_refused_ends_the_run_before_it_and_a_rate_limit_holds_every_worker(
    sync_env, full_draft, agent
):
    run = two_new_photos_to_upload(full_draft, agent)
    ref = ListingRef.for_incomplete(run.draft.remote_id)
    kept = RemoteItem(draft_id=run.draft.pk, kind="photo", local_id=run.porch.pk)
    kept.keep_ticket(remote.upload_ticket("photo", ref))
    run.pusher.items[("photo", run.porch.pk)] = kept
    sync_env.control.faults(
        {"kind": "rate_limit", "status": 429, "retry_after": 3, "routes": ["tickets.create"], "times": 1}
    )
    tickets = sync_env.count("tickets.create")
    prepared = run.pusher.uploads.prepare(run.uploads[0], ref, tuple(run.uploads[1:]))
    # The porch goes with its kept ticket; the garage's was refused, so the run stops before it.
    assert [(row.local_id, ticket.token) for row, _op, ticket in prepared] == [
        (run.porch.pk, kept.ticket_token)
    ]
    assert sync_env.count("tickets.create") == tickets + 1
    wait, _taken = remote.limiter().try_take()
    assert wait > 1.0  # the shared bucket holds every worker for the remote's Retry-After
    run.pusher.release()
    sync_env.control.clear_faults()
    drain(run.draft, timeout=30)
    assert_in_sync(sync_env, run.draft)


def test_an_upload_whose_ticket_ran_out_during_its_run_takes_a_new_one(sync_env, full_draft, agent):
    from django.utils import timezone

    run = two_new_photos_to_upload(full_draft, agent)
    draft, porch, garage = run.draft, run.porch, run.garage
    tickets, uploads = sync_env.count("tickets.create"), sync_env.count("uploads.photo")
    run.send(0)
    soon = timezone.now() + dt.timedelta(seconds=30)
    run.pusher.uploads.prepared[("photo", garage.pk)].ticket_expires_at = soon
    run.send(1)  # its ticket is now too close to its end to be used
    assert sync_env.count("tickets.create") == tickets + 3  # the run's two, and a fresh one
    assert sync_env.count("uploads.photo") == uploads + 2
    row = RemoteItem.objects.get(draft_id=draft.pk, kind="photo", local_id=garage.pk)
    assert row.remote_id and not row.sending
    run.pusher.release()
    assert drain(draft)[-1] == push.Outcome.SYNCED
    assert_in_sync(sync_env, draft)
    assert RemoteItem.objects.get(draft_id=draft.pk, kind="photo", local_id=porch.pk).remote_id


def test_two_candidates_for_a_lost_upload_need_attention(sync_env, full_draft, agent):
    drain(full_draft)
    photo = add_photo(full_draft, by=agent, name="Porch", seed=9)
    # The upload lands but its answer is lost; someone also added a look-alike in the MLS.
    sync_env.control.faults({"kind": "drop_after_apply", "routes": ["uploads.photo"], "times": 1})
    assert push.push_draft(full_draft.pk) == push.Outcome.RETRY
    api = remote.client()
    api.upload_photo(
        ListingRef.for_incomplete(full_draft.remote_id), photo.master.read(), file_name="x.jpg", name="Porch"
    )
    assert drain(full_draft)[-1] == push.Outcome.ATTENTION
    row = DraftSync.objects.get(pk=full_draft.pk)
    assert row.state == SyncState.ATTENTION and "could be it" in row.error_message


# --- Promotion owns the remote ---------------------------------------------------------------


@pytest.mark.parametrize("status", [DraftStatus.PROMOTING, DraftStatus.LIVE])
def test_a_draft_being_published_or_live_is_never_pushed(sync_env, full_draft, agent, status):
    drain(full_draft)
    full_draft.save_field("city", "Moorhead", by=agent, seen_version=full_draft.version, seen_value="Fargo")
    Draft.objects.filter(pk=full_draft.pk).update(status=status)
    row = DraftSync.objects.get(pk=full_draft.pk)
    assert row.confirmed_seq < Draft.objects.get(pk=full_draft.pk).change_seq
    calls = sync_env.calls()
    assert push.push_draft(full_draft.pk) == push.Outcome.NOTHING
    assert push.sweep() == 0
    # A worker that looked before the promotion began cannot claim it either.
    assert push.Pusher(full_draft.pk).claim() is False
    assert sync_env.calls() == calls
    assert DraftSync.objects.get(pk=full_draft.pk).lease_owner == ""
    # The sweep still queues everyone else.
    DraftFactory(list_agent=agent)
    assert push.sweep() == 1


def test_local_state_reads_the_media_again_only_once_the_draft_changed(sync_env, full_draft, agent):
    """A push re-plans after every call; the media are re-read only when change_seq moved
    (every media edit moves it in its own transaction)."""
    first = state.local_state(Draft.objects.get(pk=full_draft.pk))
    again = state.local_state(Draft.objects.get(pk=full_draft.pk), first)
    assert again.photos is first.photos and again.documents is first.documents
    photo = Photo.objects.filter(draft=full_draft).order_by("position").first()
    assert photo.update_text(name="Front porch", caption=photo.caption, by=agent)
    after = state.local_state(Draft.objects.get(pk=full_draft.pk), again)
    assert after.seq > again.seq
    assert after.photos[0].name == "Front porch"


def test_a_push_reads_the_whole_draft_again_only_once_someone_edited_it(sync_env, full_draft, agent):
    """Each pass of a push starts from the draft; while its version and change_seq stand, the
    instance read before is reused, with the remote id (written by the push) read afresh."""
    pusher = push.Pusher(full_draft.pk)
    first = pusher._read_draft(None)
    Draft.objects.filter(pk=full_draft.pk).update(remote_id="20261123000000000001000000")
    again = pusher._read_draft(first)
    assert again is first
    assert again.remote_id == "20261123000000000001000000"
    full_draft.save_field(
        "list_price", "315000", by=agent, seen_version=full_draft.version, seen_value=full_draft.list_price
    )
    edited = pusher._read_draft(again)
    assert edited is not again
    assert edited.list_price == 315000
    assert edited.remote_id == "20261123000000000001000000"
    full_draft.refresh_from_db()
    full_draft.move_to_trash(by=agent)
    assert pusher._read_draft(edited).is_deleted


def test_the_pass_after_a_create_plans_the_uploads_without_reading_again(sync_env, full_draft):
    """The pass that creates the listing keeps the draft and the sync row current itself (a
    create writes no mirror row): the uploads are planned from there; the last pass reads
    everything afresh before the draft is called synced."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert push.push_draft(full_draft.pk) == push.Outcome.SYNCED
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    mirror_reads = [sql for sql in selects if 'FROM "mls_remoteitem"' in sql and "UPDATE" not in sql]
    sync_row_reads = [sql for sql in selects if sql.count('"mls_draftsync"."drift_decision"')]
    assert len(mirror_reads) == 2  # the create pass and the last one
    assert len(sync_row_reads) == 2
    assert sync_env.count("incomplete.create") == 1
    assert_in_sync(sync_env, full_draft)


def test_a_lease_left_behind_is_taken_over_and_the_remote_read_back(sync_env, full_draft, agent):
    """A worker killed mid-call can leave a write in flight that lands after the next push
    confirmed otherwise (a privacy, a caption, a field: no intent is recorded for those). The
    worker that takes over its lease reads the remote back once such a write can no longer
    land, and puts right what differs."""
    from django.utils import timezone

    drain(full_draft)
    draft = Draft.objects.get(pk=full_draft.pk)
    survey = Document.objects.get(draft=draft, name="Survey")
    assert survey.privacy == "Private"
    # The dead worker was pushing a price change; its earlier privacy write lands late.
    draft.save_field(
        "list_price", "312000", by=agent, seen_version=draft.version, seen_value=draft.list_price
    )
    remote.client().set_document_privacy(
        ListingRef.for_incomplete(draft.remote_id), survey.remote_id, "Public"
    )
    DraftSync.objects.filter(pk=draft.pk).update(
        lease_owner="gone-worker",
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1),
        state=SyncState.SYNCING,
    )
    reads = sync_env.count("incomplete.get")
    drain(draft, timeout=30)
    assert sync_env.count("incomplete.get") > reads  # read back after the settle window
    assert_in_sync(sync_env, draft)  # the survey is private again in the MLS
    assert DraftSync.objects.get(pk=draft.pk).verify_after is None
