"""Refusals, give-up, retry and drift against the sandbox over real HTTP.

docs/reliability.md#j6-rate-limits, docs/reliability.md#j8-permanent-and-auth-errors,
docs/reliability.md#j9-give-up-is-visible
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.core.files.storage import default_storage
from django.db import OperationalError
from django.template import Context, Template
from django.utils import timezone

from drafts.models import Draft, DraftEvent, DraftStatus
from media_manager.models import Photo
from mls import drift, failures, push, remote
from mls.models import DraftSync, RemoteItem, SyncState
from sandbox.models import Listing as SandboxListing
from sandbox.models import Photo as SandboxPhoto
from tests.factories import DraftFactory
from tests.mls.sync_support import (
    add_document,
    add_photo,
    assert_in_sync,
    drain,
)

pytestmark = pytest.mark.django_db(transaction=True)


# The MLS refuses the next photo upload, for good (a listing-rule error).
ONE_PHOTO_TOO_DARK = {
    "kind": "error",
    "status": 400,
    "code": 1053,
    "message": "Photo too dark",
    "routes": ["uploads.photo"],
    "times": 1,
}


@pytest.fixture
def draft(agent):
    draft = DraftFactory(list_agent=agent, beds_total=3, baths_total=2, year_built=1990)
    add_photo(draft, by=agent, name="Front", seed=11)
    add_photo(draft, by=agent, name="Back", seed=12)
    add_document(draft, by=agent, name="Survey")
    draft.refresh_from_db()
    return draft


def render(text: str, **context) -> str:
    return Template("{% load sync %}" + text).render(Context(context))


def test_a_field_the_mls_refuses_is_shown_next_to_the_field_and_not_retried(sync_env, draft, agent):
    drain(draft)
    long_name = "Northwest Industrial Park Access Road Frontage East"  # 51 > the MLS's 50
    draft.save_field("street_name", long_name, by=agent, seen_version=draft.version, seen_value="8th")
    assert drain(draft)[-1] == push.Outcome.FAILED
    row = DraftSync.objects.get(pk=draft.pk)
    assert row.display_state(draft.change_seq) == SyncState.FAILED
    assert [d["field"] for d in row.error_details] == ["street_name"]
    assert "50" in row.error_details[0]["remote_message"]  # the remote's words
    html = render('{% sync_field_error draft "street_name" %}', draft=draft)
    assert "The MLS refused this value" in html and "50" in html
    assert "MLS refused 1 field" in render("{% sync_badge draft %}", draft=draft)
    # Not retried: no push, no call.
    calls = sync_env.count("incomplete.update")
    assert push.push_draft(draft.pk) == push.Outcome.NOTHING
    assert sync_env.count("incomplete.update") == calls == 1
    # The agent fixes it: the next change is pushed.
    draft.save_field("street_name", "8th", by=agent, seen_version=draft.version, seen_value=long_name)
    drain(draft)
    assert_in_sync(sync_env, draft)
    assert render('{% sync_field_error draft "street_name" %}', draft=draft).strip() == ""


@pytest.mark.parametrize(
    ("status", "code"),
    [(403, 1500), (405, 1017), (400, 1053), (409, 1055)],
    ids=["403", "1017", "1053", "1055"],
)
def test_permanent_errors_are_not_retried(sync_env, draft, agent, status, code):
    drain(draft)
    sync_env.control.faults(
        {"kind": "error", "status": status, "code": code, "routes": ["incomplete.update"]}
    )
    draft.save_field("city", "Moorhead", by=agent, seen_version=draft.version, seen_value="Fargo")
    assert drain(draft)[-1] == push.Outcome.FAILED
    assert sync_env.count("incomplete.update") == 1
    row = DraftSync.objects.get(pk=draft.pk)
    assert (row.error_code, row.error_status) == (code, status)
    assert row.error_message.startswith("The MLS refused the changed fields: ")
    assert f"code {code}" not in row.error_message and "HTTP" not in row.error_message


def test_a_refused_photo_is_shown_on_the_photo_and_the_rest_syncs(sync_env, draft, agent):
    drain(draft)
    photo = add_photo(draft, by=agent, name="Attic", seed=13)
    first = Photo.objects.filter(draft=draft).order_by("position").first()
    Photo.reorder(
        draft,
        [
            photo.pk,
            *[p.pk for p in Photo.objects.filter(draft=draft).exclude(pk=photo.pk).order_by("position")],
        ],
        seen_version=4,
        by=agent,
    )
    sync_env.control.faults(ONE_PHOTO_TOO_DARK)
    assert drain(draft)[-1] == push.Outcome.FAILED
    row = RemoteItem.objects.get(draft=draft, kind="photo", local_id=photo.pk)
    assert row.error_message == "Photo too dark" and not row.remote_id
    html = render("{% photo_sync_badge photo %}", photo=photo)
    assert "Not accepted by the MLS" in html and "Photo too dark" in html
    assert "In the MLS" in render("{% photo_sync_badge photo %}", photo=first)
    # The others are in the MLS in the local relative order.
    remote = sync_env.remote(draft)
    assert [p["Name"] for p in sorted(remote["Photos"], key=lambda p: p["Order"])] == ["Front", "Back"]
    assert "Not accepted by the MLS" in render("{% sync_badge draft %}", draft=draft)
    # Any change tries again; the fault is spent, so it lands.
    draft.save_field("city", "Fargo ", by=agent, seen_version=draft.version, seen_value="Fargo")
    first.update_text(name="Front view", caption="", by=agent)
    drain(draft)
    assert_in_sync(sync_env, draft)


def test_a_photo_refused_inside_a_run_of_uploads_leaves_the_rest_of_the_run_to_go_out(sync_env, draft, agent):
    """The run's intents were all committed before its first upload. The refusal withdraws
    those whose bytes never left, so the next pass sends them at once: no list of the remote's
    photos to settle them, nothing left marked as sending."""
    drain(draft)
    dark = add_photo(draft, by=agent, name="Cellar", seed=14)
    porch = add_photo(draft, by=agent, name="Porch", seed=15)
    listed = sync_env.count("photos.list")
    sync_env.control.faults(ONE_PHOTO_TOO_DARK)
    assert drain(draft)[-1] == push.Outcome.FAILED
    assert (
        RemoteItem.objects.get(draft=draft, kind="photo", local_id=dark.pk).error_message == "Photo too dark"
    )
    assert RemoteItem.objects.get(draft=draft, kind="photo", local_id=porch.pk).remote_id
    assert not RemoteItem.objects.filter(draft=draft, sending=True).exists()
    assert sync_env.count("photos.list") == listed
    remote = sync_env.remote(draft)
    assert "Porch" in [p["Name"] for p in remote["Photos"]] and "Cellar" not in [
        p["Name"] for p in remote["Photos"]
    ]


def test_ten_transient_failures_give_up_then_one_retry_requeues_once(
    sync_env, own_doorbell, draft, agent, settings
):
    drain(draft)
    sync_env.control.faults({"kind": "server_error", "status": 503, "routes": ["incomplete.update"]})
    draft.save_field("city", "Moorhead", by=agent, seen_version=draft.version, seen_value="Fargo")
    outcomes = drain(draft, timeout=60)
    assert outcomes[-1] == push.Outcome.ATTENTION
    assert outcomes.count(push.Outcome.RETRY) == 9
    assert sync_env.count("incomplete.update") == 10
    row = DraftSync.objects.get(pk=draft.pk)
    assert row.state == SyncState.ATTENTION and row.attempts == 10
    assert "Gave up after 10 attempts" in row.error_message
    assert DraftSync.objects.needing_attention().filter(pk=draft.pk).exists()
    assert DraftEvent.objects.filter(draft=draft, kind="sync", note__startswith="Sync gave up").count() == 1
    # Held: neither the sweep nor a delivery pushes it.
    assert push.push_draft(draft.pk) == push.Outcome.NOTHING
    assert push.sweep() == 0
    # Retry (twice: the second does nothing), then the push succeeds.
    sync_env.control.clear_faults()
    settings.SYNC_ENQUEUE_ENABLED = True
    assert push.request_retry(draft, by=agent) is True
    assert push.request_retry(draft, by=agent) is False
    assert own_doorbell.rung == 1
    assert own_doorbell.flush(10) and own_doorbell.published == 1
    assert DraftEvent.objects.filter(draft=draft, kind="sync", note="Sync retry requested").count() == 1
    drain(draft)
    assert_in_sync(sync_env, draft)


def test_rate_limit_waits_at_least_retry_after_and_pauses_every_worker(sync_env, draft):
    sync_env.control.faults(
        {"kind": "rate_limit", "status": 429, "retry_after": 2, "routes": ["incomplete.create"], "times": 1}
    )
    before = timezone.now()
    assert push.push_draft(draft.pk) == push.Outcome.RETRY
    row = DraftSync.objects.get(pk=draft.pk)
    assert row.next_attempt_at >= before + dt.timedelta(seconds=2)
    wait, _taken = remote.limiter().try_take()
    assert wait > 1.0  # the shared bucket holds every worker
    drain(draft)
    assert_in_sync(sync_env, draft)


def test_backoff_is_full_jitter_within_bounds():
    rng = random.Random(4)
    for attempt in range(1, 12):
        ceiling = min(600.0, 2.0 * 2 ** (attempt - 1))
        delays = [failures.backoff_seconds(attempt, rng=rng) for _ in range(300)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8 and min(delays) < ceiling * 0.2
    assert failures.backoff_seconds(1, retry_after=30, rng=rng) >= 30


def test_a_remote_change_is_flagged_and_not_overwritten_until_someone_decides(sync_env, draft, agent):
    drain(draft)
    assert drift.check_drift() == 0  # our own writes are not drift
    assert DraftSync.objects.get(pk=draft.pk).state == SyncState.SYNCED
    listing = SandboxListing.objects.get(spark_id=draft.remote_id)
    listing.fields = {**listing.fields, "ListPrice": 199000, "City": "West Fargo"}
    listing.modified_at = timezone.now()
    listing.save()
    SandboxPhoto.objects.filter(listing=listing, name="Back").update(caption="Edited in the MLS")
    DraftSync.objects.filter(pk=draft.pk).update(remote_checked_at=None)
    assert drift.check_drift() == 1
    row = DraftSync.objects.get(pk=draft.pk)
    assert row.state == SyncState.DRIFT
    assert row.drift_remote["fields"]["ListPrice"] == {"portal": 250000, "remote": 199000}
    assert any(c["change"] == "caption changed" for c in row.drift_remote["photos"])
    assert "Changed in the MLS" in render("{% sync_badge draft %}", draft=draft)
    # A portal edit does not overwrite it either: the push is paused.
    draft.save_field("beds_total", "4", by=agent, seen_version=draft.version, seen_value="3")
    updates = sync_env.count("incomplete.update")
    assert push.push_draft(draft.pk) == push.Outcome.NOTHING
    assert sync_env.count("incomplete.update") == updates
    # Keep the portal version: the remote gets the portal's values back.
    assert drift.resolve_drift(draft, keep="portal", by=agent)
    drain(draft)
    assert_in_sync(sync_env, draft)
    assert sync_env.remote(draft)["StandardFields"]["City"] == "Fargo"


def test_accepting_the_remote_version_takes_it_into_the_draft(sync_env, draft, agent):
    drain(draft)
    listing = SandboxListing.objects.get(spark_id=draft.remote_id)
    listing.fields = {**listing.fields, "City": "West Fargo", "BedsTotal": 5}
    listing.modified_at = timezone.now()
    listing.save()
    SandboxPhoto.objects.filter(listing=listing, name="Back").update(caption="Sunset")
    DraftSync.objects.filter(pk=draft.pk).update(remote_checked_at=None)
    assert drift.check_drift() == 1
    calls = sync_env.calls()
    assert drift.resolve_drift(draft, keep="remote", by=agent)
    assert sync_env.calls() == calls  # the request side records the choice; the worker reads the MLS
    drain(draft)
    draft.refresh_from_db()
    assert draft.city == "West Fargo" and draft.beds_total == 5
    assert Photo.objects.get(draft=draft, name="Back").caption == "Sunset"
    assert DraftEvent.objects.filter(draft=draft, note="Accepted the MLS changes into the portal").exists()
    drain(draft)
    assert_in_sync(sync_env, draft)
    assert sync_env.count("incomplete.update") == 0  # nothing of the portal's had to be sent back


def test_rule_warnings_are_shown_but_not_retried(sync_env, agent):
    draft = DraftFactory(list_agent=agent, beds_total=None, baths_total=2, year_built=1990)
    assert drain(draft)[-1] == push.Outcome.SYNCED  # "Success with Errors" is a success
    row = DraftSync.objects.get(pk=draft.pk)
    assert any(w["field"] == "beds_total" for w in row.remote_warnings)
    assert "The MLS warns" in render('{% sync_field_error draft "beds_total" %}', draft=draft)
    assert sync_env.count("incomplete.create") == 1 and sync_env.count("incomplete.update") == 0


def test_the_drift_check_leaves_a_live_draft_alone(sync_env, draft):
    drain(draft)
    # Publishing made the live listing and deleted the incomplete one.
    remote.client().delete_incomplete_listing(draft.remote_id)
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.LIVE, live_listing_id="20261123000000000001")
    DraftSync.objects.filter(pk=draft.pk).update(remote_checked_at=None)
    calls = sync_env.calls()
    assert drift.check_drift() == 0
    row = DraftSync.objects.get(pk=draft.pk)
    assert row.state == SyncState.SYNCED and row.drift_detected_at is None and row.drift_remote == {}
    assert sync_env.calls() == calls  # not even a read
    # The same missing listing on a draft that is not published is drift.
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.APPROVED)
    assert drift.check_drift() == 1
    assert DraftSync.objects.get(pk=draft.pk).drift_remote == {"listing": drift.LISTING_GONE}


def test_a_photo_missing_from_storage_is_said_in_plain_words_on_the_badge(sync_env, draft, settings, caplog):
    """A failure on the portal's side (here a master file gone from storage) reaches the badge as
    what could not be done; the exception, with its path, goes only to the log."""
    settings.SYNC_MAX_ATTEMPTS = 2
    photo = draft.photos.first()
    default_storage.delete(photo.master.name)
    outcomes = drain(draft, timeout=60)
    assert outcomes[-1] == push.Outcome.ATTENTION
    row = DraftSync.objects.get(pk=draft.pk)
    assert row.error_message == (
        "Gave up after 2 attempts. Last error: "
        "the portal could not find one of this draft's photos or documents in its storage"
    )
    badge = render("{% sync_badge draft %}", draft=draft)
    assert "could not find one of this draft" in badge
    assert "Errno" not in badge and "FileNotFoundError" not in badge and photo.master.name not in badge
    assert any("FileNotFoundError" in (record.exc_text or "") for record in caplog.records)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (FileNotFoundError(2, "No such file or directory", "/tmp/x.jpg"), "could not find one of this draft"),
        (PermissionError(13, "Permission denied", "/srv/media/x.jpg"), "could not read one of this draft"),
        (ConnectionRefusedError(111, "Connection refused"), "lost its connection to one of its own services"),
        (OperationalError("server closed the connection unexpectedly"), "database did not answer"),
        (ValueError("bad thing at 0x7f"), "unexpected error in the portal"),
    ],
)
def test_a_failure_on_our_side_is_described_without_the_exception(error, words):
    described = failures.describe(error)
    assert words in described
    assert type(error).__name__ not in described and "/" not in described
