"""The review state machine on the model: who may make each transition, from where, and what
it records."""

import pytest
from django.db import IntegrityError, transaction

from drafts.models import Draft, DraftEvent, DraftStatus, ReviewComment, ReviewSnapshot, TransitionNotAllowed
from tests.factories import DraftFactory, OfficeAdminFactory, PhotoFactory

from .conftest import CAST_PEOPLE, COMPLETE_FIELDS, add_required_media

# A residential draft's fields that meet every ERROR rule (with `add_required_media`: approvable).
COMPLETE = COMPLETE_FIELDS

S = DraftStatus


def in_status(draft: Draft, status: str, **extra) -> Draft:
    Draft.objects.filter(pk=draft.pk).update(status=status, **extra)
    draft.refresh_from_db()
    return draft


def status_events(draft: Draft) -> list[tuple[str, str]]:
    return [
        (event.old_value, event.new_value)
        for event in draft.events.filter(kind=DraftEvent.Kind.STATUS_CHANGED).order_by("at", "pk")
    ]


@pytest.fixture
def ready(cast) -> Draft:
    """The cast's draft, complete enough to approve: its fields, a photo, the documents."""
    Draft.objects.filter(pk=cast.draft.pk).update(**COMPLETE)
    return add_required_media(cast.draft)


# --- Who may make each transition -------------------------------------------------------------

EVERYONE = CAST_PEOPLE

# transition -> (status it starts from, who may, how to call it)
TRANSITIONS = {
    "submit": (S.DRAFT, {"agent", "co_agent"}, lambda d, u: d.submit(by=u)),
    "withdraw": (S.SUBMITTED, {"agent", "co_agent"}, lambda d, u: d.withdraw(by=u)),
    "request_changes": (
        S.SUBMITTED,
        {"office_admin", "company_admin"},
        lambda d, u: d.request_changes(by=u, reason="Add the basement photos."),
    ),
    "approve": (S.SUBMITTED, {"office_admin", "company_admin"}, lambda d, u: d.approve(by=u)),
    "begin_promotion": (S.APPROVED, {"office_admin", "company_admin"}, lambda d, u: d.begin_promotion(by=u)),
}
AFTER = {
    "submit": S.SUBMITTED,
    "withdraw": S.DRAFT,
    "request_changes": S.CHANGES_REQUESTED,
    "approve": S.APPROVED,
    "begin_promotion": S.PROMOTING,
}


@pytest.mark.parametrize("transition", TRANSITIONS)
@pytest.mark.parametrize("actor_name", EVERYONE)
def test_who_may_make_each_transition(cast, ready, transition, actor_name):
    start, allowed, call = TRANSITIONS[transition]
    draft = in_status(ready, start)
    actor = cast.actor(actor_name)
    version = draft.version

    if actor_name in allowed:
        call(draft, actor)
        stored = Draft.objects.get(pk=draft.pk)
        assert stored.status == AFTER[transition] == draft.status
        assert stored.version == version + 1
        event = stored.events.filter(kind=DraftEvent.Kind.STATUS_CHANGED).first()
        assert (event.actor, event.old_value, event.new_value) == (actor, start, AFTER[transition])
    else:
        with pytest.raises(TransitionNotAllowed) as refused:
            call(draft, actor)
        assert refused.value.message
        stored = Draft.objects.get(pk=draft.pk)
        assert stored.status == start
        assert stored.version == version
        assert not stored.events.filter(kind=DraftEvent.Kind.STATUS_CHANGED).exists()


def test_the_creator_may_submit_a_draft_made_for_an_agent(cast):
    draft = Draft.start(by=cast.office_admin, list_agent=cast.agent)
    address = {"street_number": "12", "street_name": "Elm", "city": "Fargo", "state_or_province": "ND"}
    Draft.objects.filter(pk=draft.pk).update(**address, postal_code="58103", list_price=250000, **COMPLETE)
    add_required_media(draft)

    draft.submit(by=cast.office_admin)

    assert draft.status == S.SUBMITTED


def test_a_superuser_may_review(cast, ready, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    draft = in_status(ready, S.SUBMITTED)

    draft.approve(by=root)

    assert draft.status == S.APPROVED


# --- Self-approval ---------------------------------------------------------------------------


def test_an_admin_cannot_approve_a_draft_they_list(office):
    admin, other_admin = OfficeAdminFactory(office=office), OfficeAdminFactory(office=office)
    draft = add_required_media(DraftFactory(list_agent=admin, status=S.SUBMITTED, **COMPLETE))

    with pytest.raises(TransitionNotAllowed, match="another reviewer"):
        draft.approve(by=admin)
    draft.approve(by=other_admin)

    assert draft.status == S.APPROVED


def test_an_admin_cannot_approve_a_draft_they_co_list(office, agent):
    admin = OfficeAdminFactory(office=office)
    draft = DraftFactory(list_agent=agent, co_list_agent=admin, status=S.SUBMITTED, **COMPLETE)

    with pytest.raises(TransitionNotAllowed, match="another reviewer"):
        draft.approve(by=admin)


def test_an_admin_may_request_changes_on_a_draft_they_list(office):
    admin = OfficeAdminFactory(office=office)
    draft = DraftFactory(list_agent=admin, status=S.SUBMITTED)

    draft.request_changes(by=admin, reason="Note to self: retake the photos.")

    assert draft.status == S.CHANGES_REQUESTED


# --- Preconditions -----------------------------------------------------------------------------


def test_submitting_with_something_missing_is_refused_in_plain_words(cast):
    draft = cast.draft  # no bedrooms, baths or remarks, no photo, no documents

    with pytest.raises(TransitionNotAllowed) as refused:
        draft.submit(by=cast.agent)

    assert refused.value.message.startswith("Cannot submit it for review yet: ")
    assert "things are missing (Bedrooms are required" in refused.value.message
    assert Draft.objects.get(pk=draft.pk).status == S.DRAFT


def test_approving_with_something_missing_is_refused_with_the_first_gap(cast):
    draft = in_status(cast.draft, S.SUBMITTED)

    with pytest.raises(TransitionNotAllowed) as refused:
        draft.approve(by=cast.office_admin)

    assert refused.value.message.startswith("Cannot approve it yet: ")
    assert "required" in refused.value.message
    assert Draft.objects.get(pk=draft.pk).status == S.SUBMITTED


def test_approving_without_a_required_document_is_refused(cast, ready):
    ready.documents.filter(name="Seller's Disclosure").delete()
    draft = in_status(ready, S.SUBMITTED)

    with pytest.raises(TransitionNotAllowed, match="Upload the Seller's Disclosure"):
        draft.approve(by=cast.office_admin)

    assert Draft.objects.get(pk=draft.pk).status == S.SUBMITTED


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_request_changes_needs_a_reason(cast, reason):
    draft = in_status(cast.draft, S.SUBMITTED)

    with pytest.raises(TransitionNotAllowed, match="reason is required"):
        draft.request_changes(by=cast.office_admin, reason=reason)

    assert Draft.objects.get(pk=draft.pk).status == S.SUBMITTED


def test_a_trashed_draft_makes_no_transition(cast):
    cast.draft.move_to_trash(by=cast.agent)

    with pytest.raises(TransitionNotAllowed, match="trash"):
        cast.draft.submit(by=cast.agent)


# Every (transition, status) pair outside the state machine is refused.
ALLOWED_FROM = {
    "submit": {S.DRAFT, S.CHANGES_REQUESTED},
    "withdraw": {S.SUBMITTED},
    "request_changes": {S.SUBMITTED, S.APPROVED, S.PROMOTION_FAILED},
    "approve": {S.SUBMITTED},
    "begin_promotion": {S.APPROVED, S.PROMOTION_FAILED},
    "mark_live": {S.PROMOTING},
    "mark_promotion_failed": {S.PROMOTING},
}
CALLS = {
    "submit": lambda d, c: d.submit(by=c.agent),
    "withdraw": lambda d, c: d.withdraw(by=c.agent),
    "request_changes": lambda d, c: d.request_changes(by=c.office_admin, reason="Fix it."),
    "approve": lambda d, c: d.approve(by=c.office_admin),
    "begin_promotion": lambda d, c: d.begin_promotion(by=c.office_admin),
    "mark_live": lambda d, c: d.mark_live("20240101000000000000000001"),
    "mark_promotion_failed": lambda d, c: d.mark_promotion_failed("The MLS said no."),
}


@pytest.mark.parametrize("status", S.values)
@pytest.mark.parametrize("transition", CALLS)
def test_transitions_only_from_their_states(cast, ready, transition, status):
    draft = in_status(ready, status)

    if status in ALLOWED_FROM[transition]:
        CALLS[transition](draft, cast)
        assert Draft.objects.get(pk=draft.pk).status != status
    else:
        with pytest.raises(TransitionNotAllowed, match="cannot be"):
            CALLS[transition](draft, cast)
        assert Draft.objects.get(pk=draft.pk).status == status


# --- The whole path, and what it records -------------------------------------------------------


def test_the_whole_path_with_a_failed_promotion_and_a_retry(cast, ready):
    draft = ready
    draft.submit(by=cast.agent)
    draft.request_changes(by=cast.office_admin, reason="The remarks mention a pool; add a photo of it.")
    draft.save_field("city", "Moorhead", by=cast.agent, seen_version=draft.version, seen_value="Fargo")
    draft.refresh_from_db()
    assert draft.status == S.DRAFT  # the agent's edit sent it back to drafting
    draft.submit(by=cast.co_agent)
    draft.approve(by=cast.office_admin)
    draft.begin_promotion(by=cast.office_admin)
    assert not draft.is_editable
    draft.mark_promotion_failed("ListPrice: rejected by the MLS")
    assert draft.promotion_failure_reason == "ListPrice: rejected by the MLS"
    draft.begin_promotion(by=cast.company_admin)
    assert draft.promotion_failure_reason == ""
    draft.mark_live("20240101000000000000000001")

    stored = Draft.objects.get(pk=draft.pk)
    assert stored.status == S.LIVE
    assert stored.live_listing_id == "20240101000000000000000001"
    assert status_events(stored) == [
        (S.DRAFT, S.SUBMITTED),
        (S.SUBMITTED, S.CHANGES_REQUESTED),
        (S.CHANGES_REQUESTED, S.DRAFT),
        (S.DRAFT, S.SUBMITTED),
        (S.SUBMITTED, S.APPROVED),
        (S.APPROVED, S.PROMOTING),
        (S.PROMOTING, S.PROMOTION_FAILED),
        (S.PROMOTION_FAILED, S.PROMOTING),
        (S.PROMOTING, S.LIVE),
    ]
    assert list(stored.review_snapshots.order_by("taken_at", "pk").values_list("kind", flat=True)) == [
        "submitted",
        "changes_requested",
        "submitted",
        "approved",
    ]


def test_request_changes_records_the_reason_as_a_comment_and_in_history(cast):
    draft = in_status(cast.draft, S.SUBMITTED)

    draft.request_changes(by=cast.office_admin, reason="  Add the lot size.  ")

    comment = ReviewComment.objects.get(draft=draft)
    assert (comment.target_kind, comment.target_key, comment.text) == ("draft", "", "Add the lot size.")
    assert comment.author == cast.office_admin
    assert Draft.objects.get(pk=draft.pk).open_review_comments == 1 == draft.open_review_comments
    event = draft.events.filter(kind=DraftEvent.Kind.STATUS_CHANGED).first()
    assert event.note == "Add the lot size."


def test_submit_stamps_the_time_and_withdraw_clears_it(cast, ready):
    draft = ready
    draft.submit(by=cast.agent)
    assert Draft.objects.get(pk=draft.pk).submitted_at is not None

    draft.withdraw(by=cast.agent)

    assert Draft.objects.get(pk=draft.pk).submitted_at is None


def test_snapshots_hold_fields_photos_and_documents(cast):
    draft = cast.draft
    first = PhotoFactory(draft=draft, by=cast.agent, original_name="front.jpg")
    second = PhotoFactory(draft=draft, by=cast.agent, original_name="kitchen.jpg")
    Draft.objects.filter(pk=draft.pk).update(**COMPLETE)
    add_required_media(draft)

    draft.submit(by=cast.agent)

    snapshot = ReviewSnapshot.objects.get(draft=draft)
    assert snapshot.kind == "submitted" and snapshot.taken_by == cast.agent
    assert snapshot.data["fields"]["city"] == "Fargo"
    assert snapshot.data["fields"]["list_price"] == "250000.00"
    assert snapshot.data["fields"]["co_list_agent"] == cast.co_agent.pk
    assert [(p["id"], p["name"], p["position"], p["primary"]) for p in snapshot.data["photos"]] == [
        (first.pk, "front", 0, True),
        (second.pk, "kitchen", 1, False),
    ]
    assert [document["name"] for document in snapshot.data["documents"]] == ["Seller's Disclosure"]


def test_mark_live_needs_the_listing_id(cast):
    draft = in_status(cast.draft, S.PROMOTING)

    with pytest.raises(TransitionNotAllowed, match="listing id"):
        draft.mark_live("  ")
    with pytest.raises(TransitionNotAllowed, match="reason is required"):
        draft.mark_promotion_failed("")

    assert Draft.objects.get(pk=draft.pk).status == S.PROMOTING


def test_a_stale_instance_cannot_repeat_a_transition(cast, ready):
    """The state is read under the row lock, not from the caller's copy."""
    draft = in_status(ready, S.SUBMITTED)
    stale = Draft.objects.get(pk=draft.pk)
    draft.approve(by=cast.office_admin)

    with pytest.raises(TransitionNotAllowed):
        stale.approve(by=cast.company_admin)

    assert status_events(draft) == [(S.SUBMITTED, S.APPROVED)]


# --- Media changes send a reviewed draft back ------------------------------------------------


@pytest.mark.parametrize("status", [S.CHANGES_REQUESTED, S.APPROVED, S.PROMOTION_FAILED])
def test_media_changes_send_a_reviewed_draft_back(cast, status):
    draft = in_status(cast.draft, status)
    version = draft.version

    assert draft.note_media_changed(by=cast.co_agent) is True

    stored = Draft.objects.get(pk=draft.pk)
    assert stored.status == S.DRAFT == draft.status
    assert stored.updated_by == cast.co_agent
    assert stored.version == version + 1
    assert status_events(stored) == [(status, S.DRAFT)]


@pytest.mark.parametrize("status", [S.DRAFT, S.SUBMITTED])
def test_media_changes_keep_other_states(cast, status):
    draft = in_status(cast.draft, status)
    before = draft.updated_at

    assert draft.note_media_changed(by=cast.co_agent) is False

    stored = Draft.objects.get(pk=draft.pk)
    assert stored.status == status
    assert stored.updated_at > before and stored.updated_by == cast.co_agent
    assert status_events(stored) == []


# --- The database refuses what the code would never write -------------------------------------


def test_the_database_refuses_an_unknown_status(draft):
    with pytest.raises(IntegrityError), transaction.atomic():
        Draft.objects.filter(pk=draft.pk).update(status="published")


def test_the_database_refuses_a_comment_key_that_does_not_match_its_kind(cast):
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewComment.objects.create(
            draft=cast.draft, author=cast.office_admin, target_kind="field", text="x"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewComment.objects.create(
            draft=cast.draft, author=cast.office_admin, target_kind="draft", target_key="city", text="x"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewComment.objects.create(draft=cast.draft, author=cast.office_admin, target_kind="nope", text="x")


def test_the_database_refuses_a_negative_open_comment_count(draft):
    with pytest.raises(IntegrityError), transaction.atomic():
        Draft.objects.filter(pk=draft.pk).update(open_review_comments=-1)
