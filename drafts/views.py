"""The drafts pages: list, editor (with per-field autosave), history, nearby, trash.

Every view reaches a draft through `get_draft_for` (404 for what the user may not see).
htmx requests get the page's fragment (`page.html#region`); plain POSTs redirect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from accounts.models import User

from . import review, rules
from .access import get_draft_for
from .field_view import Conflict, FieldView
from .fields import SECTIONS, SPARK_NAMES, PropertyType
from .forms import (
    CustomFieldsSaveForm,
    DraftCreateForm,
    DraftFilterForm,
    FieldSaveForm,
    agent_menu,
    co_listing_choices,
    custom_fields_json,
    custom_rows,
    plain_message,
)
from .frame import frame_context
from .layout import NOT_LISTED, Layout, MlsField
from .list_rows import list_rows, options_html, rows_html, shows_agents
from .models import AUTOSAVE_FIELDS, Draft, DraftStatus, DraftTally, ListedDrafts, StaleEdit
from .part_views import part_regions

LIST_PAGE_SIZE = 25
HISTORY_PAGE_SIZE = 50
LOCATION_FIELDS = frozenset({"latitude", "longitude"})
TEXTAREAS = frozenset({"public_remarks", "private_remarks"})
NUMERIC = {
    "list_price": "decimal",
    "latitude": "decimal",
    "longitude": "decimal",
    "year_built": "numeric",
    "building_area_total": "numeric",
    "beds_total": "numeric",
    "baths_total": "numeric",
    "baths_full": "numeric",
    "baths_three_quarter": "numeric",
    "baths_half": "numeric",
    # Digits on a phone's keypad; the rules still judge a ZIP+4 or a Canadian code.
    "postal_code": "numeric",
}
AUTOCOMPLETE = {
    "street_number": "off",
    "city": "address-level2",
    "state_or_province": "address-level1",
    "postal_code": "postal-code",
}

HINTS = {
    "list_price": "Dollars; monthly rent for rentals.",
    "latitude": "Decimal degrees, e.g. 46.8772",
    "longitude": "Decimal degrees, e.g. -96.7898",
    "state_or_province": "Two letters, e.g. ND",
    "public_remarks": "Shown to the public. 4,000 characters at most.",
    "private_remarks": "Agents only.",
}


def _editor_sections() -> list[tuple[str, str, list[str]]]:
    """The field sections of drafts/fields.py, plus the agents and the custom fields."""
    sections = list(SECTIONS)
    after_price = next(index for index, (slug, _, _) in enumerate(sections) if slug == "price") + 1
    sections.insert(after_price, ("agents", "Agents", ["co_list_agent"]))
    sections.append(("custom", "Custom fields", ["custom_fields"]))
    return sections


EDITOR_SECTIONS = _editor_sections()


# --- Presenting values ---


def field_label(name: str) -> str:
    if name == "custom_fields":
        return "Custom fields"
    if name == "standard_fields_extra":
        return "Other MLS fields"
    label = str(Draft._meta.get_field(name).verbose_name)
    return label[:1].upper() + label[1:]


def input_text(value: Any) -> str:
    """A stored value as the editor's input shows it (and as `seen_value` carries it)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, dict):
        return custom_fields_json(value)
    return str(value)


def _history_text(name: str, value: Any, agents: dict[int, str]) -> str:
    if value in (None, "", {}):
        return "(empty)"
    if name == "co_list_agent":
        return agents.get(value, f"user #{value}")
    if name == "property_type":
        return PropertyType(value).label if value in PropertyType.values else str(value)
    if name == "standard_fields_extra" and isinstance(value, dict):
        return "; ".join(f"{key} = {item}" for key, item in value.items())
    if name == "custom_fields" and isinstance(value, dict):
        return "; ".join(
            f"{group}: {key} = {item}"
            for group, fields in value.items()
            if isinstance(fields, dict)
            for key, item in fields.items()
        )
    if isinstance(value, str) and name == "list_price":
        return f"${Decimal(value):,.2f}".replace(".00", "")
    return str(value)


def _custom_rows_of(value: dict) -> list[tuple[str, str, str]]:
    return [
        (group, key, input_text(item) if not isinstance(item, bool) else ("Yes" if item else "No"))
        for group, fields in (value or {}).items()
        if isinstance(fields, dict)
        for key, item in fields.items()
    ]


def _field_view(
    draft: Draft, name: str, co_list_choices: list[tuple[str, str]], found: dict[str, list]
) -> FieldView:
    value = draft.co_list_agent_id if name == "co_list_agent" else getattr(draft, name)
    text = input_text(value)
    view = FieldView(
        name=name,
        label=field_label(name),
        spark_name=SPARK_NAMES.get(name, "CustomFields" if name == "custom_fields" else "CoListAgentId"),
        value=text,
        seen=text,
        version=draft.version,
        inputmode=NUMERIC.get(name, ""),
        autocomplete=AUTOCOMPLETE.get(name, ""),
        hint=HINTS.get(name, ""),
        rule_results=found.get(name, []),
        display=text,
    )
    if name in TEXTAREAS:
        view.widget = "textarea"
        view.max_length = rules.PUBLIC_REMARKS_MAX
    elif name == "property_type":
        view.widget, view.choices = "select", list(PropertyType.choices)
        view.display = draft.get_property_type_display()
    elif name == "co_list_agent":
        view.widget, view.choices = "select", [("", "None"), *co_list_choices]
        view.display = str(draft.co_list_agent) if draft.co_list_agent_id else ""
    elif name == "custom_fields":
        view.widget = "custom"
        view.rows = _custom_rows_of(value)
    return view


def _mls_field_view(draft: Draft, spec: MlsField, found: dict[str, list]) -> FieldView:
    """One field of the MLS's layout: a choice control with the MLS's labels for a list (the
    value kept is the MLS's), a date, a number or text."""
    stored = spec.stored(draft)
    text = spec.text(stored) if spec.column is None or spec.has_list else input_text(stored)
    view = FieldView(
        name=spec.key,
        label=spec.label,
        spark_name=spec.spark_name,
        value=text,
        seen=text,
        version=draft.version,
        rule_results=found.get(spec.key, []),
        display=spec.display(stored),
        hint=HINTS.get(spec.column or "", "") if not spec.has_list else "",
        autocomplete=AUTOCOMPLETE.get(spec.column or "", ""),
    )
    widget = spec.widget
    unlisted = [(value, f"{value} ({NOT_LISTED})") for value in spec.not_listed(stored)]
    if widget == "select":
        view.widget = "select"
        # A draft always has a property type: no empty choice for it.
        blank = [] if spec.column == "property_type" else [("", "—")]
        view.choices = [*blank, *unlisted, *spec.choices]
    elif widget == "search":
        view.widget, view.datalist, view.autocomplete = "search", f"list-{spec.key}", ""
        view.choices = list(spec.choices)
        view.hint = "Type to search the list."
    elif widget == "multi":
        view.widget = "multi"
        view.choices = [*unlisted, *spec.choices]
        view.chosen = spec.values_of(stored)
    elif widget == "boolean":
        view.widget, view.choices = "select", [("", "—"), ("yes", "Yes"), ("no", "No")]
    elif widget == "textarea":
        view.widget, view.max_length = "textarea", rules.PUBLIC_REMARKS_MAX
        view.hint = HINTS.get(spec.column or "", "")
    elif widget == "date":
        view.input_type = "date"
    elif widget == "number":
        view.inputmode = "numeric" if spec.type == "Integer" else "decimal"
    elif widget == "text":
        # The phone's keyboard that fits the value (the MLS types these as plain text).
        view.inputmode = NUMERIC.get(spec.column or "", "")
        lowered = spec.spark_name.lower()
        if "phone" in lowered or lowered.endswith("fax"):
            view.input_type, view.autocomplete = "tel", "off"
        elif "email" in lowered:
            view.input_type, view.autocomplete = "email", "off"
        elif lowered.endswith(("url", "website")):
            view.input_type = "url"
    return view


def _mls_sections(
    draft: Draft, layout: Layout, co_list_choices: list[tuple[str, str]], found: dict[str, list]
) -> list[dict]:
    """The MLS's sections in its order; within one, a custom-field group of the MLS gets its
    own heading; then our own: the agents."""
    sections = []
    for section in layout.sections:
        views, group = [], ""
        for spec in section.fields:
            view = _mls_field_view(draft, spec, found)
            heading = spec.custom_group or ""
            if heading and heading != group and heading != section.title:
                view.group_heading = heading
            group = heading
            views.append(view)
        sections.append({"slug": section.slug, "title": section.title, "fields": views})
    agents = [_field_view(draft, "co_list_agent", co_list_choices, found)]
    sections.append({"slug": "agents", "title": "Agents", "fields": agents})
    return sections


def _may_submit(draft: Draft, user: User) -> bool:
    """Whether the page offers "Submit for review" (enabled once nothing is missing)."""
    return (
        draft.can_submit(user)
        and not draft.is_deleted
        and draft.status in (DraftStatus.DRAFT, DraftStatus.CHANGES_REQUESTED)
    )


SLUG = re.compile(r"[A-Za-z0-9_-]+")


def _field_save_urls(draft: Draft) -> Callable[[str], str]:
    """Each field's autosave URL from one reverse() (~30 µs each; the editor has ~60 fields):
    a name of letters, digits, - and _ is its own URL segment, anything else is reversed."""
    sentinel = "field-name-here"
    before, after = reverse("drafts:draft_field_save", args=[draft.pk, sentinel]).rsplit(sentinel, 1)

    def url(name: str) -> str:
        if SLUG.fullmatch(name):
            return f"{before}{name}{after}"
        return reverse("drafts:draft_field_save", args=[draft.pk, name])

    return url


def _editor_context(
    request: HttpRequest, draft: Draft, overrides: dict[str, FieldView] | None = None
) -> dict:
    can_edit = draft.is_editable  # visibility was settled by get_draft_for
    book = rules.RuleBook()
    layout = book.layout(draft.property_type)
    report = draft.readiness(book)
    errors, warnings = report.errors, report.warnings
    found = rules.by_field(errors + warnings)
    required = rules.required_fields(draft.property_type, book)
    co_list_choices = co_listing_choices(draft) if can_edit else []
    if layout is not None:
        sections = _mls_sections(draft, layout, co_list_choices, found)
    else:
        sections = [
            {
                "slug": slug,
                "title": title,
                "fields": [_field_view(draft, name, co_list_choices, found) for name in names],
            }
            for slug, title, names in EDITOR_SECTIONS
        ]
    save_url = _field_save_urls(draft)
    for section in sections:
        section["fields"] = [(overrides or {}).get(view.name, view) for view in section["fields"]]
        for view in section["fields"]:
            view.required = view.name in required
            view.save_url = save_url(view.name)
    return {
        "draft": draft,
        "can_edit": can_edit,
        "sections": sections,
        "laid_out_by_mls": layout is not None,
        "other_custom_fields": layout.other_custom_fields(draft.custom_fields) if layout else [],
        "readiness": report.percent,
        "readiness_report": report,
        "rule_errors": errors,
        "rule_warnings": warnings,
        "may_submit": _may_submit(draft, request.user),
        # "... is required" under an empty field shows once it was left (app.js) or at once
        # when the draft was already submitted or a submit was refused.
        "show_missing": draft.status != DraftStatus.DRAFT or request.GET.get("check") == "1",
        "nearby": draft.nearby(user=request.user),
        # Rooms, units, virtual tours and videos (drafts/part_views.py, templates/drafts/parts.html).
        "parts": part_regions(draft, can_edit=can_edit, snapshot=book.snapshot()),
        "tab": "details",
        "nav": "drafts",
    }


# --- The list ---


@login_required
@require_GET
def draft_list(request: HttpRequest) -> HttpResponse:
    form = DraftFilterForm(request.GET, user=request.user)
    # A company admin's (or a superuser's) list mixes offices: each row names its office.
    spans_offices = request.user.is_company_admin or request.user.is_superuser
    shown = Draft.objects.with_row_relations(agents=shows_agents(request.user), office=spans_offices)
    # Unfiltered (or by status or trash only), the count is the tally's: no COUNT(*) of the office.
    tallied = form.tallied_filters()
    # The list's SQL (a counted list's count with its keys, any list's page of keys) is compiled
    # once per shape, and its querysets built only where that SQL does not answer.
    shape = form.list_shape(shown, request.user)
    everything, ways = (None, []) if shape is not None else form.listed(shown, request.user)
    drafts = ListedDrafts(
        everything,
        ways,
        rows=shown,
        known_count=None if tallied is None else DraftTally.objects.visible_count(request.user, **tallied),
        expected_window=_page_window(request.GET.get("page"), LIST_PAGE_SIZE),
        shape=shape,
    )
    page = Paginator(drafts, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    in_trash = bool(form.is_valid() and form.cleaned_data.get("trash"))
    query = request.GET.copy()
    query.pop("page", None)
    rows = list_rows(page.object_list, viewer=request.user, in_trash=in_trash, spans_offices=spans_offices)
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "rows_html": rows_html(rows, restore_token=get_token(request) if in_trash else ""),
        "query": query.urlencode(),
        "in_trash": in_trash,
        "spans_offices": spans_offices,
        "nav": "drafts",
    }
    if request.htmx and not request.htmx.history_restore_request:
        # The results alone: none of the page's menus (the agents' one is a query).
        return render(request, "drafts/draft_list.html#results", context)
    # One query for both agent menus (the filter and "new draft for"), none for agents.
    agent_choices = agent_menu(request.user) if "agent" in form.fields else []
    context |= {
        "agent_choices": agent_choices,
        # The menus' options, each marked as the query string chose (not the form's bound fields).
        "new_type_options": options_html(PropertyType.choices),
        "new_agent_options": options_html(agent_choices),
        "status_options": options_html(form.fields["status"].choices, request.GET.get("status")),
        "type_options": options_html(form.fields["property_type"].choices, request.GET.get("property_type")),
        "agent_options": options_html(agent_choices, request.GET.get("agent", "")),
        "sort_options": options_html(form.fields["sort"].choices, request.GET.get("sort")),
    }
    return render(request, "drafts/draft_list.html", context)


@login_required
@require_POST
def draft_create(request: HttpRequest) -> HttpResponse:
    form = DraftCreateForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, "Could not start a draft: " + "; ".join(form.errors.get("__all__", [])))
        return redirect("drafts:draft_list")
    agent = form.cleaned_data.get("list_agent") or request.user
    if agent.office_id is None:
        messages.error(request, "Choose a listing agent: you do not belong to an office.")
        return redirect("drafts:draft_list")
    draft = Draft.start(by=request.user, list_agent=agent, property_type=form.cleaned_data["property_type"])
    return redirect("drafts:draft_edit", pk=draft.pk)


# --- The editor ---


@login_required
@require_GET
def draft_edit(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, include_trash=True)
    return render(request, "drafts/draft_edit.html", _editor_context(request, draft))


@login_required
@require_POST
def draft_field_save(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """Autosave one field. 200 saved (or unchanged), 409 stale edit, 422 invalid.

    `name` is a Draft column, or the key of a field of the MLS's layout kept elsewhere
    (`std-<MLS name>`, `cf-<slug>`). The htmx reply is the field's save-state region only
    (never the input being typed in): it carries the field's new (version, seen_value) pair.
    A change fires the `draft-saved` event (and `draft-location-saved` for coordinates) so
    the page re-reads its rules and nearby drafts; a new property type reloads the page, whose
    layout is the MLS's for that type.
    """
    if name not in AUTOSAVE_FIELDS and not name.startswith(("std-", "cf-")):
        raise Http404("No such field.")
    # One locked read is the access check and the row the save compares with and writes (a
    # second, locked read of it was a sixth of the save's queries); the reply is written in the
    # same transaction. The row alone: a save reads no relation (the rare conflict or
    # no-JavaScript reply reads what it needs), and the joins cost a busy office a sixth of
    # each autosave's CPU.
    with transaction.atomic():
        draft = get_draft_for(request.user, pk, write=True, related=False, lock=True)
        return _field_save(request, draft, name)


def _field_save(request: HttpRequest, draft: Draft, name: str) -> HttpResponse:
    """The autosave of `name` on `draft`, read locked by `draft_field_save`."""
    layout = rules.RuleBook().layout(draft.property_type)
    spec = layout.by_key.get(name) if layout else None
    if name not in AUTOSAVE_FIELDS:
        if spec is None:
            raise Http404("No such field.")
        return _mls_value_save(request, draft, spec)
    if name == "custom_fields":
        form: FieldSaveForm | CustomFieldsSaveForm = CustomFieldsSaveForm(request.POST, draft=draft)
    else:
        form = FieldSaveForm(request.POST, draft=draft, name=name, spec=spec)
    typed = form.typed_value()
    label = spec.label if spec else field_label(name)
    state = FieldView(
        name=name,
        label=label,
        spark_name=SPARK_NAMES.get(name, ""),
        value=typed,
        seen=request.POST.get("seen_value", ""),
        version=_int(request.POST.get("version"), draft.version),
    )
    if not form.is_valid():
        state.state = "invalid"
        state.errors = (
            form.plain_errors(label)
            if isinstance(form, FieldSaveForm)
            else [str(error) for errors in form.errors.values() for error in errors]
        )
        return _field_response(request, draft, state, status=422)
    try:
        saved = draft.save_field(
            name,
            form.model_value(),
            by=request.user,
            seen_version=form.cleaned_data["version"],
            seen_value=form.seen(),
            own_unconfirmed=form.unconfirmed(),
            locked=True,
        )
    except StaleEdit as stale:
        event = draft.last_change_of(name)
        mine = form.model_value()
        agents = _agent_names([stale.current, mine], name)
        state.state = "conflict"
        state.conflict = Conflict(
            theirs=spec.text(stale.current) if spec else input_text(stale.current),
            theirs_display=spec.display(stale.current)
            if spec
            else _history_text(name, stale.current, agents),
            mine=typed,
            mine_display=spec.display(mine) if spec else _history_text(name, mine, agents),
            version=stale.version,
            by=str(event.actor) if event and event.actor else "someone",
            at=event.at if event else None,
        )
        return _field_response(request, draft, state, status=409)
    except ValidationError as error:
        state.state = "invalid"
        state.errors = [plain_message(label, ValidationError(message)) for message in error.messages]
        return _field_response(request, draft, state, status=422)
    stored = saved.draft.co_list_agent_id if name == "co_list_agent" else getattr(saved.draft, name)
    state.seen = spec.text(stored) if spec and spec.has_list else input_text(stored)
    state.version = saved.draft.version
    return _saved_response(request, saved.draft, state, changed=saved.changed)


def _mls_value_save(request: HttpRequest, draft: Draft, spec: MlsField) -> HttpResponse:
    """Autosave a field of the MLS's layout that has no column (Draft.save_mls_value)."""
    typed = request.POST.get("value", "")
    if spec.multi_select and "multi" in request.POST:
        # The checkboxes themselves (a plain form post sends only them; htmx sends both).
        typed = json.dumps(request.POST.getlist("choice"))
    state = FieldView(
        name=spec.key,
        label=spec.label,
        spark_name=spec.spark_name,
        value=typed,
        seen=request.POST.get("seen_value", ""),
        version=_int(request.POST.get("version"), draft.version),
    )
    try:
        saved = draft.save_mls_value(
            spec,
            typed,
            by=request.user,
            seen_version=_int(request.POST.get("version"), 0),
            seen_value=spec.seen(request.POST.get("seen_value", "")),
            own_unconfirmed=tuple(spec.seen(raw) for raw in request.POST.getlist("unconfirmed")[:10]),
            locked=True,
        )
    except StaleEdit as stale:
        event = draft.last_change_of("custom_fields" if spec.is_custom else "standard_fields_extra")
        state.state = "conflict"
        state.conflict = Conflict(
            theirs=spec.text(stale.current),
            theirs_display=spec.display(stale.current) or "(empty)",
            mine=typed,
            mine_display=spec.display(spec.seen(typed)) or "(empty)",
            version=stale.version,
            by=str(event.actor) if event and event.actor else "someone",
            at=event.at if event else None,
        )
        return _field_response(request, draft, state, status=409)
    except ValidationError as error:
        state.state = "invalid"
        state.errors = [plain_message(spec.label, ValidationError(message)) for message in error.messages]
        return _field_response(request, draft, state, status=422)
    state.seen = spec.text(spec.stored(saved.draft))
    state.version = saved.draft.version
    return _saved_response(request, saved.draft, state, changed=saved.changed)


def _saved_response(request: HttpRequest, draft: Draft, state: FieldView, *, changed: bool) -> HttpResponse:
    response = _field_response(request, draft, state, status=200)
    if changed and request.htmx:
        trigger_client_event(response, "draft-saved", {"field": state.name, "version": draft.version})
        if state.name in LOCATION_FIELDS:
            trigger_client_event(response, "draft-location-saved", {})
        if state.name == "property_type":
            # Another type has another layout (sections, fields, lists): show it.
            response["HX-Refresh"] = "true"
    return response


def _page_window(number: str | None, per_page: int) -> slice:
    """The rows of page `number` as the Paginator will slice them if that page exists (a page it
    corrects, such as one past the end, is read again)."""
    page = max(_int(number, 1), 1)
    return slice((page - 1) * per_page, page * per_page)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or "")
    except ValueError:
        return default


def _field_response(request: HttpRequest, draft: Draft, state: FieldView, *, status: int) -> HttpResponse:
    if request.htmx:
        return render(
            request, "drafts/draft_edit.html#save_state", {"f": state, "draft": draft}, status=status
        )
    if status == 200:
        return redirect(reverse("drafts:draft_edit", args=[draft.pk]) + f"#field-{state.name}")
    # Without JavaScript: the whole editor again, the typed value kept in its input.
    draft.refresh_from_db()
    context = _editor_context(request, draft)
    for section in context["sections"]:
        for index, view in enumerate(section["fields"]):
            if view.name == state.name:
                section["fields"][index] = replace(
                    view,
                    value=state.value,
                    seen=state.seen,
                    version=state.version,
                    state=state.state,
                    errors=state.errors,
                    conflict=state.conflict,
                    rows=custom_rows(request.POST) if state.name == "custom_fields" else view.rows,
                )
    return render(request, "drafts/draft_edit.html", context, status=status)


@login_required
@require_GET
def draft_rules(request: HttpRequest, pk: int) -> HttpResponse:
    """The rule summary and every field's messages (out of band), after an autosave."""
    # The row alone: the rules, the checklist and the submit button read no relation (the
    # joins were a fifth of the reply's CPU, sent after every save).
    draft = get_draft_for(request.user, pk, include_trash=True, related=False)
    book = rules.RuleBook()
    layout = book.layout(draft.property_type)
    report = draft.readiness(book)
    errors, warnings = report.errors, report.warnings
    found = rules.by_field(errors + warnings)
    # Every field on the page, and only those (an out-of-band swap needs its target).
    names = sorted({*layout.by_key, "co_list_agent"} if layout else AUTOSAVE_FIELDS)
    context = {
        "draft": draft,
        "readiness": report.percent,
        "readiness_report": report,
        "rule_errors": errors,
        "rule_warnings": warnings,
        "field_messages": [(name, found.get(name, [])) for name in names],
        "may_submit": _may_submit(draft, request.user),
        "oob": True,
    }
    return render(request, "drafts/draft_edit.html#rules", context)


@login_required
@require_GET
def draft_nearby(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, include_trash=True)
    context = {"draft": draft, "nearby": draft.nearby(user=request.user)}
    return render(request, "drafts/draft_edit.html#nearby", context)


# --- History ---


def _agent_names(values, name: str) -> dict[int, str]:
    if name != "co_list_agent":
        return {}
    ids = {value for value in values if isinstance(value, int)}
    if not ids:
        return {}
    return {user.pk: user.get_full_name() or user.username for user in User.objects.filter(pk__in=ids)}


@login_required
@require_GET
def draft_history(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, include_trash=True)
    events = draft.events.select_related("actor")
    page = Paginator(events, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    agent_ids = [
        value
        for event in page.object_list
        if event.field == "co_list_agent"
        for value in (event.old_value, event.new_value)
    ]
    agents = _agent_names(agent_ids, "co_list_agent")
    book = rules.RuleBook()
    layout = book.layout(draft.property_type)
    entries = []
    for event in page.object_list:
        label = ""
        if event.field in AUTOSAVE_FIELDS or event.field == "standard_fields_extra":
            label = field_label(event.field)
        elif event.field == "status":
            label = "Status"
        # A field kept without a column, by the MLS's label and list labels (drafts/review.py).
        changes = (
            review.mls_value_changes(event.field, event.old_value, event.new_value, layout)
            if layout is not None and event.field in review.MLS_VALUE_COLUMNS
            else []
        )
        entries.append(
            {
                "event": event,
                "label": label,
                "changes": changes,
                "old": _history_text(event.field, event.old_value, agents) if event.field else "",
                "new": _history_text(event.field, event.new_value, agents) if event.field else "",
            }
        )
    report = draft.readiness(book)
    context = {
        "draft": draft,
        "page": page,
        "entries": entries,
        "readiness": report.percent,
        "readiness_report": report,
        "rule_errors": report.errors,
        "rule_warnings": report.warnings,
        "can_edit": draft.is_editable,
        "tab": "history",
        "nav": "drafts",
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "drafts/draft_history.html#history", context)
    return render(request, "drafts/draft_history.html", context)


@login_required
@require_GET
def draft_frame(request: HttpRequest, pk: int) -> HttpResponse:
    """The draft frame's live region (status, sync, readiness) with its banner out of band:
    re-read after every action (`draft-changed`) and polled while the draft is publishing."""
    draft = get_draft_for(request.user, pk, include_trash=True)
    return render(
        request, "drafts/draft_frame.html#live_reply", frame_context(draft, tab=request.GET.get("tab", ""))
    )


# --- Copy, trash, restore ---


@login_required
@require_POST
def draft_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk)
    copy = draft.duplicate(by=request.user)
    messages.success(request, f"This is a copy of {draft}. Photos and documents are not copied.")
    return redirect("drafts:draft_edit", pk=copy.pk)


@login_required
@require_POST
def draft_trash(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    draft.move_to_trash(by=request.user)
    messages.success(request, f"{draft} moved to the trash. You can restore it from the trash.")
    return redirect("drafts:draft_list")


@login_required
@require_POST
def draft_restore(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, include_trash=True)
    if draft.is_deleted:
        draft.restore_from_trash(by=request.user)
        messages.success(request, f"{draft} restored.")
    return redirect("drafts:draft_edit", pk=draft.pk)
