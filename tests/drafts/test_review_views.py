"""The review pages through the test client: who reaches what, the decisions, comments in the
review page and in the editor."""

import pytest
from django.test import Client
from django.urls import reverse

from drafts.models import Draft, DraftStatus, ReviewComment
from tests.factories import DraftFactory, OfficeAdminFactory, PhotoFactory

from .conftest import add_required_media, htmx, make_complete
from .test_transitions import COMPLETE, in_status

S = DraftStatus

VISIBLE = ["agent", "co_agent", "office_admin", "company_admin"]
REVIEWERS = ["office_admin", "company_admin"]
HIDDEN = [
    "office_agent",
    "other_office_agent",
    "other_office_admin",
    "other_company_agent",
    "other_company_admin",
]
SIGNED_OUT = ["anonymous", "inactive_agent"]


def client_for(cast, actor_name: str) -> Client:
    client = Client()
    actor = cast.actor(actor_name)
    if actor is not None:
        client.force_login(actor)
    return client


def url(name: str, draft: Draft, *extra) -> str:
    return reverse(name, args=[draft.pk, *extra])


# action -> (url name, status the draft starts in, POST body (None: GET), who succeeds, status then)
ACTIONS = {
    "review_page": ("drafts:draft_review", S.SUBMITTED, None, REVIEWERS, 200),
    "submit": ("drafts:draft_submit", S.DRAFT, {}, ["agent", "co_agent"], 302),
    "withdraw": ("drafts:draft_withdraw", S.SUBMITTED, {}, ["agent", "co_agent"], 302),
    "approve": ("drafts:draft_approve", S.SUBMITTED, {}, REVIEWERS, 302),
    "request_changes": (
        "drafts:draft_request_changes",
        S.SUBMITTED,
        {"reason": "More photos."},
        REVIEWERS,
        302,
    ),
    "comment": (
        "drafts:review_comment_create",
        S.SUBMITTED,
        {"target_kind": "field", "target_key": "city", "text": "Is it Fargo or West Fargo?"},
        REVIEWERS,
        302,
    ),
}
RESULT = {
    "submit": S.SUBMITTED,
    "withdraw": S.DRAFT,
    "approve": S.APPROVED,
    "request_changes": S.CHANGES_REQUESTED,
}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor_name", VISIBLE + HIDDEN + SIGNED_OUT)
def test_review_permission_matrix(cast, action, actor_name):
    name, start, body, allowed, ok_status = ACTIONS[action]
    draft = add_required_media(in_status(cast.draft, start, **COMPLETE))
    client = client_for(cast, actor_name)

    response = client.get(url(name, draft)) if body is None else client.post(url(name, draft), body)

    after = Draft.objects.get(pk=draft.pk)
    if actor_name in allowed:
        assert response.status_code == ok_status, response.content[:300]
        assert after.status == RESULT.get(action, start)
        if action == "comment":
            assert ReviewComment.objects.filter(draft=draft, target_key="city").count() == 1
    elif actor_name in VISIBLE:
        # They see the draft, so the page answers, but nothing changes.
        assert response.status_code in (302, 403)
        assert after.status == start
        assert not ReviewComment.objects.exists()
    elif actor_name in HIDDEN:
        assert response.status_code == 404
        assert after.status == start and after.version == draft.version
        assert not ReviewComment.objects.exists()
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
        assert after.status == start


@pytest.mark.parametrize(
    "name",
    [
        "drafts:draft_submit",
        "drafts:draft_withdraw",
        "drafts:draft_approve",
        "drafts:draft_request_changes",
        "drafts:review_comment_create",
    ],
)
def test_mutating_review_urls_refuse_get(cast, name):
    client = client_for(cast, "office_admin")

    assert client.get(url(name, cast.draft)).status_code == 405


def test_resolve_refuses_get_and_other_offices(cast):
    draft = in_status(cast.draft, S.SUBMITTED)
    comment = draft.add_review_comment(
        by=cast.office_admin, text="Check the ZIP.", target_kind="field", target_key="postal_code"
    )
    resolve = url("drafts:review_comment_resolve", draft, comment.pk)

    assert client_for(cast, "agent").get(resolve).status_code == 405
    assert client_for(cast, "other_office_admin").post(resolve).status_code == 404
    assert client_for(cast, "office_agent").post(resolve).status_code == 404
    assert client_for(cast, "anonymous").post(resolve).status_code == 302
    assert ReviewComment.objects.get(pk=comment.pk).resolved_at is None


def test_a_comment_of_another_draft_is_404(cast, office):
    mine = in_status(cast.draft, S.SUBMITTED)
    theirs = DraftFactory(list_agent=cast.office_agent, status=S.SUBMITTED)
    comment = theirs.add_review_comment(by=cast.office_admin, text="Not yours.")

    response = client_for(cast, "agent").post(url("drafts:review_comment_resolve", mine, comment.pk))

    assert response.status_code == 404
    assert ReviewComment.objects.get(pk=comment.pk).resolved_at is None


# --- Decisions through the pages -------------------------------------------------------------


def test_approve_with_blocking_errors_shows_why(cast):
    draft = in_status(cast.draft, S.SUBMITTED)  # no remarks, beds or baths
    client = client_for(cast, "office_admin")

    page = client.get(url("drafts:draft_review", draft)).content.decode()
    response = client.post(url("drafts:draft_approve", draft), follow=True)

    assert "Missing before it can be approved: Bedrooms, Baths total, Public remarks and" in page
    assert "disabled" in page
    assert "Cannot approve it yet: " in response.content.decode()
    assert Draft.objects.get(pk=draft.pk).status == S.SUBMITTED


def test_an_admin_sees_why_they_cannot_approve_their_own_draft(office):
    admin = OfficeAdminFactory(office=office)
    draft = DraftFactory(list_agent=admin, status=S.SUBMITTED, **COMPLETE)
    client = Client()
    client.force_login(admin)

    page = client.get(url("drafts:draft_review", draft)).content.decode()
    client.post(url("drafts:draft_approve", draft))

    assert "another reviewer has to approve it" in page
    assert Draft.objects.get(pk=draft.pk).status == S.SUBMITTED


def test_request_changes_without_a_reason_shows_the_form_again(cast):
    draft = in_status(cast.draft, S.SUBMITTED)

    response = client_for(cast, "office_admin").post(
        url("drafts:draft_request_changes", draft), {"reason": " "}
    )

    assert response.status_code == 422
    assert "the reason is required" in response.content.decode()
    assert Draft.objects.get(pk=draft.pk).status == S.SUBMITTED


def test_an_agent_cannot_see_the_review_page(cast):
    draft = in_status(cast.draft, S.SUBMITTED)

    assert client_for(cast, "agent").get(url("drafts:draft_review", draft)).status_code == 403
    assert client_for(cast, "agent").post(url("drafts:draft_request_changes", draft), {}).status_code == 403


def test_htmx_transitions_answer_with_a_client_redirect(cast):
    make_complete(cast.draft)
    response = client_for(cast, "agent").post(url("drafts:draft_submit", cast.draft), **htmx())

    assert response.status_code == 200
    assert response["HX-Redirect"] == url("drafts:draft_edit", cast.draft)
    assert Draft.objects.get(pk=cast.draft.pk).status == S.SUBMITTED


def test_the_editor_offers_submit_then_withdraw(cast):
    make_complete(cast.draft)
    client = client_for(cast, "agent")
    editor = url("drafts:draft_edit", cast.draft)

    before = client.get(editor).content.decode()
    client.post(url("drafts:draft_submit", cast.draft))
    after = client.get(editor).content.decode()

    assert url("drafts:draft_submit", cast.draft) in before
    assert 'id="submit-blocked"' not in before  # nothing is missing
    assert url("drafts:draft_withdraw", cast.draft) in after
    assert "Submitted for review" in after


# --- The review page: what changed, comments ------------------------------------------------


def test_the_review_page_highlights_what_changed_since_the_last_decision(cast):
    draft = cast.draft
    photo = PhotoFactory(draft=draft, by=cast.agent, original_name="front.jpg")
    make_complete(draft)
    draft.submit(by=cast.agent)
    draft.request_changes(by=cast.office_admin, reason="Wrong city.")
    draft.save_field("city", "Moorhead", by=cast.agent, seen_version=draft.version, seen_value="Fargo")
    new_photo = PhotoFactory(draft=draft, by=cast.agent, original_name="garage.jpg")
    draft.refresh_from_db()
    draft.submit(by=cast.agent)

    body = client_for(cast, "office_admin").get(url("drafts:draft_review", draft)).content.decode()

    assert 'id="review-field-city"' in body
    assert 'review-field is-changed" id="review-field-city"' in body.replace("  ", " ")
    assert "Was: Fargo" in body
    assert "<del>Fargo</del>" in body and "<ins>Moorhead</ins>" in body
    assert 'review-field is-changed" id="review-field-street_name"' not in body
    assert f'id="review-photo-{new_photo.pk}"' in body
    assert "Photo 2 (garage)</a>: added" in body
    assert f'is-changed" id="review-photo-{photo.pk}"' not in body


def test_a_first_review_says_there_is_nothing_to_compare(cast):
    draft = in_status(cast.draft, S.SUBMITTED)

    body = client_for(cast, "office_admin").get(url("drafts:draft_review", draft)).content.decode()

    assert "First review" in body


@pytest.mark.parametrize(
    ("kind", "key"),
    [("field", "public_remarks"), ("draft", ""), ("photo", None)],
)
def test_a_reviewer_comments_with_htmx_and_gets_the_thread_back(cast, kind, key):
    draft = in_status(cast.draft, S.SUBMITTED)
    if kind == "photo":
        key = str(PhotoFactory(draft=draft, by=cast.agent).pk)

    response = client_for(cast, "office_admin").post(
        url("drafts:review_comment_create", draft),
        {"target_kind": kind, "target_key": key, "text": "Please say more about the basement."},
        **htmx(),
    )

    body = response.content.decode()
    comment = ReviewComment.objects.get()
    assert response.status_code == 200
    assert f'id="comments-{kind}-{key or "draft"}"' in body
    assert "Please say more about the basement." in body
    assert (comment.target_kind, comment.target_key, comment.author) == (kind, key, cast.office_admin)
    assert Draft.objects.get(pk=draft.pk).open_review_comments == 1


def test_the_thread_sent_back_still_says_what_it_is_on(cast):
    """The toggle reads "Comment on <label>" to a screen reader on the page; the thread an htmx
    comment sends back must say the same, not a bare "Comment"."""
    draft = in_status(cast.draft, S.SUBMITTED)
    photo = PhotoFactory(draft=draft, by=cast.agent, original_name="Back porch.jpg")
    client = client_for(cast, "office_admin")

    on_field = client.post(
        url("drafts:review_comment_create", draft),
        {"target_kind": "field", "target_key": "public_remarks", "text": "Shorter, please."},
        **htmx(),
    ).content.decode()
    on_photo = client.post(
        url("drafts:review_comment_create", draft),
        {"target_kind": "photo", "target_key": str(photo.pk), "text": "Brighter?"},
        **htmx(),
    ).content.decode()

    assert '<span class="visually-hidden"> on Public remarks</span>' in on_field
    assert '<span class="visually-hidden"> on Back porch</span>' in on_photo


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("field", "not_a_field"),
        # The editor's key of an MLS field, while the MLS's lists were never read: no such field.
        ("field", "std-ListingContractDate"),
        ("photo", "999999"),
        ("document", "abc"),
        ("draft", "city"),
    ],
)
def test_comments_on_nothing_are_refused(cast, kind, key):
    draft = in_status(cast.draft, S.SUBMITTED)

    response = client_for(cast, "office_admin").post(
        url("drafts:review_comment_create", draft),
        {"target_kind": kind, "target_key": key, "text": "Hm."},
        **htmx(),
    )

    assert response.status_code == 422
    assert not ReviewComment.objects.exists()


def test_a_photo_of_another_draft_cannot_be_commented_on(cast):
    draft = in_status(cast.draft, S.SUBMITTED)
    elsewhere = PhotoFactory(draft=DraftFactory(list_agent=cast.agent), by=cast.agent)

    response = client_for(cast, "office_admin").post(
        url("drafts:review_comment_create", draft),
        {"target_kind": "photo", "target_key": str(elsewhere.pk), "text": "Hm."},
    )

    assert response.status_code == 302
    assert not ReviewComment.objects.exists()


def test_an_empty_comment_is_refused(cast):
    draft = in_status(cast.draft, S.SUBMITTED)

    response = client_for(cast, "office_admin").post(
        url("drafts:review_comment_create", draft), {"target_kind": "draft", "text": "  "}, **htmx()
    )

    assert response.status_code == 422
    assert "Write the comment first." in response.content.decode()


# --- Comments in the agent's editor ---------------------------------------------------------


@pytest.fixture
def commented(cast):
    draft = in_status(cast.draft, S.SUBMITTED)
    photo = PhotoFactory(draft=draft, by=cast.agent, original_name="front.jpg")
    field = draft.add_review_comment(
        by=cast.office_admin, text="Is the year right?", target_kind="field", target_key="city"
    )
    on_photo = draft.add_review_comment(
        by=cast.office_admin, text="Too dark.", target_kind="photo", target_key=str(photo.pk)
    )
    draft.request_changes(by=cast.office_admin, reason="See my comments.")
    return {"draft": draft, "field": field, "photo": photo, "on_photo": on_photo}


def test_the_editor_shows_comments_next_to_their_field_and_media_comments_on_top(cast, commented):
    draft = commented["draft"]

    body = client_for(cast, "agent").get(url("drafts:draft_edit", draft)).content.decode()

    city = body[body.index('id="field-city"') : body.index('id="field-state_or_province"')]
    assert "Is the year right?" in city
    assert 'id="field-comments-city"' in city
    assert "has-comments" in body[body.index('id="field-city"') - 200 : body.index('id="field-city"')]
    top = body[body.index('id="review-comments"') : body.index('id="section-location"')]
    assert "See my comments." in top and "Too dark." in top
    assert f'#photo-{commented["photo"].pk}"' in top
    assert f'#photo-{commented["photo"].pk}">Photo 1 (front)</a>' in top
    assert "A photo #" not in top
    assert "3 open" in top
    assert body.count("Is the year right?") == 1


def test_the_agent_resolves_a_comment_with_htmx(cast, commented):
    draft, comment = commented["draft"], commented["field"]

    response = client_for(cast, "agent").post(
        url("drafts:review_comment_resolve", draft, comment.pk), **htmx()
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert f'id="review-comment-{comment.pk}"' in body and "Resolved" in body
    assert "Mark resolved" not in body
    stored = ReviewComment.objects.get(pk=comment.pk)
    assert stored.resolved_at is not None and stored.resolved_by == cast.agent
    assert Draft.objects.get(pk=draft.pk).open_review_comments == 2
    editor = client_for(cast, "agent").get(url("drafts:draft_edit", draft)).content.decode()
    assert "Is the year right?" not in editor


def test_resolving_twice_counts_once(cast, commented):
    draft, comment = commented["draft"], commented["field"]
    client = client_for(cast, "co_agent")

    first = client.post(url("drafts:review_comment_resolve", draft, comment.pk))
    second = client.post(url("drafts:review_comment_resolve", draft, comment.pk))

    assert first.status_code == second.status_code == 302
    assert first["Location"].endswith("#review-comments")
    assert Draft.objects.get(pk=draft.pk).open_review_comments == 2


def test_the_editor_asks_for_comments_only_when_there_are_some(
    cast, commented, django_assert_num_queries, agent_client
):
    """No open comments: the editor's query count is unchanged (pinned in test_pages)."""
    draft = commented["draft"]
    client = client_for(cast, "agent")
    client.get(url("drafts:draft_edit", draft))
    # the editor's ten, the open comments, and the names of the photos they are about
    with django_assert_num_queries(12):
        client.get(url("drafts:draft_edit", draft))
    for comment in ReviewComment.objects.all():
        comment.resolve(by=cast.agent)
    with django_assert_num_queries(10):
        client.get(url("drafts:draft_edit", draft))


def test_the_review_page_has_a_pinned_query_count(cast, django_assert_max_num_queries):
    draft = in_status(make_complete(cast.draft), S.SUBMITTED)
    for index in range(5):
        photo = PhotoFactory(draft=draft, by=cast.agent, original_name=f"p{index}.jpg")
        draft.add_review_comment(
            by=cast.office_admin, text="Hm.", target_kind="photo", target_key=str(photo.pk)
        )
    draft.request_changes(by=cast.office_admin, reason="Redo.")
    draft.submit(by=cast.agent)
    client = client_for(cast, "office_admin")
    client.get(url("drafts:draft_review", draft))

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(url("drafts:draft_review", draft))
    for index in range(10):
        photo = PhotoFactory(draft=draft, by=cast.agent, original_name=f"q{index}.jpg")
        draft.add_review_comment(
            by=cast.office_admin, text="Hm.", target_kind="photo", target_key=str(photo.pk)
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url("drafts:draft_review", draft))
    assert response.status_code == 200


# --- The review page reads as a page: empty fields folded, one comment control a row -----------


def section_block(body: str, slug: str) -> str:
    start = body.index(f'id="review-section-{slug}"')
    return body[start : body.index("</section>", start)]


def test_empty_fields_fold_into_one_line_per_section(cast):
    import re

    draft = in_status(cast.draft, S.SUBMITTED)
    draft.add_review_comment(
        by=cast.office_admin,
        text="Please describe the house.",
        target_kind="field",
        target_key="public_remarks",
    )

    body = client_for(cast, "office_admin").get(url("drafts:draft_review", draft)).content.decode()

    # An empty field is shown only when something is said about it: a comment, a check, a change.
    rows = re.findall(r'<div class="field readonly review-field([^"]*)"[^>]*>(.*?)</div>', body, re.S)
    for classes, row in rows:
        if '<span class="value">(empty)</span>' in row:
            assert "has-comments" in classes or "is-changed" in classes or "field-rules" in row
    location = section_block(body, "location")
    assert '<span class="value">Fargo</span>' in location  # filled: shown
    folded = re.search(
        r'<details class="empty-fields"[^>]*>\s*<summary>(\d+) empty fields?</summary>', location
    )
    assert folded is not None
    assert location.count('class="review-field is-empty"') == int(folded[1]) > 0
    # An empty field someone commented on stays in view, with its comment.
    remarks = section_block(body, "remarks")
    shown = remarks.split('class="empty-fields"')[0]
    assert 'id="review-field-public_remarks"' in shown and "Please describe the house." in shown


def test_one_comment_control_per_row_and_no_repeated_prompt(cast):
    draft = in_status(cast.draft, S.SUBMITTED)
    photo = PhotoFactory(draft=draft, by=cast.agent, original_name="kitchen.jpg")

    body = client_for(cast, "office_admin").get(url("drafts:draft_review", draft)).content.decode()

    assert "Add a comment" not in body
    rows = (
        body.count('id="review-field-') + body.count('id="review-photo-') + body.count('id="review-document-')
    )
    toggles = body.count('class="comment-toggle"')
    assert toggles == rows + 1  # one a row, and the whole draft's
    assert body.count("comment-on-hover") == rows
    assert f'id="review-photo-{photo.pk}"' in body and "Photo 1 (kitchen)" in body
    assert 'Comment<span class="visually-hidden"> on kitchen</span>' in body
