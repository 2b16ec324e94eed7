"""The editor's fields written in Python (drafts/field_html.py) and the part forms' widgets
(drafts/widget_html.py): what a person sees and what the page's script reads must not change:
escaping, the chosen option, required marks, messages that name the field, ids and htmx wiring."""

# ruff: noqa: E501 - the markup the page must keep, one element a line

import re

import pytest
from django import forms
from django.db import connection
from django.forms.renderers import DjangoTemplates
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from drafts import field_html
from drafts.field_view import FieldView
from drafts.models import Draft
from drafts.part_forms import PartFieldsForm, PartLinkForm
from drafts.widget_html import WIDGET_RENDERER
from mls import metadata
from tests.factories import AgentFactory, DraftFactory
from tests.mls.sync_support import memory_broker, sync_env  # noqa: F401 (fixtures)

from .conftest import field_post, htmx

HOSTILE = "<script>alert(\"x\")</script> & 'quoted'"
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;quoted&#x27;"


def edit(client, draft) -> str:
    response = client.get(reverse("drafts:draft_edit", args=[draft.pk]))
    assert response.status_code == 200
    return response.content.decode()


def form_of(body: str, name: str) -> str:
    start = body.index('<form class="field')
    start = body.index(f'id="field-{name}"', start)
    start = body.rindex("<form", 0, start)
    return body[start : body.index("</form>", start) + len("</form>")]


@pytest.mark.django_db
def test_typed_values_are_escaped_in_inputs_and_textareas(agent_client, agent):
    draft = DraftFactory(list_agent=agent, public_remarks=HOSTILE, street_name=HOSTILE[:50])

    body = edit(agent_client, draft)

    assert "<script>alert" not in body
    remarks = form_of(body, "public_remarks")
    assert f">{ESCAPED}</textarea>" in remarks
    assert f'name="seen_value" value="{ESCAPED}"' in remarks
    # The counter counts the characters typed, not their escaped form.
    assert f"{len(HOSTILE)} / " in remarks
    street = form_of(body, "street_name")
    assert f'<input id="id_street_name" name="value" value="{ESCAPED[: ESCAPED.index("&amp;") + 5]}' in street


@pytest.mark.django_db
def test_the_chosen_option_of_a_select_is_selected(agent_client, agent, office):
    co_agent = AgentFactory(office=office, first_name="Cora", last_name="Co")
    draft = DraftFactory(list_agent=agent, property_type="B", co_list_agent=co_agent)

    body = edit(agent_client, draft)

    kind = form_of(body, "property_type")
    assert '<option value="B" selected>Multi Family</option>' in kind
    assert kind.count(" selected") == 1
    co_list = form_of(body, "co_list_agent")
    assert f'<option value="{co_agent.pk}" selected>Cora Co</option>' in co_list
    assert '<option value="">None</option>' in co_list


@pytest.mark.django_db
def test_required_fields_carry_the_mark_and_aria_required(agent_client, draft):
    body = edit(agent_client, draft)

    kind = form_of(body, "property_type")
    assert (
        '<span class="required-mark" aria-hidden="true">*</span><span class="visually-hidden"> (required)</span>'
        in kind
    )
    assert re.search(
        r'<select id="id_property_type" name="value" data-autosave="property_type" aria-required="true"', kind
    )
    private = form_of(body, "private_remarks")
    assert "required-mark" not in private and "aria-required" not in private


@pytest.mark.django_db
def test_every_field_keeps_its_ids_names_and_htmx_wiring(agent_client, draft):
    body = edit(agent_client, draft)

    city = form_of(body, "city")
    url = reverse("drafts:draft_field_save", args=[draft.pk, "city"])
    assert (
        f'<form class="field" id="field-city" method="post" action="{url}" novalidate data-field-form>'
        in city
    )
    assert 'name="csrfmiddlewaretoken" value="' in city
    assert f'hx-post="{url}" hx-trigger="input changed delay:600ms, change, autosave-retry"' in city
    assert 'hx-target="#save-city" hx-swap="outerHTML" hx-sync="this:queue last"' in city
    assert 'aria-describedby="save-city rules-city"' in city
    assert 'autocomplete="address-level2"' in city
    assert (
        f'<div class="save-state" id="save-city" data-state="saved"><input type="hidden" name="version" value="{draft.version}">'
        in city
    )
    assert '<ul class="field-rules" id="rules-city">' in city
    assert city.endswith('<button type="submit" class="button small nojs-only">Save</button></form>')


@pytest.mark.django_db
def test_a_refused_save_without_scripts_names_the_field_and_keeps_the_value(agent_client, draft):
    url = reverse("drafts:draft_field_save", args=[draft.pk, "beds_total"])

    response = agent_client.post(url, field_post(draft, "three <b>"))

    assert response.status_code == 422
    beds = form_of(response.content.decode(), "beds_total")
    assert (
        '<ul class="field-errors" id="errors-beds_total" role="alert"><li>Bedrooms: enter a whole number, e.g. 3.</li></ul>'
        in beds
    )
    assert 'value="three &lt;b&gt;"' in beds and 'aria-invalid="true"' in beds
    assert 'data-state="invalid"' in beds and "Not saved" in beds


@pytest.mark.django_db
def test_a_conflict_without_scripts_shows_both_values(agent_client, agent, draft):
    draft.save_field("city", "Moorhead", by=agent, seen_version=draft.version, seen_value=draft.city)
    url = reverse("drafts:draft_field_save", args=[draft.pk, "city"])

    response = agent_client.post(url, field_post(draft, "West Fargo", seen=draft.city, version=draft.version))

    assert response.status_code == 409
    city = form_of(response.content.decode(), "city")
    assert "Not saved: changed by someone else" in city
    assert (
        '<dd class="conflict-theirs">Moorhead</dd>' in city
        and '<dd class="conflict-yours">West Fargo</dd>' in city
    )
    assert Draft.objects.get(pk=draft.pk).city == "Moorhead"


@pytest.mark.django_db
def test_the_autosave_reply_is_the_same_save_state_the_page_has(agent_client, draft):
    url = reverse("drafts:draft_field_save", args=[draft.pk, "city"])
    response = agent_client.post(url, field_post(draft, "Fargo <1>", seen=draft.city), **htmx())
    assert response.status_code == 200
    saved = Draft.objects.get(pk=draft.pk)

    page = form_of(edit(agent_client, saved), "city")

    reply = " ".join(response.content.decode().split()).replace("> <", "><")
    assert reply in page


def test_field_html_writes_a_multi_select_and_a_searchable_list():
    multi = FieldView(
        name="cf-heating", label="Heating", spark_name="Heating", value='["Gas"]', seen='["Gas"]', version=3,
        widget="multi", choices=[("Gas", "Gas"), ("Oil & <wood>", "Oil & <wood>")], chosen=["Gas"],
        save_url="/drafts/1/fields/cf-heating/", required=True,
    )  # fmt: skip
    html = field_html.field_head(multi, csrf_token="tok", has_comments=True, state_html="")
    assert html.startswith('<form class="field field-wide has-comments" id="field-cf-heating"')
    assert '<input type="checkbox" name="choice" value="Gas" data-multi-choice checked> Gas</label>' in html
    assert 'value="Oil &amp; &lt;wood&gt;" data-multi-choice> Oil &amp; &lt;wood&gt;</label>' in html
    assert (
        '<input type="hidden" name="value" value="[&quot;Gas&quot;]" data-autosave="cf-heating" data-multi'
        in html
    )
    assert "(required)</span></legend>" in html

    search = FieldView(
        name="state_or_province", label="State", spark_name="StateOrProvince", value="North Dakota",
        seen="North Dakota", version=1, widget="search", datalist="list-state_or_province",
        choices=[("ND", "North Dakota")], hint="Type to search the list.", save_url="/s/",
    )  # fmt: skip
    html = field_html.field_head(search, csrf_token="", has_comments=False, state_html="")
    assert 'list="list-state_or_province" autocomplete="off" placeholder="Type to search"' in html
    assert '<datalist id="list-state_or_province"><option value="North Dakota"></option></datalist>' in html
    assert 'aria-describedby="save-state_or_province rules-state_or_province hint-state_or_province"' in html
    assert "csrfmiddlewaretoken" not in html


# --- The part forms' widgets ---


class EveryWidget(forms.Form):
    text = forms.CharField(max_length=20, help_text="Help")
    number = forms.IntegerField(required=False)
    link = forms.URLField(required=False)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    pick = forms.ChoiceField(choices=[("", "—"), ("a&b", "A <&> B"), ("c", "C")], required=False)
    grouped = forms.ChoiceField(choices=[("Group <1>", [("x", "X"), ("y", "Y")]), ("z", "Z")])
    several = forms.MultipleChoiceField(
        choices=[("1", "One <b>"), ("2", "Two")], widget=forms.CheckboxSelectMultiple, required=False
    )
    flag = forms.BooleanField(required=False)
    when = forms.DateField(required=False)


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"text": HOSTILE, "number": "x", "link": "javascript:1", "note": HOSTILE, "pick": "a&b",
         "grouped": "y", "several": ["1", "2"], "flag": "on", "when": "2026-01-02"},
        {"text": "", "note": "", "pick": "nope", "several": ["3"]},
    ],
)  # fmt: skip
def test_widgets_are_written_exactly_as_django_templates_write_them(data):
    ours = EveryWidget(data, renderer=WIDGET_RENDERER, prefix="p")
    django = EveryWidget(data, renderer=DjangoTemplates(), prefix="p")
    if data:
        ours.is_valid(), django.is_valid()

    for mine, theirs in zip(ours, django, strict=True):
        assert str(mine) == str(theirs)
        for option, reference in zip(mine, theirs, strict=True):
            assert option.tag() == reference.tag()
    assert str(ours) == str(django)


def test_the_part_forms_use_the_python_widgets():
    assert PartLinkForm(kind="tour").renderer is WIDGET_RENDERER
    assert PartFieldsForm(specs=[], noun="room").renderer is WIDGET_RENDERER
    assert "<input" in str(PartLinkForm(kind="tour")["url"])


@pytest.mark.django_db
def test_co_listing_choices_name_each_agent_of_the_office_only(agent_client, agent, office, other_office):
    named = AgentFactory(office=office, first_name="Ada", last_name="")
    nameless = AgentFactory(office=office, first_name="", last_name="", username="x<y")
    stranger = AgentFactory(office=other_office)
    draft = DraftFactory(list_agent=agent)

    co_list = form_of(edit(agent_client, draft), "co_list_agent")

    assert f'<option value="{named.pk}">Ada</option>' in co_list
    assert f'<option value="{nameless.pk}">x&lt;y</option>' in co_list
    assert f'<option value="{stranger.pk}"' not in co_list and f'<option value="{agent.pk}"' not in co_list


@pytest.fixture
def mls_lists(sync_env):  # noqa: F811 (the fixture imported above)
    """The sandbox's metadata read and kept, as beat (or seed_demo) does."""
    report = metadata.refresh()
    assert not report.failed
    return report


@pytest.mark.django_db(transaction=True)
def test_the_editor_reads_the_mls_metadata_once_a_page(mls_lists, agent_client, agent):
    """The layout, the rules and the rooms' and units' field lists come from one snapshot of the
    MLS's metadata (one version query); whether its room lists were read is kept with it."""
    draft = DraftFactory(list_agent=agent, property_type="B")
    page = reverse("drafts:draft_edit", args=[draft.pk])
    agent_client.get(page)

    with CaptureQueriesContext(connection) as queries:
        body = agent_client.get(page).content.decode()

    metadata_reads = [query["sql"] for query in queries if '"mls_mlsmetadata"' in query["sql"]]
    assert len(metadata_reads) == 1 and 'MAX("mls_mlsmetadata"."fetched_at")' in metadata_reads[0]
    assert 'id="section-parts-rooms"' in body and 'id="section-parts-units"' in body
    assert "Add a unit" in body  # the units' fields were read from the snapshot


# The `readiness_checklist` partial as the template wrote it before field_html did.
CHECKLIST_TEMPLATE = """
{# drafts/readiness.py: done/total per section, then every gap with a link to where it is fixed. #}
<ul class="readiness-sections">{% for part in readiness_report.sections %}
  <li class="readiness-section{% if part.is_complete %} is-complete{% endif %}">
    <span class="readiness-section-title">{{ part.title }}</span>
    <progress max="{{ part.total }}" value="{{ part.done }}" aria-label="{{ part.title }}: {{ part.done }} of {{ part.total }} done">{{ part.done }}/{{ part.total }}</progress>
    <span class="readiness-count">{{ part.done }}/{{ part.total }}</span>
  </li>{% endfor %}
</ul>
{% if readiness_report.gaps %}
<h3 class="text-err">Missing before it can be submitted</h3>
<ul class="gap-list" id="readiness-gaps">{% for gap in readiness_report.gaps %}
  <li class="gap"><a class="gap-link" href="{{ gap.url }}"{% if gap.field %} data-focus-field="id_{{ gap.field }}"{% endif %}>
    <span class="gap-text"><span class="gap-section">{{ gap.section }}:</span> {{ gap.message }}</span> <span class="gap-fix">Fix this</span></a></li>{% endfor %}
</ul>
{% endif %}
"""


@pytest.mark.parametrize("with_gaps", [True, False])
def test_the_readiness_checklist_is_written_as_the_template_wrote_it(with_gaps):
    from django.template import Context, Template

    from drafts.readiness import Gap, Readiness, SectionProgress

    sections = [SectionProgress("location", HOSTILE, 2, 5), SectionProgress("photos", "Photos", 1, 1)]
    gaps = [
        Gap(HOSTILE, "Street", f"Fill in {HOSTILE}.", "/drafts/1/?a=1&b=2#field-x", field="std-A&B"),
        Gap("Photos", "Photos", "Add a photo.", "/drafts/1/media/#photos"),
    ]
    report = Readiness(sections, gaps if with_gaps else [], [], [])
    expected = Template(CHECKLIST_TEMPLATE).render(Context({"readiness_report": report}))
    assert field_html.readiness_checklist(report) == expected
    assert ESCAPED in expected


def test_a_lists_options_are_escaped_as_each_value_would_be():
    """The options' escaping is kept per list (field_html.escaped_choices): the same as escaping
    each, the second time too, and a value that cannot be kept (a list) is escaped all the same."""
    choices = [("a&b", HOSTILE), ("2", "Two")]
    expected = (("a&b", "a&amp;b", ESCAPED), ("2", "2", "Two"))
    assert field_html.escaped_choices(choices) == expected
    assert field_html.escaped_choices(list(choices)) == expected
    assert field_html.escaped_choices([(["x"], "<y>")]) == ((["x"], "[&#x27;x&#x27;]", "&lt;y&gt;"),)


@pytest.mark.parametrize(
    "value",
    [HOSTILE, "&amp; already", "plain", "", 12, 3.5, None, gettext_lazy("Save"), mark_safe("<b>safe</b>")],
)
def test_esc_prints_what_a_template_prints(value):
    """esc (one str.translate) escapes exactly as `{{ value }}` does, lazy and safe strings too."""
    assert field_html.esc(value) == Template("{{ value }}").render(Context({"value": value}))


SECTIONS_TEMPLATE = """{% load editor_tags %}    <nav class="section-jump" aria-label="Jump to a section">
      <ul>{% for section in sections %}<li><a href="#section-{{ section.slug }}">{{ section.title }}</a></li>{% endfor %}<li><a href="#rules">Ready to publish?</a></li></ul>
    </nav>
    {% for section in sections %}
    <section class="card editor-section" id="section-{{ section.slug }}" aria-labelledby="heading-{{ section.slug }}">
      <h2 id="heading-{{ section.slug }}">{{ section.title }}</h2>
      <div class="field-grid">
        {# the fields #}
        {% editor_fields section.fields %}
      </div>
    </section>
    {% endfor %}
"""


def test_the_sections_are_written_as_the_templates_loop_wrote_them():
    sections = [
        {"slug": "a&b", "title": HOSTILE, "fields": []},
        {"slug": "location", "title": gettext_lazy("Location"), "fields": []},
        {"slug": "safe", "title": mark_safe("<em>Safe</em>"), "fields": []},
    ]
    context = {"sections": sections, "csrf_token": "token"}
    expected = Template(SECTIONS_TEMPLATE).render(Context(context))
    written = Template(
        """{% load editor_tags %}    <nav class="section-jump" aria-label="Jump to a section">
      <ul>{% editor_section_links sections %}<li><a href="#rules">Ready to publish?</a></li></ul>
    </nav>
    {% editor_sections sections %}
"""
    ).render(Context(context))
    assert written == expected
    assert ESCAPED in expected and "<em>Safe</em>" in expected and 'id="section-a&amp;b"' in expected


@pytest.mark.django_db
def test_the_editors_sections_carry_their_fields(agent_client, draft):
    body = edit(agent_client, draft)
    for section in re.findall(r'<section class="card editor-section" id="section-([\w-]+)"', body)[:3]:
        assert f'<li><a href="#section-{section}">' in body
    assert body.count('<div class="field-grid">') >= 3 and 'id="field-city"' in body


NEARBY_TEMPLATE = """{% load drafts_tags %}
        {% for other, metres in nearby %}
        <li><a href="{% pk_url 'drafts:draft_edit' other.pk %}">{{ other.unparsed_first_line_address|default:"Untitled draft" }}</a>
          <span class="nearby-meta">{{ metres|distance }} · {{ other.get_status_display }} · {{ other.list_agent }}</span></li>
        {% endfor %}
"""


def test_the_nearby_drafts_are_written_as_the_templates_loop_wrote_them():
    agent = AgentFactory.build(first_name=HOSTILE, last_name="Smith", username="agent")
    nearby = [
        (Draft(pk=7, street_number="12", street_name=HOSTILE, status="draft", list_agent=agent), 12.4),
        (Draft(pk=8, status="submitted", list_agent=agent), 1499.0),  # no address: "Untitled draft"
        (Draft(pk=9, street_name="Elm", status="live", list_agent=agent), 999.6),
    ]
    expected = Template(NEARBY_TEMPLATE).render(Context({"nearby": nearby}))
    written = Template("{% load editor_tags %}\n        {% editor_nearby_items nearby %}\n").render(
        Context({"nearby": nearby})
    )
    assert written == expected
    assert ESCAPED in expected and "Untitled draft" in expected and "1.5 km" in expected


METER_TEMPLATE = """{% load drafts_tags %}
<span class="readiness" id="readiness-{{ meter_id|default:'head' }}"{% if oob and not meter_id %} hx-swap-oob="true"{% endif %}>
  <meter min="0" max="100" low="60" high="99" optimum="100" value="{{ readiness }}" aria-label="Readiness">{{ readiness }}%</meter>
  <span class="readiness-text">{{ readiness }}% ready{% if readiness_report %}{% if readiness_report.gaps %} · <span class="text-err">{{ readiness_report.gaps|length }} missing</span>{% endif %}{% elif rule_errors %} · <span class="text-err">{{ rule_errors|severity_label }}</span>{% endif %}{% if rule_warnings %} · <span class="text-warn">{{ rule_warnings|plural_warning }}</span>{% endif %}</span>
</span>
"""

WARNINGS_TEMPLATE = """{% for result in rule_warnings %}<li class="rule rule-warning"><a href="#id_{{ result.field }}" data-focus-field="id_{{ result.field }}">{% if result.ours %}<span class="rule-source">Our check:</span> {% endif %}{{ result.message }}</a></li>{% endfor %}"""


def _results(count: int, *, ours: bool = True) -> list:
    from drafts.rules import RuleResult, Severity

    return [
        RuleResult(f"r{n}", f"f&{n}", "Spark", Severity.WARNING, f"{HOSTILE} {n}", ours=ours and n % 2 == 0)
        for n in range(count)
    ]


@pytest.mark.parametrize(
    "values",
    [
        {"meter_id": "side", "readiness": 40, "gaps": 2, "rule_warnings": 1},
        {"meter_id": "", "oob": True, "readiness": 100, "gaps": 0, "rule_warnings": 3},
        {"oob": True, "readiness": 7, "rule_errors": 1},
        {"meter_id": "side", "oob": True, "readiness": 55, "rule_errors": 2, "rule_warnings": 2},
        {"readiness": 0},
        {},  # the frame's meter on a page with no readiness: the template printed nothing
    ],
)
def test_the_readiness_meter_is_written_as_its_partial_wrote_it(values):
    from drafts.readiness import Gap, Readiness

    context = dict(values)
    if "gaps" in context:
        gaps = [Gap("Photos", "Photos", "Add a photo.", "/x")] * context.pop("gaps")
        context["readiness_report"] = Readiness([], gaps, [], [])
    for name in ("rule_errors", "rule_warnings"):
        if name in context:
            context[name] = _results(context[name])
    expected = Template(METER_TEMPLATE).render(Context(context))
    written = Template("{% load editor_tags %}{% editor_readiness_meter %}").render(Context(context))
    assert written == expected


def test_the_rule_warnings_are_written_as_the_templates_loop_wrote_them():
    warnings = _results(3) + _results(1, ours=False)
    expected = Template(WARNINGS_TEMPLATE).render(Context({"rule_warnings": warnings}))
    written = Template("{% load editor_tags %}{% editor_rule_warnings rule_warnings %}").render(
        Context({"rule_warnings": warnings})
    )
    assert written == expected and ESCAPED in expected and "Our check:" in expected


TABS_TEMPLATE = """{% load drafts_tags %}
<nav class="tabs draft-frame-tabs" id="draft-tabs" aria-label="Draft sections" data-tab-bar{% if banner_oob %} hx-swap-oob="true"{% endif %}>
    <a href="{% pk_url 'drafts:draft_edit' draft.pk %}"{% if tab == "details" %} aria-current="page"{% endif %}>Details</a>
    {% media_tab_url draft as media_url %}{% if media_url %}<a href="{{ media_url }}"{% if tab == "media" %} aria-current="page"{% endif %}>Photos &amp; documents</a>{% endif %}
    <a href="{% pk_url 'drafts:draft_history' draft.pk %}"{% if tab == "history" %} aria-current="page"{% endif %}>History</a>
    <a href="{% pk_url 'mls:draft_sync' draft.pk %}"{% if tab == "sync" %} aria-current="page"{% endif %}>MLS sync</a>
    {% if user.is_reviewer or user.is_superuser %}<a href="{% pk_url 'drafts:draft_review' draft.pk %}"{% if tab == "review" %} aria-current="page"{% endif %}>Review</a>{% endif %}
    {% if draft.live_listing_id %}<a href="{% pk_url 'mls:live_listing' draft.pk %}"{% if tab == "live" %} aria-current="page"{% endif %}>Live listing</a>{% endif %}
</nav>
"""


@pytest.mark.parametrize("tab", ["details", "media", "history", "sync", "review", "live", None])
@pytest.mark.parametrize("who", ["agent", "office_admin", "superuser", None])
@pytest.mark.parametrize("live", [False, True])
def test_the_draft_tabs_are_written_as_their_partial_wrote_them(tab, who, live):
    from accounts.models import Role, User

    user = None if who is None else User(role=Role.OFFICE_ADMIN if who == "office_admin" else Role.AGENT)
    if who == "superuser":
        user.is_superuser = True
    draft = Draft(pk=42, live_listing_id="20261208LIVE" if live else "")
    for oob in (False, True):
        context = {"draft": draft, "tab": tab, "user": user, "banner_oob": oob}
        expected = Template(TABS_TEMPLATE).render(Context(context))
        written = Template("{% load drafts_tags %}{% draft_tabs %}").render(Context(context))
        assert written == expected


SUBMIT_TEMPLATE = """{% load drafts_tags %}
{# comment #}
<div class="submit-action" id="submit-action">
  <form method="post" action="{% pk_url 'drafts:draft_submit' draft.pk %}">{% csrf_token %}<button class="button primary" type="submit"{% if readiness_report.gaps %} disabled aria-describedby="submit-blocked"{% endif %}>{% if draft.status == "changes_requested" %}Submit again for review{% else %}Submit for review{% endif %}</button></form>
  {% if readiness_report.gaps %}<p class="subtle small" id="submit-blocked">Complete what is missing to submit it for review.</p>{% endif %}
</div>
"""


@pytest.mark.parametrize("status", ["draft", "changes_requested"])
@pytest.mark.parametrize("gaps", [0, 2, None])
@pytest.mark.parametrize("token", ["tok&en", None])
def test_the_submit_action_is_written_as_its_partial_wrote_it(status, gaps, token):
    from drafts.readiness import Gap, Readiness

    report = (
        None
        if gaps is None
        else Readiness([], [Gap("Photos", "Photos", "Add a photo.", "/x")] * gaps, [], [])
    )
    context = {"draft": Draft(pk=5, status=status), "readiness_report": report, "csrf_token": token}
    expected = Template(SUBMIT_TEMPLATE).render(Context(context))
    written = Template("{% load editor_tags %}{% editor_submit_action %}").render(Context(context))
    assert written == expected
