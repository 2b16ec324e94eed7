"""A list's page of keys is read by a query compiled once per connection and list shape
(`DraftFilterForm.list_shape`, `ListedDrafts._compiled_keys`), with stand-ins for the viewer's
keys, the filters' values and the window: each viewer still gets exactly their drafts, in the
ORM's order, page by page, and a later page or another viewer of the same shape compiles nothing
of the drafts again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from drafts.models import Draft, DraftStatus
from listings_portal.compiled_get import CACHE_ATTRIBUTE, WINDOW_STAND_IN, window_values, windowed_sql
from tests.factories import AgentFactory, CompanyAdminFactory, DraftFactory, OfficeAdminFactory, OfficeFactory

LIST = reverse("drafts:draft_list")
PAGE = 25


@pytest.fixture
def two_agents_drafts(office):
    """Two agents of one office with drafts each way, in other statuses, in the trash, and an
    office elsewhere: every draft a distinct moment, so every order is one order."""
    first, second = AgentFactory(office=office), AgentFactory(office=office)
    elsewhere = AgentFactory(office=OfficeFactory())
    now = timezone.now()
    made = []
    for n in range(36):
        made.append(DraftFactory(list_agent=first, list_price=200000 + n * 500))
        made.append(DraftFactory(list_agent=second, co_list_agent=first if n % 3 == 0 else None))
        made.append(
            DraftFactory(list_agent=second, created_by=first)
            if n % 4 == 0
            else DraftFactory(list_agent=elsewhere)
        )
    for minutes, draft in enumerate(made):
        Draft.objects.filter(pk=draft.pk).update(updated_at=now - timedelta(minutes=minutes))
    Draft.objects.filter(pk__in=[draft.pk for draft in made[::5]]).update(status=DraftStatus.SUBMITTED)
    Draft.objects.filter(pk__in=[draft.pk for draft in made[::7]]).update(deleted_at=now)
    return first, second, elsewhere


def orm_keys(user, *, sort: str, status: str | None = None, trash: bool = False) -> list[int]:
    drafts = Draft.objects.visible_to(user)
    drafts = drafts.in_trash() if trash else drafts.active()
    if status:
        drafts = drafts.filter(status=status)
    return list(drafts.ordered_by(sort).values_list("pk", flat=True))


def listed_keys(client, **params) -> list[int]:
    keys, number = [], 1
    while True:
        response = client.get(LIST, {**params, "page": number})
        keys += [row.draft.pk for row in response.context["rows"]]
        if not response.context["page"].has_next():
            return keys
        number += 1


@pytest.mark.parametrize("sort", ["-updated", "price", "-address", "status"])
@pytest.mark.parametrize(("status", "trash"), [(None, False), (DraftStatus.SUBMITTED, False), (None, True)])
def test_every_viewer_sees_their_drafts_in_the_orms_order(
    client, office, two_agents_drafts, sort, status, trash
):
    first, second, elsewhere = two_agents_drafts
    viewers = [
        first,
        second,
        elsewhere,
        OfficeAdminFactory(office=office),
        CompanyAdminFactory(office=office),
    ]
    params = {"sort": sort} | ({"status": status} if status else {}) | ({"trash": "1"} if trash else {})
    for viewer in viewers:  # one after another in one process: the compiled queries are shared
        client.force_login(viewer)
        expected = orm_keys(viewer, sort=sort, status=status, trash=trash)
        assert expected, viewer
        assert listed_keys(client, **params) == expected, viewer


def compiled_shapes(kind: str) -> set:
    """The shapes of `kind` compiled on this connection (`compiled_get.compiled_once`)."""
    return {key for key in connections["default"].__dict__.get(CACHE_ATTRIBUTE, {}) if key[0] == kind}


def test_a_later_page_and_another_agent_compile_no_query_of_the_drafts(client, two_agents_drafts, compiled):
    first, second, _ = two_agents_drafts
    client.force_login(first)
    client.get(LIST, {"sort": "price"})
    assert Draft in compiled  # the first page of the shape compiles it
    keys_shapes, rows_shapes = compiled_shapes("listed-keys"), compiled_shapes("in_order_of")
    assert len(keys_shapes) == 1

    compiled.clear()
    client.get(LIST, {"sort": "price", "page": 2})
    client.force_login(second)
    client.get(LIST, {"sort": "price"})
    assert compiled_shapes("listed-keys") == keys_shapes
    # Only the rows' SELECT of a page of another length than before (compiled per number of keys).
    assert compiled.count(Draft) == len(compiled_shapes("in_order_of") - rows_shapes)


def test_the_windows_numbers_become_parameters_in_their_places():
    start, stop = WINDOW_STAND_IN.start, WINDOW_STAND_IN.stop
    sql = (
        f"(SELECT id FROM t WHERE a = %s AND b LIKE '%%x' LIMIT {stop}) UNION "
        f"(SELECT id FROM t WHERE c = %s LIMIT {stop}) LIMIT {stop - start} OFFSET {start}"
    )
    windowed, roles = windowed_sql(sql, ("user", "status"))
    assert windowed == (
        "(SELECT id FROM t WHERE a = %s AND b LIKE '%%x' LIMIT %s) UNION "
        "(SELECT id FROM t WHERE c = %s LIMIT %s) LIMIT %s OFFSET %s"
    )
    assert roles == ("user", "window_stop", "status", "window_stop", "window_limit", "window_offset")
    values = window_values(slice(50, 75))
    assert [values[role]() for role in roles[-3:]] == [75, 25, 50]


def test_a_page_is_as_many_statements_as_before(client, two_agents_drafts, django_assert_num_queries):
    first, _, _ = two_agents_drafts
    client.force_login(first)
    client.get(LIST)
    # As many as when the ORM built the page's keys query (main: 7): one for the keys.
    with django_assert_num_queries(7):
        assert client.get(LIST, {"page": 2}).status_code == 200

