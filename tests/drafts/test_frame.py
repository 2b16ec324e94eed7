"""The draft frame (templates/drafts/draft_frame.html): one header and tab bar on every page of a
draft, and its live region (drafts:draft_frame) that re-reads itself after every action."""

import json

import pytest
from django.urls import reverse

from drafts.models import Draft, DraftStatus
from tests.factories import OfficeAdminFactory

from .conftest import htmx
from .test_transitions import in_status

S = DraftStatus


def frame_url(draft: Draft, tab: str = "details") -> str:
    return reverse("drafts:draft_frame", args=[draft.pk]) + f"?tab={tab}"


def one_frame(body: str) -> None:
    """Exactly one frame, with the tabs every page of a draft shares."""
    assert body.count('id="draft-frame"') == 1
    assert body.count('aria-label="Draft sections"') == 1
    for label in ("Details", "Photos &amp; documents", "History", "MLS sync"):
        assert f">{label}</a>" in body


@pytest.mark.parametrize(
    ("name", "tab_label"),
    [
        ("drafts:draft_edit", "Details"),
        ("media_manager:draft_media", "Photos &amp; documents"),
        ("drafts:draft_history", "History"),
        ("mls:draft_sync", "MLS sync"),
    ],
)
def test_every_page_of_a_draft_has_the_one_frame_with_its_tab_current(agent_client, draft, name, tab_label):
    body = agent_client.get(reverse(name, args=[draft.pk])).content.decode()

    one_frame(body)
    assert f' aria-current="page">{tab_label}</a>' in body
    assert 'id="draft-status-badge"' in body and 'id="readiness-head"' in body and 'id="sync-badge"' in body
    assert "Listing details" not in body  # the media page's own tabs are gone


def test_the_review_tab_is_for_reviewers_and_the_review_page_has_the_frame(client, office, draft):
    client.force_login(OfficeAdminFactory(office=office))

    body = client.get(reverse("drafts:draft_review", args=[draft.pk])).content.decode()

    one_frame(body)
    assert ' aria-current="page">Review</a>' in body
    assert ">Live listing</a>" not in body  # not live


def test_agents_get_no_review_tab(agent_client, draft):
    body = agent_client.get(reverse("drafts:draft_edit", args=[draft.pk])).content.decode()

    assert ">Review</a>" not in body


def test_read_only_pages_mark_the_frame_so_no_drag_grip_shows(agent_client, draft):
    editor = agent_client.get(reverse("drafts:draft_edit", args=[draft.pk])).content.decode()
    history = agent_client.get(reverse("drafts:draft_history", args=[draft.pk])).content.decode()

    assert 'class="draft-head draft-frame" id="draft-frame"' in editor
    assert 'class="draft-head draft-frame is-read-only" id="draft-frame"' in history


def test_the_saved_state_shows_only_where_the_page_edits(agent_client, draft):
    editor = agent_client.get(reverse("drafts:draft_edit", args=[draft.pk])).content.decode()
    history = agent_client.get(reverse("drafts:draft_history", args=[draft.pk])).content.decode()

    assert 'id="page-save-status"' in editor
    assert 'id="page-save-status"' not in history


def test_the_live_region_reads_the_status_now_with_its_banner_out_of_band(agent_client, draft):
    in_status(draft, S.CHANGES_REQUESTED)
    before = agent_client.get(frame_url(draft), **htmx()).content.decode()
    Draft.objects.filter(pk=draft.pk).update(status=S.SUBMITTED)

    response = agent_client.get(frame_url(draft), **htmx())

    body = response.content.decode()
    assert response.status_code == 200
    assert "Changes requested" in before
    assert ">Submitted for review</span>" in body and "Changes requested" not in body
    assert 'id="draft-banner" hx-swap-oob="true"' in body
    assert 'id="draft-frame"' not in body  # the tabs and the saved state stay as they are
    assert "draft-changed from:body" in body and "every 3s" not in body
    assert "draft-saved" in before and "draft-saved" not in body  # only an edit's first save


def test_the_live_region_polls_while_publishing_and_stops_once_live(agent_client, draft):
    Draft.objects.filter(pk=draft.pk).update(status=S.PROMOTING)
    publishing = agent_client.get(frame_url(draft), **htmx()).content.decode()
    Draft.objects.filter(pk=draft.pk).update(status=S.LIVE)
    live = agent_client.get(frame_url(draft), **htmx()).content.decode()

    assert ">Publishing</span>" in publishing and "every 3s" in publishing
    assert ">Live</span>" in live and "every 3s" not in live


def test_on_the_review_page_the_open_comment_count_comes_out_of_band(client, office, draft):
    client.force_login(OfficeAdminFactory(office=office))
    Draft.objects.filter(pk=draft.pk).update(open_review_comments=3)

    review = client.get(frame_url(draft, "review"), **htmx()).content.decode()
    details = client.get(frame_url(draft, "details"), **htmx()).content.decode()

    assert '<span class="subtle" id="open-comment-count" hx-swap-oob="true">(3 open in all)</span>' in review
    assert "open-comment-count" not in details  # no target there: htmx would log an error


def test_a_comment_tells_the_frame_to_re_read(client, office, draft):
    client.force_login(OfficeAdminFactory(office=office))
    in_status(draft, S.SUBMITTED)

    response = client.post(
        reverse("drafts:review_comment_create", args=[draft.pk]),
        {"target_kind": "draft", "target_key": "", "text": "The roof photo is dark."},
        **htmx(),
    )

    assert response.status_code == 200
    assert "draft-changed" in json.loads(response["HX-Trigger"])


def test_the_live_region_requires_login_and_the_office(client, draft, other_office):
    anonymous = client.get(frame_url(draft))
    client.force_login(OfficeAdminFactory(office=other_office))
    stranger = client.get(frame_url(draft))

    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert stranger.status_code == 404


def test_the_live_region_refuses_post(agent_client, draft):
    assert agent_client.post(frame_url(draft)).status_code == 405


def test_the_media_page_of_a_draft_that_cannot_change_is_read_only(agent_client, draft):
    in_status(draft, S.LIVE, live_listing_id="20260101000000000001000000")

    body = agent_client.get(reverse("media_manager:draft_media", args=[draft.pk])).content.decode()

    assert 'class="draft-head draft-frame is-read-only" id="draft-frame"' in body
    assert ">Live listing</a>" in body
