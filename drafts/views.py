"""The drafts pages: list, editor (with per-field autosave), history, nearby, trash.

Every view reaches a draft through `get_draft_for` (404 for what the user may not see).
htmx requests get the page's fragment (`page.html#region`); plain POSTs redirect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from accounts.models import User

from . import rules
from .access import get_draft_for
from .fields import SECTIONS, SPARK_NAMES, PropertyType
from .forms import (
    CustomFieldsSaveForm,
    DraftCreateForm,
    DraftFilterForm,
    FieldSaveForm,
    agent_label,
    agents_in_scope,
    co_listing_candidates,
    custom_fields_json,
    custom_rows,
)
from .models import AUTOSAVE_FIELDS, Draft, StaleEdit
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


@dataclass
class Conflict:
    theirs: str
    theirs_display: str
    mine: str
    mine_display: str
    version: int
    by: str
    at: Any


@dataclass
class FieldView:
    """One autosaved field of the editor and its save state."""

    name: str
    label: str
    spark_name: str
    value: str
    seen: str
    version: int
    widget: str = "text"
    inputmode: str = ""
    autocomplete: str = ""
    hint: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    datalist: str = ""
    state: str = "saved"
    errors: list[str] = field(default_factory=list)
    conflict: Conflict | None = None
    rule_results: list[rules.RuleResult] = field(default_factory=list)
    max_length: int = 0
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    display: str = ""


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
    elif name == "property_sub_type":
        view.datalist = "subtype-options"
    elif name == "custom_fields":
        view.widget = "custom"
        view.rows = _custom_rows_of(value)
    return view


def _co_list_choices(draft: Draft) -> list[tuple[str, str]]:
    return [
        (str(agent.pk), agent.get_full_name() or agent.username) for agent in co_listing_candidates(draft)
    ]


def _editor_context(
    request: HttpRequest, draft: Draft, overrides: dict[str, FieldView] | None = None
) -> dict:
    can_edit = draft.is_editable  # visibility was settled by get_draft_for
    percent, errors, warnings = rules.readiness(draft)
    found = rules.by_field(errors + warnings)
    co_list_choices = _co_list_choices(draft) if can_edit else []
    sections = []
    for slug, title, names in EDITOR_SECTIONS:
        views = [_field_view(draft, name, co_list_choices, found) for name in names]
        if overrides:
            views = [overrides.get(view.name, view) for view in views]
        sections.append({"slug": slug, "title": title, "fields": views})
    return {
        "draft": draft,
        "can_edit": can_edit,
        "sections": sections,
        "readiness": percent,
        "rule_errors": errors,
        "rule_warnings": warnings,
        "sub_types": rules.sub_type_choices(draft.property_type),
        "nearby": draft.nearby(user=request.user),
        # Rooms, units, virtual tours and videos (drafts/part_views.py, templates/drafts/parts.html).
        "parts": part_regions(draft, can_edit=can_edit),
        "tab": "details",
        "nav": "drafts",
    }


# --- The list ---


@login_required
@require_GET
def draft_list(request: HttpRequest) -> HttpResponse:
    form = DraftFilterForm(request.GET, user=request.user)
    # One query for both agent menus (the filter and "new draft for"), none for agents.
    agent_choices = (
        [(agent.pk, agent_label(agent)) for agent in agents_in_scope(request.user)]
        if "agent" in form.fields
        else []
    )
    drafts = form.filter(
        Draft.objects.visible_to(request.user).select_related("list_agent", "co_list_agent", "office", "sync")
    )
    page = Paginator(drafts, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(draft, *rules.readiness(draft)) for draft in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "query": query.urlencode(),
        "in_trash": form.is_valid() and form.cleaned_data.get("trash"),
        "agent_choices": agent_choices,
        "selected_agent": request.GET.get("agent", ""),
        "property_types": PropertyType.choices,
        # A company admin's (or a superuser's) list mixes offices: each row names its office.
        "spans_offices": request.user.is_company_admin or request.user.is_superuser,
        "nav": "drafts",
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "drafts/draft_list.html#results", context)
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

    The htmx reply is the field's save-state region only (never the input being typed
    in): it carries the field's new (version, seen_value) pair. A change fires the
    `draft-saved` event (and `draft-location-saved` for coordinates) so the page
    re-reads its rules and nearby drafts.
    """
    if name not in AUTOSAVE_FIELDS:
        raise Http404("No such field.")
    draft = get_draft_for(request.user, pk, write=True)
    if name == "custom_fields":
        form: FieldSaveForm | CustomFieldsSaveForm = CustomFieldsSaveForm(request.POST, draft=draft)
    else:
        form = FieldSaveForm(request.POST, draft=draft, name=name)
    typed = form.typed_value()
    state = FieldView(
        name=name,
        label=field_label(name),
        spark_name=SPARK_NAMES.get(name, ""),
        value=typed,
        seen=request.POST.get("seen_value", ""),
        version=_int(request.POST.get("version"), draft.version),
    )
    if not form.is_valid():
        state.state = "invalid"
        state.errors = [str(error) for errors in form.errors.values() for error in errors]
        return _field_response(request, draft, state, status=422)
    try:
        saved = draft.save_field(
            name,
            form.model_value(),
            by=request.user,
            seen_version=form.cleaned_data["version"],
            seen_value=form.seen(),
            own_unconfirmed=form.unconfirmed(),
        )
    except StaleEdit as stale:
        event = draft.last_change_of(name)
        mine = form.model_value()
        agents = _agent_names([stale.current, mine], name)
        state.state = "conflict"
        state.conflict = Conflict(
            theirs=input_text(stale.current),
            theirs_display=_history_text(name, stale.current, agents),
            mine=typed,
            mine_display=_history_text(name, mine, agents),
            version=stale.version,
            by=str(event.actor) if event and event.actor else "someone",
            at=event.at if event else None,
        )
        return _field_response(request, draft, state, status=409)
    except ValidationError as error:
        state.state = "invalid"
        state.errors = list(error.messages)
        return _field_response(request, draft, state, status=422)
    stored = saved.draft.co_list_agent_id if name == "co_list_agent" else getattr(saved.draft, name)
    state.seen = input_text(stored)
    state.version = saved.draft.version
    response = _field_response(request, saved.draft, state, status=200)
    if saved.changed and request.htmx:
        trigger_client_event(response, "draft-saved", {"field": name, "version": saved.draft.version})
        if name in LOCATION_FIELDS:
            trigger_client_event(response, "draft-location-saved", {})
    return response


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
                state.widget, state.choices, state.inputmode = view.widget, view.choices, view.inputmode
                state.hint, state.datalist, state.max_length = view.hint, view.datalist, view.max_length
                state.rule_results = view.rule_results
                state.rows = custom_rows(request.POST) if state.name == "custom_fields" else []
                section["fields"][index] = state
    return render(request, "drafts/draft_edit.html", context, status=status)


@login_required
@require_GET
def draft_rules(request: HttpRequest, pk: int) -> HttpResponse:
    """The rule summary and every field's messages (out of band), after an autosave."""
    draft = get_draft_for(request.user, pk, include_trash=True)
    percent, errors, warnings = rules.readiness(draft)
    found = rules.by_field(errors + warnings)
    context = {
        "draft": draft,
        "readiness": percent,
        "rule_errors": errors,
        "rule_warnings": warnings,
        "field_messages": [(name, found.get(name, [])) for name in sorted(AUTOSAVE_FIELDS)],
        "sub_types": rules.sub_type_choices(draft.property_type),
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
    entries = []
    for event in page.object_list:
        label = ""
        if event.field in AUTOSAVE_FIELDS:
            label = field_label(event.field)
        elif event.field == "status":
            label = "Status"
        entries.append(
            {
                "event": event,
                "label": label,
                "old": _history_text(event.field, event.old_value, agents) if event.field else "",
                "new": _history_text(event.field, event.new_value, agents) if event.field else "",
            }
        )
    percent, errors, warnings = rules.readiness(draft)
    context = {
        "draft": draft,
        "page": page,
        "entries": entries,
        "readiness": percent,
        "rule_errors": errors,
        "rule_warnings": warnings,
        "can_edit": draft.is_editable,
        "tab": "history",
        "nav": "drafts",
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "drafts/draft_history.html#history", context)
    return render(request, "drafts/draft_history.html", context)


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
