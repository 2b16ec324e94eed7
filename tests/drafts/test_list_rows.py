"""The drafts list's rows are rendered once per distinct content (drafts/list_rows.py): whatever a
row shows changes on the page as soon as it changes, nothing of another office or another viewer
comes out of the memo, and the live parts (the sync badge, the restore form's CSRF token) are
rendered for each request. And an agent's list, read as a union of the three ways an agent sees a
draft, shows exactly the drafts it showed as one query, in the same order, page by page."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from drafts import list_rows, rules
from drafts.models import Draft, DraftStatus, ListedDrafts
from mls.models import DraftSync
from tests.factories import AgentFactory, DraftFactory, OfficeAdminFactory

LIST = reverse("drafts:draft_list")


def row_html(client, draft, **params) -> str:
    page = client.get(LIST, params).content.decode()
    start = page.index(f'id="draft-row-{draft.pk}"')
    return page[start : page.index("</tr>", start)]


@pytest.fixture
def admin_client(client, office):
    client.force_login(OfficeAdminFactory(office=office))
    return client


def edit(draft, name, value, by):
    draft.refresh_from_db()
    draft.save_field(name, value, by=by, seen_version=draft.version, seen_value=getattr(draft, name))


def test_every_change_to_what_a_row_shows_shows_at_once(admin_client, agent):
    draft = DraftFactory(list_agent=agent, street_number="611", street_name="8th", list_price=250000)
    first = row_html(admin_client, draft)
    assert "611 8th St" in first and "$250,000" in first and "Draft</span>" in first

    edit(draft, "street_name", "Elm", agent)
    assert "611 Elm St" in row_html(admin_client, draft)
    edit(draft, "list_price", "199999", agent)
    assert "$199,999" in row_html(admin_client, draft)
    edit(draft, "city", "Moorhead", agent)
    assert "Moorhead, ND 58103" in row_html(admin_client, draft)
    # Written without the editor (no version bump): the row still follows the stored values.
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.SUBMITTED, property_type="B")
    row = row_html(admin_client, draft)
    assert "Submitted" in row and ">Review<" in row
    assert "Draft</span>" not in row and "Residential" not in row


def test_the_agents_names_and_the_time_are_read_for_each_page(admin_client, agent):
    draft = DraftFactory(list_agent=agent)
    assert agent.get_full_name() in row_html(admin_client, draft)
    agent.first_name, agent.last_name = "Renamed", "Person"
    agent.save()
    assert "Renamed Person" in row_html(admin_client, draft)

    Draft.objects.filter(pk=draft.pk).update(updated_at=timezone.now() - timedelta(hours=3))
    assert "3\xa0hours ago" in row_html(admin_client, draft)


def test_readiness_follows_the_draft(admin_client, agent):
    draft = DraftFactory(list_agent=agent, beds_total=None, year_built=None)
    before = rules.readiness(Draft.objects.get(pk=draft.pk))[0]
    assert f'value="{before}"' in row_html(admin_client, draft)

    edit(draft, "beds_total", "3", agent)
    edit(draft, "year_built", "1990", agent)
    after = rules.readiness(Draft.objects.get(pk=draft.pk))[0]
    assert after != before
    assert f'value="{after}"' in row_html(admin_client, draft)


def test_the_sync_badge_is_live(admin_client, agent):
    draft = DraftFactory(list_agent=agent)
    assert "Waiting to sync" in row_html(admin_client, draft)
    draft.refresh_from_db()
    DraftSync.objects.create(draft=draft, confirmed_seq=draft.change_seq, last_synced_at=timezone.now())
    row = row_html(admin_client, draft)
    assert "Synced at" in row and "Waiting to sync" not in row


def test_the_sync_badges_markup_follows_the_state_and_the_script_prefix(agent):
    """The badge's markup is kept per what it shows: a state, words or links of its own are new."""
    from django.urls import clear_script_prefix, set_script_prefix

    from mls.templatetags.sync import badge_html

    draft = DraftFactory(list_agent=agent)
    waiting = badge_html(draft)
    assert 'hx-get="/sync/drafts/' in waiting and "Waiting to sync" in waiting
    set_script_prefix("/portal/")
    try:
        assert badge_html(draft) == waiting.replace('"/sync/', '"/portal/sync/')
    finally:
        clear_script_prefix()
    draft.refresh_from_db()
    DraftSync.objects.create(draft=draft, confirmed_seq=draft.change_seq)
    draft = Draft.objects.select_related("sync").get(pk=draft.pk)
    synced = badge_html(draft)
    assert "hx-get" not in synced and ">Synced</a>" in synced and f'id="sync-badge-{draft.pk}"' in synced


def test_a_pages_badges_are_each_drafts_badge_with_the_links_in_force(agent):
    """A list asks for its rows' badges at once (mls badges_html, the links read once)."""
    from django.urls import clear_script_prefix, set_script_prefix

    from mls.templatetags.sync import badge_html, badges_html

    drafts = [DraftFactory(list_agent=agent), DraftFactory(list_agent=agent, deleted_at=timezone.now())]
    assert badges_html(drafts) == [badge_html(draft) for draft in drafts]
    set_script_prefix("/portal/")
    try:
        prefixed = badges_html(drafts)
        assert prefixed == [badge_html(draft) for draft in drafts]
        assert all('href="/portal/sync/drafts/' in badge for badge in prefixed)
    finally:
        clear_script_prefix()


def test_the_restore_form_carries_this_requests_token(client, office, agent):
    draft = DraftFactory(list_agent=agent, deleted_at=timezone.now())
    for _ in range(2):
        client.logout()
        client.force_login(OfficeAdminFactory(office=office))
        client.get(LIST)  # sets the CSRF cookie
        row = row_html(client, draft, trash="on")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', row).group(1)
        # A masked form of this session's secret: Django accepts it for this client only.
        restored = client.post(
            reverse("drafts:draft_restore", args=[draft.pk]), {"csrfmiddlewaretoken": token}
        )
        assert restored.status_code in (200, 302)
        Draft.objects.filter(pk=draft.pk).update(deleted_at=timezone.now())


def test_two_offices_never_share_a_row(client, office, other_office):
    here_agent, there_agent = AgentFactory(office=office), AgentFactory(office=other_office)
    same = {"street_number": "1", "street_name": "Main", "list_price": Decimal(100000)}
    here, there = DraftFactory(list_agent=here_agent, **same), DraftFactory(list_agent=there_agent, **same)

    client.force_login(OfficeAdminFactory(office=office))
    mine = client.get(LIST)
    client.force_login(OfficeAdminFactory(office=other_office))
    theirs = client.get(LIST)

    assert [row.draft.pk for row in mine.context["rows"]] == [here.pk]
    assert [row.draft.pk for row in theirs.context["rows"]] == [there.pk]
    assert f"draft-row-{there.pk}" not in mine.content.decode()
    assert f"/drafts/{here.pk}/" not in theirs.content.decode()
    # The memo's keys name the office: identical rows of two offices are two entries.
    a = list_rows.row_content(
        here, percent=50, errors="", warnings="", viewer=here_agent, in_trash=False, spans_offices=False
    )
    b = list_rows.row_content(
        there, percent=50, errors="", warnings="", viewer=there_agent, in_trash=False, spans_offices=False
    )
    assert a.office_id != b.office_id and a != b


def test_the_viewers_columns_are_part_of_the_row(client, office, agent):
    draft = DraftFactory(list_agent=agent, status=DraftStatus.SUBMITTED)
    client.force_login(OfficeAdminFactory(office=office))
    as_admin = row_html(client, draft)
    client.force_login(agent)
    as_agent = row_html(client, draft)
    assert 'data-label="Agent"' in as_admin and ">Review<" in as_admin
    assert 'data-label="Agent"' not in as_agent and ">Review<" not in as_agent


# --- An agent's list as a union ---


@pytest.fixture
def agents_drafts(office, agent):
    """An agent's drafts every way: listed, co-listed, created for someone else, listed and
    created (both ways: once on the page), plus drafts they may not see."""
    colleague = AgentFactory(office=office)
    now = timezone.now()
    made = [
        DraftFactory(list_agent=agent),
        DraftFactory(list_agent=colleague, co_list_agent=agent),
        DraftFactory(list_agent=colleague, created_by=agent),
        DraftFactory(list_agent=colleague),  # not theirs
    ]
    made += [DraftFactory(list_agent=agent, list_price=100000 + n * 1000) for n in range(30)]
    for minutes, draft in enumerate(made):
        Draft.objects.filter(pk=draft.pk).update(updated_at=now - timedelta(minutes=minutes))
    return [
        draft
        for draft in made
        if agent.pk in (draft.list_agent_id, draft.co_list_agent_id, draft.created_by_id)
    ]


@pytest.mark.parametrize("sort", ["-updated", "updated", "price", "-price", "address"])
def test_an_agents_pages_are_those_of_the_single_query(agent_client, agent, agents_drafts, sort):
    expected = list(Draft.objects.visible_to(agent).active().ordered_by(sort).values_list("pk", flat=True))
    assert len(expected) == len(agents_drafts) == 33

    seen = []
    for number in (1, 2):
        response = agent_client.get(LIST, {"sort": sort, "page": number})
        assert response.context["page"].paginator.count == 33
        seen += [row.draft.pk for row in response.context["rows"]]
    assert seen == expected


def test_the_union_is_the_same_set_as_the_or(agent, agents_drafts):
    shown = Draft.objects.active().ordered_by("-updated")
    listed = ListedDrafts(
        shown.visible_to(agent),
        [way.active().ordered_by("-updated") for way in Draft.objects.visible_ways(agent)],
    )
    assert listed.count() == 33
    assert [draft.pk for draft in listed[0:33]] == [draft.pk for draft in shown.visible_to(agent)]
    assert [draft.pk for draft in listed[30:40]] == [draft.pk for draft in shown.visible_to(agent)[30:40]]


def test_admins_have_one_way(office_admin, company_admin):
    assert len(Draft.objects.visible_ways(office_admin)) == 1
    assert len(Draft.objects.visible_ways(company_admin)) == 1


def test_readiness_is_judged_again_on_another_day(agent):
    """A rule's bound moves with the date (the latest year built allowed is this year + 2): a
    figure judged yesterday is not today's. Kiritimati and Pago Pago are always a day apart."""
    draft = Draft.objects.get(pk=DraftFactory(list_agent=agent).pk)
    book = rules.RuleBook.fixed()
    known = list_rows._FIXED_RULES_READINESS
    known.clear()
    with timezone.override("Pacific/Kiritimati"):
        list_rows._readiness_shown(draft, book)
    with timezone.override("Pacific/Pago_Pago"):
        list_rows._readiness_shown(draft, book)
    assert len(known) == 2
    assert {key[0] for key in known} == {
        timezone.localdate(timezone=timezone.get_fixed_timezone(14 * 60)),
        timezone.localdate(timezone=timezone.get_fixed_timezone(-11 * 60)),
    }


def test_the_menus_show_what_the_query_string_chose(admin_client, agent):
    """The filters' options are written in Python (list_rows.options_html): each menu marks the
    option the query string names, and none when it names none or one that does not exist."""
    chosen = {"status": "submitted", "sort": "price", "agent": agent.pk}
    page = admin_client.get(LIST, chosen).content.decode()
    assert '<option value="submitted" selected>Submitted for review</option>' in page
    assert '<option value="price" selected>Price, low to high</option>' in page
    assert f'<option value="{agent.pk}" selected>' in page
    assert page.count(" selected>") == 3

    page = admin_client.get(LIST, {"status": "nonsense"}).content.decode()
    assert " selected>" not in page
    page = admin_client.get(LIST, {"status": ""}).content.decode()
    assert '<option value="" selected>Any status</option>' in page


def test_menu_labels_are_escaped():
    html = list_rows.options_html([('a"b', "<Smith & Co>")], 'a"b')
    assert html == '<option value="a&quot;b" selected>&lt;Smith &amp; Co&gt;</option>'


def test_an_agent_outside_the_office_is_no_filter(admin_client, agent, other_office):
    """The agent filter looks the chosen agent up among those the viewer oversees only: another
    office's agent makes the filters invalid, which filter nothing (and never widen the scope)."""
    mine = DraftFactory(list_agent=agent)
    stranger = AgentFactory(office=other_office)
    DraftFactory(list_agent=stranger)
    rows = admin_client.get(LIST, {"agent": stranger.pk}).context["rows"]
    assert [row.draft.pk for row in rows] == [mine.pk]
    assert [row.draft.pk for row in admin_client.get(LIST, {"agent": agent.pk}).context["rows"]] == [mine.pk]


def test_rows_by_keys_come_in_the_keys_order_with_their_joins(agent, django_assert_num_queries, compiled):
    """`in_order_of` compiles its SELECT once per shape: the second call of the same shape reads
    the other keys' rows (not the first call's), and the joined agents and office cost nothing."""
    colleague = AgentFactory(office=agent.office)
    drafts = DraftFactory.create_batch(4, list_agent=agent, co_list_agent=colleague)
    shown = Draft.objects.with_row_relations()
    first = [drafts[2].pk, drafts[0].pk]
    assert [draft.pk for draft in shown.in_order_of(first)] == first
    second = [drafts[3].pk, drafts[1].pk]
    compiled.clear()
    with django_assert_num_queries(1):
        read = shown.in_order_of(second)
        assert [(draft.list_agent, draft.co_list_agent, draft.office) for draft in read] == [
            (agent, colleague, agent.office)
        ] * 2
    assert Draft not in compiled  # the same shape: not compiled again
    assert [draft.pk for draft in read] == second
    assert [draft.street_name for draft in read] == [drafts[3].street_name, drafts[1].street_name]
    # The columns come converted as the ORM gives them (kept converters), not as the driver does.
    assert [(draft.updated_at, draft.custom_fields) for draft in read] == [
        (Draft.objects.get(pk=pk).updated_at, Draft.objects.get(pk=pk).custom_fields) for pk in second
    ]
    # A key not found is left out; a set with filters keeps them.
    assert [draft.pk for draft in shown.in_order_of([drafts[1].pk, 0])] == [drafts[1].pk]
    Draft.objects.filter(pk=drafts[3].pk).update(deleted_at=timezone.now())
    assert [draft.pk for draft in shown.active().in_order_of(second)] == [drafts[1].pk]
    assert shown.in_order_of([]) == []


def test_the_agent_menu_labels_agents_as_agent_label_does(office):
    from drafts.forms import agent_label, agent_menu, agents_in_scope

    AgentFactory(office=office, first_name="Ada", last_name="")
    AgentFactory(office=office, first_name="", last_name="", username="nameless")
    AgentFactory(office=office, first_name="Grace", last_name="Hopper")
    admin = OfficeAdminFactory(office=office)
    menu = agent_menu(admin)
    assert menu == [(agent.pk, agent_label(agent)) for agent in agents_in_scope(admin)]
    assert {label for _, label in menu} >= {f"Ada ({office.name})", f"nameless ({office.name})"}


def test_no_badge_state_reads_its_sync_row_again(admin_client, agent):
    """The list reads only the sync columns the badge shows (ROW_RELATION_COLUMNS): a badge that
    read another one would read its sync row again, once per row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    now = timezone.now()
    states = [
        {"confirmed_seq": 1, "last_synced_at": now},
        {"state": "failed", "blocked_seq": 99, "refused_at": now, "refused_fields": {"ListPrice": "Too low"}},
        {"state": "failed", "blocked_seq": 99, "error_message": "Refused"},
        {"next_attempt_at": now + timedelta(hours=1), "error_message": "Busy"},
        {"lease_owner": "worker", "lease_expires_at": now + timedelta(minutes=1)},
        {"state": "attention", "error_message": "Look"},
        {"state": "drift"},
        {"create_sent_at": now},
    ]
    for columns in states:
        DraftSync.objects.create(draft=DraftFactory(list_agent=agent), **columns)
    trashed = DraftFactory(list_agent=agent, deleted_at=now)
    DraftSync.objects.create(draft=trashed, create_sent_at=now)
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(LIST).content.decode()
        trash = admin_client.get(LIST, {"trash": "on"}).content.decode()
    for shown in ("Synced at", "MLS refused 1 field", "Retrying at", "Syncing", "Needs attention"):
        assert shown in page
    assert "Removing from the MLS" in trash
    assert not [query for query in queries.captured_queries if 'FROM "mls_draftsync"' in query["sql"]]


def test_the_htmx_results_build_none_of_the_pages_menus(admin_client, agent):
    """The results fragment renders no menu: the agents are not read for it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    DraftFactory(list_agent=agent, street_name="Elm")
    admin_client.get(LIST)
    with CaptureQueriesContext(connection) as page:
        whole = admin_client.get(LIST, {"q": "elm"})
    with CaptureQueriesContext(connection) as fragment:
        results = admin_client.get(LIST, {"q": "elm"}, HTTP_HX_REQUEST="true")
    assert str(agent) in whole.content.decode() and "agent_choices" in whole.context
    assert results.content.decode().lstrip().startswith('<section id="results"')
    assert "agent_choices" not in results.context

    def agents_read(queries) -> list:
        return [query for query in queries.captured_queries if '"office__name"' in query["sql"]]

    assert len(agents_read(page)) == 1 and not agents_read(fragment)


def test_the_agent_menu_follows_the_agents_and_the_admins_scope(office, other_office):
    """The menu's SELECT is kept per scope, its rows are read each time."""
    from drafts.forms import agent_menu

    here, there = AgentFactory(office=office), AgentFactory(office=other_office)
    admin = OfficeAdminFactory(office=office)
    assert [pk for pk, _ in agent_menu(admin)] == [here.pk]
    hired = AgentFactory(office=office)
    assert {pk for pk, _ in agent_menu(admin)} == {here.pk, hired.pk}
    admin.office = other_office
    admin.save()
    assert [pk for pk, _ in agent_menu(admin)] == [there.pk]
    admin.role = Role.COMPANY_ADMIN
    admin.save()
    assert {pk for pk, _ in agent_menu(admin)} == {here.pk, hired.pk, there.pk}


def test_filter_forms_share_no_state_through_their_copied_fields(office, agent, office_admin):
    """DraftFilterForm's menus are copied per form without their choices or agents: a form that
    looks up a chosen agent leaves the next form, and the class, with none to choose from."""
    from drafts.forms import DraftFilterForm

    chosen = DraftFilterForm({"agent": str(agent.pk), "status": "draft"}, user=office_admin)
    assert chosen.is_valid() and chosen.cleaned_data["agent"] == agent
    plain = DraftFilterForm({}, user=office_admin)
    assert plain.is_valid() and plain.cleaned_data["agent"] is None
    assert not DraftFilterForm.base_fields["agent"].queryset.exists()
    assert DraftFilterForm({"status": "nope"}, user=office_admin).errors["status"]
    agents_form = DraftFilterForm({"agent": str(agent.pk)}, user=agent)
    assert "agent" not in agents_form.fields and "agent" in DraftFilterForm.base_fields
    assert agents_form.is_valid() and "agent" not in agents_form.cleaned_data
    assert chosen.fields["status"].choices == DraftFilterForm.base_fields["status"].choices


def test_a_menus_options_follow_its_choices_and_language():
    from django.utils import translation
    from django.utils.translation import gettext_lazy

    assert list_rows.options_html([(1, "Ann")], "1") == '<option value="1" selected>Ann</option>'
    assert list_rows.options_html([(1, "Ann Lee")], "1") == '<option value="1" selected>Ann Lee</option>'
    assert list_rows.options_html([(1, "Ann")]) == '<option value="1">Ann</option>'
    label = gettext_lazy("Yes")
    with translation.override("fr"):
        assert list_rows.options_html([("y", label)]) == '<option value="y">Oui</option>'
    with translation.override("en"):
        assert list_rows.options_html([("y", label)]) == '<option value="y">Yes</option>'
    grouped = [("Group", [("a", "A")])]  # a group cannot be a key: written without the memo
    assert list_rows.options_html(grouped).startswith('<option value="Group">')
