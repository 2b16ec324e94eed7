"""get_draft_for: its query is compiled once per shape, and reads exactly what the ORM reads."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.transaction import TransactionManagementError
from django.http import Http404
from django.utils import timezone

from drafts.access import get_draft_for
from drafts.models import Draft
from drafts.models.status import DraftStatus
from mls.models import DraftSync, SyncState
from tests.factories import UserFactory

from .conftest import Cast

SEEING = ["agent", "co_agent", "office_admin", "company_admin", "superuser"]
NOT_SEEING = [
    "office_agent",
    "other_office_agent",
    "other_office_admin",
    "other_company_agent",
    "other_company_admin",
    "inactive_agent",
]
RELATIONS = ("office", "list_agent", "co_list_agent", "sync")


def _person(cast: Cast, name: str):
    if name == "superuser":
        return UserFactory(office=None, is_superuser=True)
    return cast.actor(name)


def _columns(draft: Draft) -> dict:
    return {field.attname: getattr(draft, field.attname) for field in Draft._meta.concrete_fields}


@pytest.mark.django_db
@pytest.mark.parametrize("name", SEEING)
@pytest.mark.parametrize("related", [True, False])
def test_reads_the_same_draft_and_relations_as_the_orm(cast, name, related, django_assert_num_queries):
    DraftSync.objects.create(draft=cast.draft, state=SyncState.SYNCED)
    user = _person(cast, name)
    drafts = Draft.objects.visible_to(user).active()
    if related:
        drafts = drafts.select_related("office__company", "list_agent", "co_list_agent", "sync")
    expected = drafts.get(pk=cast.draft.pk)
    with django_assert_num_queries(1):  # the company admin's office was read by the ORM's call
        got = get_draft_for(user, cast.draft.pk, related=related)
    got_again = get_draft_for(user, cast.draft.pk, related=related)
    for draft in (got, got_again):
        assert type(draft) is Draft and draft._state.db == expected._state.db and not draft._state.adding
        assert _columns(draft) == _columns(expected)
        assert draft.is_editable
        for relation in RELATIONS:
            field = Draft._meta.get_field(relation)
            assert field.is_cached(draft) is field.is_cached(expected) is related
        if related:
            assert draft.office.company == expected.office.company
            assert draft.list_agent == cast.agent and draft.co_list_agent == cast.co_agent
            assert draft.sync.state == SyncState.SYNCED
            assert draft.office.company.name == expected.office.company.name


@pytest.mark.django_db
def test_a_missing_co_agent_and_sync_state_are_none(agent, draft, django_assert_num_queries):
    get_draft_for(agent, draft.pk)  # compiled
    with django_assert_num_queries(1):
        got = get_draft_for(agent, draft.pk)
        assert got.co_list_agent is None
        with pytest.raises(DraftSync.DoesNotExist):
            got.sync
    assert got.list_agent == agent and got.office.company_id == agent.office.company_id


@pytest.mark.django_db
@pytest.mark.parametrize("name", NOT_SEEING)
def test_what_others_may_not_see_is_a_404(cast, name):
    user = _person(cast, name)
    for _ in range(2):  # compiling, then compiled
        with pytest.raises(Http404):
            get_draft_for(user, cast.draft.pk)
        with pytest.raises(Http404):
            get_draft_for(user, cast.draft.pk, include_trash=True, related=False)


@pytest.mark.django_db
def test_a_signed_out_visitor_and_a_missing_draft_are_404s(cast, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(Http404):
        get_draft_for(AnonymousUser(), cast.draft.pk)
    for _ in range(2):
        with pytest.raises(Http404):
            get_draft_for(cast.agent, cast.draft.pk + 1000)


@pytest.mark.django_db
def test_the_trash_is_read_only_when_asked_for_and_never_editable(cast):
    Draft.objects.filter(pk=cast.draft.pk).update(deleted_at=timezone.now())
    for _ in range(2):
        with pytest.raises(Http404):
            get_draft_for(cast.agent, cast.draft.pk)
        assert get_draft_for(cast.agent, cast.draft.pk, include_trash=True).deleted_at is not None
        with pytest.raises(PermissionDenied):
            get_draft_for(cast.office_admin, cast.draft.pk, include_trash=True, write=True)


@pytest.mark.django_db
def test_a_draft_being_published_is_a_403_to_write(cast):
    Draft.objects.filter(pk=cast.draft.pk).update(status=DraftStatus.PROMOTING)
    for _ in range(2):
        assert get_draft_for(cast.agent, cast.draft.pk).status == DraftStatus.PROMOTING
        with pytest.raises(PermissionDenied):
            get_draft_for(cast.agent, cast.draft.pk, write=True)


@pytest.mark.django_db
def test_each_user_gets_their_own_parameters(cast):
    """The compiled query of one agent is not the answer for another agent of the same shape."""
    assert get_draft_for(cast.agent, cast.draft.pk).pk == cast.draft.pk
    with pytest.raises(Http404):
        get_draft_for(cast.office_agent, cast.draft.pk)
    assert get_draft_for(cast.co_agent, cast.draft.pk).pk == cast.draft.pk
    with pytest.raises(Http404):
        get_draft_for(cast.other_company_admin, cast.draft.pk)
    assert get_draft_for(cast.company_admin, cast.draft.pk).pk == cast.draft.pk


@pytest.mark.django_db(transaction=True)
def test_a_locked_read_needs_a_transaction(cast):
    with transaction.atomic():
        assert get_draft_for(cast.agent, cast.draft.pk, lock=True, related=False).pk == cast.draft.pk
    with transaction.atomic():
        assert get_draft_for(cast.agent, cast.draft.pk, lock=True, related=False).pk == cast.draft.pk
    if transaction.get_connection().features.has_select_for_update:
        with pytest.raises(TransactionManagementError):
            get_draft_for(cast.agent, cast.draft.pk, lock=True, related=False)


@pytest.mark.django_db
def test_the_query_is_compiled_once_per_shape(cast, compiled):
    get_draft_for(cast.agent, cast.draft.pk)
    first = compiled.count(Draft)
    assert first >= 1
    for user in (cast.agent, cast.co_agent, cast.agent):
        get_draft_for(user, cast.draft.pk)
    assert compiled.count(Draft) == first
    get_draft_for(cast.agent, cast.draft.pk, related=False)  # another shape: compiled once more
    assert compiled.count(Draft) == first + 1
