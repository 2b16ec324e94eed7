"""Role x object x action: who may reach the draft through each URL of the drafts app."""

import pytest
from django.test import Client
from django.urls import reverse

from drafts.models import Draft
from mls.models import DraftSync, SyncState
from tests.factories import DocumentFactory, PhotoFactory

from .conftest import field_post, htmx

VISIBLE = ["agent", "co_agent", "office_admin", "company_admin"]
HIDDEN = [
    "office_agent",
    "other_office_agent",
    "other_office_admin",
    "other_company_agent",
    "other_company_admin",
]
SIGNED_OUT = ["anonymous", "inactive_agent"]

# action: (method, url name, body builder, htmx?, status when allowed)
ACTIONS = {
    "edit": ("get", "drafts:draft_edit", None, False, 200),
    "history": ("get", "drafts:draft_history", None, False, 200),
    "history_fragment": ("get", "drafts:draft_history", None, True, 200),
    "rules_fragment": ("get", "drafts:draft_rules", None, True, 200),
    "nearby_fragment": ("get", "drafts:draft_nearby", None, True, 200),
    "field_save": (
        "post",
        "drafts:draft_field_save",
        lambda d: field_post(d, "Moorhead", seen="Fargo"),
        True,
        200,
    ),
    "field_save_plain": (
        "post",
        "drafts:draft_field_save",
        lambda d: field_post(d, "Moorhead", seen="Fargo"),
        False,
        302,
    ),
    "duplicate": ("post", "drafts:draft_duplicate", lambda d: {}, False, 302),
    "trash": ("post", "drafts:draft_trash", lambda d: {}, False, 302),
    "restore": ("post", "drafts:draft_restore", lambda d: {}, False, 302),
}
MUTATING = ["draft_field_save", "draft_duplicate", "draft_trash", "draft_restore"]


def _url(name: str, draft: Draft) -> str:
    if name == "drafts:draft_field_save":
        return reverse(name, args=[draft.pk, "city"])
    return reverse(name, args=[draft.pk])


def _request(client: Client, action: str, draft: Draft):
    method, name, body, is_htmx, _ = ACTIONS[action]
    headers = htmx() if is_htmx else {}
    if method == "get":
        return client.get(_url(name, draft), **headers)
    return client.post(_url(name, draft), body(draft), **headers)


def _client_for(cast, actor_name: str) -> Client:
    client = Client()
    actor = cast.actor(actor_name)
    if actor is not None:
        client.force_login(actor)
    return client


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor_name", VISIBLE + HIDDEN + SIGNED_OUT)
def test_permission_matrix(cast, actor_name, action):
    draft = cast.draft
    if action == "restore":
        draft.move_to_trash(by=cast.agent)
    version_before = Draft.objects.get(pk=draft.pk).version
    count_before = Draft.objects.count()

    response = _request(_client_for(cast, actor_name), action, draft)

    after = Draft.objects.get(pk=draft.pk)
    if actor_name in VISIBLE:
        assert response.status_code == ACTIONS[action][4], response.content[:500]
        if action.startswith("field_save"):
            assert after.city == "Moorhead"
        if action == "duplicate":
            assert Draft.objects.count() == count_before + 1
        if action == "trash":
            assert after.is_deleted
        if action == "restore":
            assert not after.is_deleted
    elif actor_name in HIDDEN:
        # Another office's (or another agent's) draft does not exist for them: 404, never 403.
        assert response.status_code == 404
        assert after.version == version_before
        assert after.city == "Fargo"
        assert Draft.objects.count() == count_before
        assert after.is_deleted == (action == "restore")
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
        assert after.version == version_before
        assert Draft.objects.count() == count_before


@pytest.mark.parametrize("actor_name", VISIBLE + HIDDEN)
def test_list_shows_exactly_the_visible_drafts(cast, actor_name):
    response = _client_for(cast, actor_name).get(reverse("drafts:draft_list"))

    assert response.status_code == 200
    listed = [draft.pk for draft, *_ in response.context["rows"]]
    assert (cast.draft.pk in listed) == (actor_name in VISIBLE)


def test_list_requires_login(client):
    response = client.get(reverse("drafts:draft_list"), **htmx())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", MUTATING)
def test_mutating_views_reject_get(cast, name):
    client = _client_for(cast, "agent")
    url = _url(f"drafts:{name}", cast.draft)

    assert client.get(url).status_code == 405
    assert client.get(url, **htmx()).status_code == 405


def test_create_rejects_get_and_requires_login(client, agent):
    url = reverse("drafts:draft_create")

    anonymous = client.post(url, {"property_type": "A"})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    client.force_login(agent)
    assert client.get(url).status_code == 405
    assert Draft.objects.count() == 0


@pytest.mark.parametrize("name", MUTATING)
def test_mutating_views_require_login(cast, name):
    if name == "draft_restore":
        cast.draft.move_to_trash(by=cast.agent)
    response = Client().post(_url(f"drafts:{name}", cast.draft), field_post(cast.draft, "X"), **htmx())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("name", ["draft_edit", "draft_history", "draft_rules", "draft_nearby"])
def test_read_views_reject_post(cast, name):
    client = _client_for(cast, "agent")

    assert client.post(_url(f"drafts:{name}", cast.draft)).status_code == 405


@pytest.mark.parametrize("name", MUTATING)
def test_mutating_views_need_the_csrf_token(cast, name):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.agent)

    response = client.post(_url(f"drafts:{name}", cast.draft), field_post(cast.draft, "X"), **htmx())

    assert response.status_code == 403
    assert Draft.objects.get(pk=cast.draft.pk).city == "Fargo"


def test_hidden_drafts_are_404_for_neighbouring_ids_too(cast):
    client = _client_for(cast, "other_office_agent")

    for pk in (cast.draft.pk, cast.draft.pk + 1, 999_999):
        assert client.get(reverse("drafts:draft_edit", args=[pk])).status_code == 404


def test_live_draft_is_read_only_for_its_own_agent(cast):
    Draft.objects.filter(pk=cast.draft.pk).update(status="live")
    client = _client_for(cast, "agent")

    page = client.get(reverse("drafts:draft_edit", args=[cast.draft.pk]))
    save = client.post(
        _url("drafts:draft_field_save", cast.draft),
        field_post(cast.draft, "Moorhead", seen="Fargo"),
        **htmx(),
    )
    trash = client.post(reverse("drafts:draft_trash", args=[cast.draft.pk]))

    assert page.status_code == 200
    assert page.context["can_edit"] is False
    assert b"data-autosave" not in page.content
    assert save.status_code == 403
    assert trash.status_code == 403
    assert Draft.objects.get(pk=cast.draft.pk).city == "Fargo"


# --- The company admin row across the other apps ---------------------------------------------
# A company admin (the designated broker) oversees every office of their company: `cast`
# seats them in the other office, so each page below is another office's draft to them.
# Another company's admin gets a 404 everywhere, as any stranger does.

COMPANY_ROW = ["company_admin", "other_company_admin"]


@pytest.fixture
def draft_media(cast):
    return {
        "photos": [PhotoFactory(draft=cast.draft, by=cast.agent, original_name=f"{n}.jpg") for n in (1, 2)],
        "document": DocumentFactory(draft=cast.draft, by=cast.agent, name="Survey", stored=True),
    }


# page: (url name, extra url args from the media, htmx?)
COMPANY_PAGES = {
    "media_page": ("media_manager:draft_media", lambda m: [], False),
    "photo_grid": ("media_manager:photo_grid", lambda m: [], True),
    "document_list": ("media_manager:document_list", lambda m: [], True),
    "document_file": ("media_manager:document_file", lambda m: [m["document"].pk], False),
    "sync_page": ("mls:draft_sync", lambda m: [], False),
    "sync_badge": ("mls:draft_sync_badge", lambda m: [], True),
    "publishing_panel": ("mls:promotion_status", lambda m: [], True),
}


@pytest.mark.parametrize("page", COMPANY_PAGES)
@pytest.mark.parametrize("actor_name", COMPANY_ROW)
def test_company_admin_row_reaches_the_media_and_sync_pages(cast, draft_media, actor_name, page):
    name, extra, is_htmx = COMPANY_PAGES[page]
    url = reverse(name, args=[cast.draft.pk, *extra(draft_media)])

    response = _client_for(cast, actor_name).get(url, **(htmx() if is_htmx else {}))

    assert response.status_code == (200 if actor_name == "company_admin" else 404)


def media_change(action: str, draft: Draft, media: dict) -> tuple[str, dict]:
    second_photo, document = media["photos"][1], media["document"]
    return {
        "make_primary": (reverse("media_manager:photo_make_primary", args=[draft.pk, second_photo.pk]), {}),
        "photo_to_trash": (reverse("media_manager:photo_delete", args=[draft.pk, second_photo.pk]), {}),
        "document_rename": (
            reverse("media_manager:document_update", args=[draft.pk, document.pk]),
            {"name": "Boundary survey", "privacy": document.privacy},
        ),
    }[action]


@pytest.mark.parametrize("action", ["make_primary", "photo_to_trash", "document_rename"])
@pytest.mark.parametrize("actor_name", COMPANY_ROW)
def test_company_admin_row_manages_the_media(cast, draft_media, actor_name, action):
    second_photo, document = draft_media["photos"][1], draft_media["document"]
    url, body = media_change(action, cast.draft, draft_media)

    response = _client_for(cast, actor_name).post(url, body, **htmx())

    second_photo.refresh_from_db()
    document.refresh_from_db()
    changed = {
        "make_primary": second_photo.is_primary,
        "photo_to_trash": second_photo.deleted_at is not None,
        "document_rename": document.name == "Boundary survey",
    }[action]
    if actor_name == "company_admin":
        assert response.status_code == 200
        assert changed
    else:
        assert response.status_code == 404
        assert not changed


@pytest.mark.parametrize("actor_name", COMPANY_ROW)
def test_company_admin_row_retries_the_sync(cast, actor_name):
    response = _client_for(cast, actor_name).post(reverse("mls:draft_sync_retry", args=[cast.draft.pk]))

    assert response.status_code == (302 if actor_name == "company_admin" else 404)


def test_company_admin_starts_a_draft_for_an_agent_of_any_office_of_the_company(cast):
    client = _client_for(cast, "company_admin")

    response = client.post(
        reverse("drafts:draft_create"), {"property_type": "A", "list_agent": cast.agent.pk}
    )

    started = Draft.objects.exclude(pk=cast.draft.pk).get()
    assert response.status_code == 302
    assert (started.list_agent, started.office, started.created_by) == (
        cast.agent,
        cast.agent.office,
        cast.company_admin,
    )


def test_company_admin_cannot_start_a_draft_for_another_company_s_agent(cast):
    client = _client_for(cast, "company_admin")

    response = client.post(
        reverse("drafts:draft_create"), {"property_type": "A", "list_agent": cast.other_company_agent.pk}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("drafts:draft_list")
    assert Draft.objects.count() == 1


@pytest.mark.parametrize("actor_name", ["company_admin", "other_company_admin", "other_office_admin"])
def test_company_admin_row_in_the_review_queue_and_needs_attention(cast, actor_name):
    Draft.objects.filter(pk=cast.draft.pk).update(status="submitted")
    DraftSync.objects.update_or_create(draft=cast.draft, defaults={"state": SyncState.ATTENTION})
    client = _client_for(cast, actor_name)

    queue = client.get(reverse("drafts:review_queue"))
    attention = client.get(reverse("mls:needs_attention"))

    sees = actor_name == "company_admin"
    assert [row.draft.pk for row in queue.context["rows"]] == ([cast.draft.pk] if sees else [])
    assert [row.draft_id for row in attention.context["page"]] == ([cast.draft.pk] if sees else [])
