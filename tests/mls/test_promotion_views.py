"""The publishing pages: the panel on the review page, the pre-flight, the publish button, the
progress polling and the live listing's page; who may use them."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from drafts.models import Draft, DraftStatus
from mls import publishing
from mls.models import Promotion, PromotionState
from tests.drafts.conftest import cast  # noqa: F401  (the fixture of the permission matrix)
from tests.factories import DraftFactory, OfficeAdminFactory
from tests.mls.sync_support import add_document, add_photo

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def reviewer(office):
    return OfficeAdminFactory(office=office)


@pytest.fixture
def approved(agent):
    draft = DraftFactory(
        list_agent=agent, beds_total=3, baths_total=2, year_built=1990, public_remarks="Sunny corner lot."
    )
    add_photo(draft, by=agent, name="Porch", seed=7)
    add_photo(draft, by=agent, name="Den", seed=8, caption="Wood stove")
    add_document(draft, by=agent, name="Disclosure", privacy="Private")
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.APPROVED)
    draft.refresh_from_db()
    return draft


def test_the_review_page_offers_the_check_and_the_publish_button(sync_env, client, approved, reviewer):
    client.force_login(reviewer)
    page = client.get(reverse("drafts:draft_review", args=[approved.pk])).content.decode()
    assert 'id="preflight-form"' in page
    assert 'id="promote-form"' in page and "Publish to the MLS" in page


def test_the_preflight_answers_in_the_panel(sync_env, client, approved, reviewer, agent):
    client.force_login(reviewer)
    response = client.post(reverse("mls:draft_preflight", args=[approved.pk]), **HTMX)
    assert response.status_code == 200
    assert "The MLS accepts this listing" in response.content.decode()

    broken = DraftFactory(list_agent=agent, year_built=None)
    Draft.objects.filter(pk=broken.pk).update(status=DraftStatus.APPROVED)
    response = client.post(reverse("mls:draft_preflight", args=[broken.pk]), **HTMX)
    body = response.content.decode()
    assert "The MLS would refuse this listing" in body
    assert 'href="#review-field-year_built"' in body
    assert sync_env.control.state()["listings"] == []


def test_publishing_through_the_pages(sync_env, client, approved, reviewer):
    client.force_login(reviewer)
    response = client.post(reverse("mls:draft_promote", args=[approved.pk]))
    assert response.status_code == 302
    approved.refresh_from_db()
    assert approved.status == DraftStatus.PROMOTING

    status = client.get(reverse("mls:promotion_status", args=[approved.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in status and 'id="promotion-progress"' in status

    assert publishing.run(approved.pk) == "live"
    review = client.get(reverse("drafts:draft_review", args=[approved.pk])).content.decode()
    assert 'id="live-listing-link"' in review
    assert 'id="promote-form"' not in review
    status = client.get(reverse("mls:promotion_status", args=[approved.pk])).content.decode()
    assert "hx-trigger" not in status  # finished: no more polling

    live = client.get(reverse("mls:live_listing", args=[approved.pk]))
    assert live.status_code == 200
    body = live.content.decode()
    assert body.index('data-name="Porch"') < body.index('data-name="Den"')
    assert 'data-privacy="Private"' in body
    assert "Wood stove" in body


def test_the_agent_sees_the_live_link_in_the_editor(sync_env, client, approved, reviewer, agent):
    publishing.start(approved, by=reviewer)
    publishing.run(approved.pk)
    client.force_login(agent)
    page = client.get(reverse("drafts:draft_edit", args=[approved.pk])).content.decode()
    assert 'id="live-listing-link"' in page
    assert client.get(reverse("mls:live_listing", args=[approved.pk])).status_code == 200


def test_an_agent_cannot_publish(sync_env, client, approved, agent):
    client.force_login(agent)
    client.post(reverse("mls:draft_promote", args=[approved.pk]))
    approved.refresh_from_db()
    assert approved.status == DraftStatus.APPROVED
    assert not Promotion.objects.filter(pk=approved.pk).exists()
    assert client.post(reverse("mls:draft_preflight", args=[approved.pk])).status_code == 403


def test_another_office_sees_nothing(sync_env, client, approved, other_office):
    client.force_login(OfficeAdminFactory(office=other_office))
    for name in ("mls:draft_promote", "mls:draft_preflight"):
        assert client.post(reverse(name, args=[approved.pk])).status_code == 404
    for name in ("mls:promotion_status", "mls:live_listing"):
        assert client.get(reverse(name, args=[approved.pk])).status_code == 404


def test_a_failed_job_shows_the_reason_and_a_retry_button(sync_env, client, approved, reviewer):
    sync_env.control.faults(
        {
            "kind": "error",
            "status": 403,
            "code": 1500,
            "message": "Office suspended",
            "routes": ["listings.create"],
        }
    )
    publishing.start(approved, by=reviewer)
    publishing.run(approved.pk)
    assert Promotion.objects.get(pk=approved.pk).state == PromotionState.FAILED
    client.force_login(reviewer)
    page = client.get(reverse("drafts:draft_review", args=[approved.pk])).content.decode()
    assert "Office suspended" in page
    assert "Retry publishing" in page


def test_the_live_page_says_when_the_mls_does_not_answer(sync_env, client, approved, reviewer):
    publishing.start(approved, by=reviewer)
    publishing.run(approved.pk)
    sync_env.control.faults({"kind": "server_error", "status": 503, "routes": ["listings.get"]})
    client.force_login(reviewer)
    response = client.get(reverse("mls:live_listing", args=[approved.pk]))
    assert response.status_code == 502
    assert "did not return the listing" in response.content.decode()


# --- The permission matrix, extended to publishing -----------------------------------------

REVIEWERS = ["office_admin", "company_admin"]
VISIBLE_NOT_REVIEWERS = ["agent", "co_agent"]
HIDDEN = [
    "office_agent",
    "other_office_agent",
    "other_office_admin",
    "other_company_agent",
    "other_company_admin",
]
SIGNED_OUT = ["anonymous", "inactive_agent"]


@pytest.mark.parametrize("actor_name", REVIEWERS + VISIBLE_NOT_REVIEWERS + HIDDEN + SIGNED_OUT)
def test_who_may_publish(memory_broker, cast, actor_name):  # noqa: F811
    draft = cast.draft
    Draft.objects.filter(pk=draft.pk).update(
        status=DraftStatus.APPROVED, beds_total=3, baths_total=2, year_built=2001, public_remarks="Ready."
    )
    client = Client()
    actor = cast.actor(actor_name)
    if actor is not None:
        client.force_login(actor)
    response = client.post(reverse("mls:draft_promote", args=[draft.pk]))
    draft.refresh_from_db()
    if actor_name in REVIEWERS:
        assert response.status_code == 302
        assert draft.status == DraftStatus.PROMOTING
        assert Promotion.objects.get(pk=draft.pk).started_by == actor
        return
    assert draft.status == DraftStatus.APPROVED
    assert not Promotion.objects.filter(pk=draft.pk).exists()
    if actor_name in VISIBLE_NOT_REVIEWERS:
        assert response.status_code == 302  # back to the page with the refusal as a message
    elif actor_name in HIDDEN:
        assert response.status_code == 404
    else:
        assert response.status_code == 302 and "/login" in response["Location"]


def test_the_live_page_reads_as_a_listing(sync_env, client, approved, reviewer, agent):
    """Key facts up top, the portal's photos as a gallery, the listing agent and office from the
    portal rather than the MLS's placeholders."""
    type(agent).objects.filter(pk=agent.pk).update(preferred_phone="701-555-0142", email="pat@example.com")
    office = approved.office
    type(office).objects.filter(pk=office.pk).update(phone="701-555-0100")
    publishing.start(approved, by=reviewer)
    assert publishing.run(approved.pk) == "live"
    client.force_login(agent)

    body = client.get(reverse("mls:live_listing", args=[approved.pk])).content.decode()

    facts = body[body.index('id="live-facts"') :][:600]
    assert "$250,000" in facts and ">3<" in facts and ">2<" in facts
    porch, den = approved.photos.order_by("position")
    assert "data-gallery-lightbox" in body and body.count("data-gallery-thumb") == 2
    # These photos have a master and no variants yet: the gallery shows the master.
    for photo in (porch, den):
        assert (
            f'href="{reverse("media_manager:photo_file", args=[approved.pk, photo.pk, "master"])}?v=' in body
        )
        assert (
            client.get(
                reverse("media_manager:photo_file", args=[approved.pk, photo.pk, "master"])
            ).status_code
            == 200
        )
    assert 'alt="Photo 2: Den"' in body
    agent_card = body[body.index('id="live-agent"') :][:1500]
    assert agent.get_full_name() in agent_card
    assert 'href="tel:701-555-0142"' in agent_card and 'href="mailto:pat@example.com"' in agent_card
    assert office.name in agent_card and "701-555-0100" in agent_card
    assert "Joe J. Agent" not in body and "BigBrokerCo" not in body


def test_the_gallery_prefers_the_variants_and_falls_back_to_the_master():
    from media_manager.models import Photo
    from mls.views import LivePhoto

    processed = LivePhoto(1, {}, Photo(variants={"thumb": "t", "medium": "m", "large": "l"}, master="x"))
    unprocessed = LivePhoto(2, {}, Photo(variants={}, master="x"))
    unknown = LivePhoto(3, {"Name": "Elsewhere"}, None)

    assert (processed.thumb, processed.medium, processed.large) == ("thumb", "medium", "large")
    assert (unprocessed.thumb, unprocessed.medium, unprocessed.large) == ("master", "master", "master")
    assert unknown.thumb == ""
