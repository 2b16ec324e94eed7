"""Publishing against the sandbox over real HTTP (the live server): the job's steps, a fault
injected at each step (it resumes, makes no duplicate, and the live listing equals the draft),
a crash mid-job, a retry after a refusal, a retry after the draft changed, and the pre-flight."""

from __future__ import annotations

import socket
import time

import pytest
from django.utils import timezone

from drafts.models import Draft, DraftEvent, DraftStatus, TransitionNotAllowed
from media_manager.models import Document, Photo
from mls import publishing
from mls.models import Promotion, PromotionItem, PromotionState, PromotionStep, RemoteCall
from tests.factories import DraftFactory, OfficeAdminFactory
from tests.mls.sync_support import add_document, add_photo, drain

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reviewer(office):
    return OfficeAdminFactory(office=office)


@pytest.fixture
def approved(agent):
    """A complete draft with three photos and two documents, approved (set as data: the
    review workflow has its own tests)."""
    draft = DraftFactory(
        list_agent=agent, beds_total=3, baths_total=2, year_built=1984, public_remarks="Bright and quiet."
    )
    add_photo(draft, by=agent, name="Front", seed=1, caption="From the street")
    add_photo(draft, by=agent, name="Kitchen", seed=2)
    add_photo(draft, by=agent, name="Yard", seed=3)
    add_document(draft, by=agent, name="Floor Plan", privacy="Public")
    add_document(draft, by=agent, name="Survey", privacy="Private")
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.APPROVED)
    draft.refresh_from_db()
    return draft


def publish(draft: Draft, *, timeout: float = 40.0) -> list[str]:
    """Run the job until it is live or failed, waiting out back-off as a worker would."""
    outcomes: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcomes.append(publishing.run(draft.pk))
        job = Promotion.objects.get(pk=draft.pk)
        if job.state in (PromotionState.DONE, PromotionState.FAILED):
            draft.refresh_from_db()
            return outcomes
        if job.next_attempt_at is not None:
            wait = (job.next_attempt_at - timezone.now()).total_seconds()
            time.sleep(min(max(wait, 0.0), 5.0) + 0.01)
    raise AssertionError(f"publishing did not finish within {timeout}s: {outcomes[-6:]}")


def live_listings(env) -> list[dict]:
    return env.control.state()["listings"]


def assert_live_equals_draft(env, draft: Draft) -> dict:
    """Exactly one live listing; its fields, photos (order, names, captions, primary, bytes) and
    documents (order, names, privacy, bytes) are the draft's."""
    listings = live_listings(env)
    assert len(listings) == 1, [item["Id"] for item in listings]
    listing = listings[0]
    assert draft.live_listing_id == listing["Id"]
    for name, value in draft.spark_fields().items():
        if name not in ("CustomFields", "ListAgentId") and value is not None:
            assert listing["StandardFields"].get(name) == value, name
    photos = sorted(listing["Photos"], key=lambda p: p["Order"])
    local_photos = Photo.objects.active().filter(draft=draft).order_by("position")
    assert [(p["Name"], p["Caption"], p["Primary"], p["sha256"]) for p in photos] == [
        (p.name, p.caption, p.is_primary, p.sha256) for p in local_photos
    ]
    documents = sorted(listing["Documents"], key=lambda d: d["Order"])
    local_documents = Document.objects.active().filter(draft=draft).order_by("position")
    assert [(d["Name"], d["Privacy"], d["sha256"]) for d in documents] == [
        (d.name, d.privacy, d.sha256) for d in local_documents
    ]
    return listing


def test_publishing_creates_the_live_listing_and_removes_the_incomplete_one(sync_env, approved, reviewer):
    drain(approved)  # the sync engine keeps an incomplete listing, as in production
    incomplete_id = approved.remote_id
    assert incomplete_id

    publishing.start(approved, by=reviewer)
    approved.refresh_from_db()
    assert approved.status == DraftStatus.PROMOTING
    assert publish(approved)[-1] == "live"

    assert approved.status == DraftStatus.LIVE
    assert_live_equals_draft(sync_env, approved)
    assert sync_env.control.state()["incomplete_listings"] == []
    assert approved.remote_id == ""
    job = Promotion.objects.get(pk=approved.pk)
    assert job.state == PromotionState.DONE and job.step == PromotionStep.DONE
    assert job.listing_number  # the MLS number, read back
    assert [entry["step"] for entry in job.log] == [
        "validate",
        "create",
        "photos",
        "documents",
        "parts",
        "verify",
        "cleanup",
    ]
    assert sync_env.count("listings.validate") == 1
    assert sync_env.count("listings.create") == 1
    # Each call is in the draft's log, and history tells the story.
    assert RemoteCall.objects.filter(draft=approved, purpose__startswith="Publish:").count() >= 8
    assert DraftEvent.objects.filter(draft=approved, note__startswith="Publishing:").count() >= 5
    assert DraftEvent.objects.filter(
        draft=approved, field="status", new_value=DraftStatus.LIVE.value
    ).exists()


def test_a_finished_job_makes_no_call(sync_env, approved, reviewer):
    publishing.start(approved, by=reviewer)
    publish(approved)
    calls = sync_env.calls()
    assert publishing.run(approved.pk) == "busy"  # nothing to claim: the job is done
    assert sync_env.calls() == calls


def test_fatal_validation_errors_stop_before_anything_is_created(sync_env, agent, reviewer):
    # Our rules only warn about a missing year built; this MLS refuses it (a Fatal rule).
    draft = DraftFactory(
        list_agent=agent, beds_total=3, baths_total=2, public_remarks="Fine.", year_built=None
    )
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.APPROVED)
    draft.refresh_from_db()
    publishing.start(draft, by=reviewer)
    assert publish(draft)[-1] == "failed"

    assert draft.status == DraftStatus.PROMOTION_FAILED
    assert "refused" in draft.promotion_failure_reason
    job = Promotion.objects.get(pk=draft.pk)
    assert job.step == PromotionStep.VALIDATE
    assert "year_built" in job.errors_by_field()
    assert sync_env.count("listings.create") == 0
    assert live_listings(sync_env) == []


def test_preflight_reports_field_errors_and_success(sync_env, approved, agent):
    assert publishing.preflight(approved).ok
    broken = DraftFactory(list_agent=agent, list_price=None, year_built=None)
    result = publishing.preflight(broken)
    assert not result.ok
    assert {"list_price", "year_built"} <= set(result.errors_by_field())
    assert live_listings(sync_env) == []


def test_preflight_during_an_outage_says_nothing_was_sent(sync_env, approved):
    sync_env.control.faults({"kind": "server_error", "status": 503, "routes": ["listings.validate"]})
    result = publishing.preflight(approved)
    assert not result.ok
    assert "did not answer" in result.message and "Nothing was sent" in result.message


# A fault at each step: transient errors and lost answers after the change was applied.
STEP_FAULTS = {
    "validate-503": [{"kind": "server_error", "status": 503, "routes": ["listings.validate"], "times": 2}],
    "create-lost-answer": [{"kind": "drop_after_apply", "routes": ["listings.create"], "times": 1}],
    "create-500": [{"kind": "server_error", "status": 500, "routes": ["listings.create"], "times": 2}],
    "ticket-503": [{"kind": "server_error", "status": 503, "routes": ["tickets.create"], "times": 2}],
    "photo-upload-lost-answer": [{"kind": "drop_after_apply", "routes": ["uploads.photo"], "times": 2}],
    "photo-order-lost-answer": [{"kind": "drop_after_apply", "routes": ["photos.reorder"], "times": 1}],
    "primary-502": [{"kind": "server_error", "status": 502, "routes": ["photos.update"], "times": 1}],
    "document-upload-lost-answer": [{"kind": "drop_after_apply", "routes": ["uploads.document"], "times": 1}],
    "rate-limited": [
        {"kind": "rate_limit", "status": 429, "retry_after": 0, "routes": ["uploads.photo"], "times": 2}
    ],
    "read-back-504": [{"kind": "server_error", "status": 504, "routes": ["listings.get"], "times": 2}],
    "cleanup-lost-answer": [{"kind": "drop_after_apply", "routes": ["incomplete.delete"], "times": 1}],
    "token-expired": [{"kind": "token_expired", "routes": ["photos.list", "uploads.document"], "times": 1}],
}


@pytest.mark.parametrize("fault", list(STEP_FAULTS))
def test_a_fault_at_each_step_resumes_without_duplicates(sync_env, approved, reviewer, fault):
    drain(approved)
    sync_env.control.faults(*STEP_FAULTS[fault])
    publishing.start(approved, by=reviewer)
    assert publish(approved)[-1] == "live", Promotion.objects.get(pk=approved.pk).error_message

    sync_env.control.clear_faults()
    assert approved.status == DraftStatus.LIVE
    listing = assert_live_equals_draft(sync_env, approved)
    assert len(listing["Photos"]) == 3 and len(listing["Documents"]) == 2
    assert sync_env.control.state()["incomplete_listings"] == []


def test_a_worker_that_died_mid_upload_is_taken_over(sync_env, approved, reviewer):
    """The job as a SIGKILLed worker leaves it: lease held by a dead process, an upload sent
    (and applied) without its answer recorded. The next worker resumes: no second copy."""
    sync_env.control.faults({"kind": "drop_after_apply", "routes": ["uploads.photo"], "times": 1})
    publishing.start(approved, by=reviewer)
    # Run until the lost upload is recorded as `sending` (the first photo).
    publisher = publishing.Publisher(approved.pk)
    publisher.run()
    item = PromotionItem.objects.get(promotion_id=approved.pk, kind="photo", sending=True)
    assert item.remote_id == ""
    Promotion.objects.filter(pk=approved.pk).update(
        lease_owner=f"{socket.gethostname()}:999999:dead",
        lease_expires_at=timezone.now() + timezone.timedelta(minutes=30),
        next_attempt_at=None,
    )
    assert publish(approved)[-1] == "live"
    listing = assert_live_equals_draft(sync_env, approved)
    assert len(listing["Photos"]) == 3


def test_a_refused_step_fails_and_a_retry_resumes_without_creating_again(sync_env, approved, reviewer):
    sync_env.control.faults(
        {
            "kind": "error",
            "status": 403,
            "code": 1500,
            "message": "Not allowed",
            "routes": ["documents.reorder"],
        }
    )
    publishing.start(approved, by=reviewer)
    assert publish(approved)[-1] == "failed"
    assert approved.status == DraftStatus.PROMOTION_FAILED
    assert "Not allowed" in approved.promotion_failure_reason
    job = Promotion.objects.get(pk=approved.pk)
    assert job.step == PromotionStep.DOCUMENTS and job.listing_id
    assert len(live_listings(sync_env)[0]["Photos"]) == 3

    sync_env.control.clear_faults()
    publishing.start(approved, by=reviewer)
    assert publish(approved)[-1] == "live"
    assert_live_equals_draft(sync_env, approved)
    assert sync_env.count("listings.create") == 1
    assert sync_env.count("uploads.photo") == 3
    assert sync_env.count("uploads.document") == 2


def test_a_remote_that_refuses_every_upload_ticket_ends_the_job(sync_env, approved, reviewer, settings):
    settings.PROMOTION_MAX_ATTEMPTS = 2
    settings.SYNC_AMBIGUOUS_SETTLE_SECONDS = 0.2
    sync_env.control.faults({"kind": "error", "status": 403, "code": 1500, "routes": ["uploads.photo"]})
    publishing.start(approved, by=reviewer)
    assert publish(approved)[-1] == "failed"
    assert approved.status == DraftStatus.PROMOTION_FAILED
    assert "2 attempts" in approved.promotion_failure_reason


def test_a_retry_after_the_draft_changed_updates_the_same_listing(sync_env, approved, reviewer, agent):
    sync_env.control.faults(
        {
            "kind": "error",
            "status": 403,
            "code": 1500,
            "message": "Not allowed",
            "routes": ["documents.reorder"],
        }
    )
    publishing.start(approved, by=reviewer)
    publish(approved)
    assert approved.status == DraftStatus.PROMOTION_FAILED
    sync_env.control.clear_faults()

    # The agent fixes things: a new price, one photo gone, another renamed; back through review.
    approved.save_field("list_price", "265000", by=agent, seen_version=approved.version, seen_value="250000")
    Photo.trash_many(approved, [Photo.objects.get(draft=approved, name="Kitchen").pk], by=agent)
    Photo.objects.get(draft=approved, name="Yard").update_text(name="Back yard", caption="Fenced", by=agent)
    approved.refresh_from_db()
    assert approved.status == DraftStatus.DRAFT
    Draft.objects.filter(pk=approved.pk).update(status=DraftStatus.APPROVED)
    approved.refresh_from_db()

    publishing.start(approved, by=reviewer)
    assert publish(approved)[-1] == "live"
    listing = assert_live_equals_draft(sync_env, approved)
    assert listing["StandardFields"]["ListPrice"] == 265000
    assert [p["Name"] for p in sorted(listing["Photos"], key=lambda p: p["Order"])] == ["Front", "Back yard"]
    assert sync_env.count("listings.create") == 1


def test_only_a_reviewer_may_publish_and_only_an_approved_draft(sync_env, approved, agent, reviewer):
    with pytest.raises(TransitionNotAllowed):
        publishing.start(approved, by=agent)
    Draft.objects.filter(pk=approved.pk).update(status=DraftStatus.SUBMITTED)
    approved.refresh_from_db()
    with pytest.raises(TransitionNotAllowed):
        publishing.start(approved, by=reviewer)
    assert not Promotion.objects.filter(pk=approved.pk).exists()


def test_a_photo_still_processing_is_waited_for(sync_env, approved, reviewer):
    Photo.objects.filter(draft=approved, name="Yard").update(state="uploaded")
    publishing.start(approved, by=reviewer)
    assert "waiting" in [publishing.run(approved.pk) for _ in range(1)]
    job = Promotion.objects.get(pk=approved.pk)
    assert job.step == PromotionStep.PHOTOS and job.state == PromotionState.WAITING
    assert "processing" in job.error_message
    Photo.objects.filter(draft=approved, name="Yard").update(state="ready")
    Promotion.objects.filter(pk=approved.pk).update(next_attempt_at=None)
    assert publish(approved)[-1] == "live"


def test_the_sweep_queues_due_jobs_only(sync_env, approved, reviewer):
    publishing.start(approved, by=reviewer)
    Promotion.objects.filter(pk=approved.pk).update(
        next_attempt_at=timezone.now() + timezone.timedelta(hours=1)
    )
    assert publishing.sweep() == 0
    Promotion.objects.filter(pk=approved.pk).update(next_attempt_at=None)
    assert publishing.sweep() == 1
