"""The editor's rooms, units, virtual tours and videos: one region per kind (#parts-<kind>).

Every view reaches the draft through `get_draft_for` (404 for another office's draft, 403 for
one that can no longer be edited) and the part through the draft. htmx requests get the kind's
region of drafts/parts.html back; plain POSTs redirect to the editor, or show the form again
on its own page when it was refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from accounts.http import AuthenticatedRequest

from . import part_fields, part_state
from .access import get_draft_for
from .fields import PropertyType
from .layout import MetadataSnapshot
from .models import Draft, ListingPart
from .models.parts import LINK_VALUES, part_kinds, types_with_kind
from .part_forms import FIELDS_NOT_READ, PartFieldsForm, PartLinkForm

TITLES = {"room": "Rooms", "unit": "Units", "tour": "Virtual tours", "video": "Videos"}
PartForm = PartFieldsForm | PartLinkForm
# The draft's pk and CSRF token of an empty region written once for every draft (`empty_html`):
# stand-ins no region's markup holds otherwise, put back by the draft's own on each page.
STAND_IN_PK = 918273645
STAND_IN_TOKEN = "csrf-token-stand-in"


class SharedStates:
    """Where a draft's parts stand with the MLS (drafts/part_state.py), read once for every
    region of a page and only when a region shows them (the review page never does)."""

    def __init__(self, draft: Draft, parts: list[ListingPart], *, changed: bool = False) -> None:
        self.draft, self.parts, self.changed = draft, parts, changed

    @cached_property
    def states(self) -> part_state.PartStates:
        return part_state.read(self.draft, self.parts, changed=self.changed)


@dataclass
class PartRegion:
    """One kind's list in the editor, with its add form and the part being edited, if any.
    `sent` is False for parts the MLS is not sent (units left on a draft no longer multi
    family), with `unsent_notice` saying why."""

    draft: Draft
    kind: str
    parts: list[ListingPart]
    can_edit: bool
    specs: list[Any] = field(default_factory=list)
    # The fields whose labels name the parts' values: `specs`, else another type's (units kept
    # on a draft no longer multi family).
    label_specs: list[Any] = field(default_factory=list)
    # The unbound add form's fields as HTML, when the editor's `part_regions` wrote them once
    # for every draft of the property type (per metadata version): else the template writes them.
    add_fields_html: str = ""
    # The whole region while it holds no part, when the editor's `part_regions` wrote it once
    # for every draft of the property type (per metadata version), with STAND_IN_PK and
    # STAND_IN_TOKEN: `html_for` puts the draft's in place; else the template writes it.
    empty_html: str = ""
    adding: bool = False
    editing: int | None = None
    edit_form: PartForm | None = None
    notice: str = ""
    not_read: str = ""
    sent: bool = True
    unsent_notice: str = ""
    shared_states: SharedStates | None = None

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    @cached_property
    def add_form(self) -> PartForm | None:
        """The empty add form, built when asked: an empty region the editor wrote once asks
        only then. Units and rooms come and go with the property type; those a draft still
        holds can be edited and removed, not added. A refused add sets its bound form here."""
        if self.can_edit and self.sent and not self.not_read:
            return new_form(self.draft, self.kind, self.specs)
        return None

    @cached_property
    def states(self) -> dict[int, part_state.PartState]:
        """Part id -> where it stands with the MLS (the refusal's field names in the MLS's
        labels); nothing for parts it is not sent."""
        if not self.sent or self.shared_states is None:
            return {}
        read = self.shared_states.states
        labels = {spec.name: spec.label for spec in self.specs if spec.label and spec.label != spec.name}
        found = {}
        for part in self.parts:
            state = read.of(part.pk)
            if state is not None and state.message and labels:
                state = part_state.PartState(state.state, name_fields(state.message, labels))
            if state is not None:
                found[part.pk] = state
        return found

    @property
    def lines(self) -> list[tuple[ListingPart, part_state.PartState | None]]:
        return [(part, self.states.get(part.pk)) for part in self.parts]

    @property
    def poll_seconds(self) -> int:
        """How often the region's states look again: 0 once this kind's parts are settled."""
        if self.shared_states is None or all(state.settled for state in self.states.values()):
            return 0
        return self.shared_states.states.poll_seconds

    @property
    def noun(self) -> str:
        return ListingPart.Kind(self.kind).label.lower()

    @property
    def is_link_kind(self) -> bool:
        return self.kind in (ListingPart.Kind.TOUR, ListingPart.Kind.VIDEO)

    @property
    def dom_id(self) -> str:
        return f"parts-{self.kind}"

    def html_for(self, csrf_token: Any) -> str:
        """The region's markup written once (`empty_html`) with this draft's pk and the page's
        CSRF token in place; "" when the template is to write it."""
        if not self.empty_html or self.parts or not csrf_token or csrf_token == "NOTPROVIDED":
            return ""
        return self.empty_html.replace(str(STAND_IN_PK), str(self.draft.pk)).replace(
            STAND_IN_TOKEN, str(csrf_token)
        )


def name_fields(message: str, labels: dict[str, str]) -> str:
    """The MLS's words with its attribute names ("LevelOrFloor") as people read them ("Room
    Level"), as the editor's form labels them."""
    pattern = re.compile(
        r"\b(" + "|".join(re.escape(name) for name in sorted(labels, key=len, reverse=True)) + r")\b"
    )
    return pattern.sub(lambda match: labels[match.group(1)], message)


def unsent_notice(draft: Draft, kind: str, count: int) -> str:
    """Why a draft's parts of `kind` are not sent: "Units are only for Multi Family listings:
    these 2 units will not be sent to the MLS while this is Residential." """
    types = types_with_kind(kind)
    noun = ListingPart.Kind(kind).label.lower()
    plural = TITLES[kind]
    these = f"these {count} {noun}s" if count != 1 else f"this {noun}"
    where = f"only for {_join(types)} listings" if types else "not taken by the MLS for any listing"
    return (
        f"{plural} are {where}: {these} will not be sent to the MLS while this is "
        f"{draft.get_property_type_display()}. Change the property type back, or remove them."
    )


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _specs(
    draft: Draft, kind: str, *, lists_read: bool, snapshot: MetadataSnapshot | None = None
) -> list[Any]:
    """The kind's fields for the draft's type: from `snapshot` when the caller holds the MLS's
    metadata already (no query), else as the metadata is now (one query)."""
    if not lists_read:
        return []
    if kind == ListingPart.Kind.ROOM:
        if snapshot is not None:
            return list(snapshot.room_fields(draft.property_type))
        return part_fields.room_fields(draft.property_type)
    if kind == ListingPart.Kind.UNIT:
        if snapshot is not None:
            return list(snapshot.unit_fields(draft.property_type))
        return part_fields.unit_fields(draft.property_type)
    return []


def _specs_elsewhere(kind: str) -> list[Any]:
    """The kind's fields as the first property type that has them lists them: their labels,
    for parts a draft kept after its type changed to one without that kind."""
    read = part_fields.room_fields if kind == ListingPart.Kind.ROOM else part_fields.unit_fields
    for property_type in PropertyType.values:
        found = read(property_type)
        if found:
            return found
    return []


def new_form(draft: Draft, kind: str, specs: list[Any], data: Any = None) -> PartForm:
    if kind in (ListingPart.Kind.TOUR, ListingPart.Kind.VIDEO):
        return PartLinkForm(data, kind=kind, prefix=f"new-{kind}")
    return PartFieldsForm(data, specs=specs, noun=ListingPart.Kind(kind).label.lower(), prefix=f"new-{kind}")


def edit_form(part: ListingPart, specs: list[Any], data: Any = None) -> PartForm:
    if part.is_link:
        initial = {name: getattr(part, name) for name in LINK_VALUES}
        return PartLinkForm(data, initial=initial, kind=part.kind, prefix=f"part{part.pk}")
    return PartFieldsForm(
        data, initial=dict(part.fields or {}), specs=specs, noun=part.kind_label, prefix=f"part{part.pk}"
    )


def _present(part: ListingPart, specs: list[Any]) -> ListingPart:
    """Give a room or unit its title and (label, value) rows in the MLS's order and words, for
    the list. The stored order of `fields` is not the MLS's (PostgreSQL's jsonb sorts keys)."""
    filled = dict(part.field_items())
    rows = []
    for spec in specs:
        if spec.name not in filled:
            continue
        labels: dict[str, str] = {choice.value: choice.label for choice in spec.choices}
        value = (part.fields or {}).get(spec.name)
        shown = (
            ", ".join(labels.get(str(item), str(item)) for item in value)
            if isinstance(value, list)
            else labels.get(str(value), filled[spec.name])
        )
        rows.append((spec.label or spec.name, shown))
    known = {spec.name for spec in specs}
    rows += [(name, text) for name, text in filled.items() if name not in known]
    # The first filled field names the part, shown on its own.
    part.display_title = rows[0][1] if rows else part.title  # type: ignore[attr-defined]
    part.display_rows = rows[1:]  # type: ignore[attr-defined]
    return part


def part_region(
    draft: Draft,
    kind: str,
    *,
    can_edit: bool,
    parts: list[ListingPart] | None = None,
    lists_read: bool | None = None,
    specs: list[Any] | None = None,
    kinds: list[str] | None = None,
    shared_states: SharedStates | None = None,
    changed: bool = False,
) -> PartRegion:
    """One kind's region. `parts`, `lists_read`, `specs`, `kinds` (what the draft's property
    type has: `part_kinds`) and `shared_states` save their queries when the caller read them
    already (`part_regions`); `changed`: this request changed the draft."""
    if parts is None:
        parts = list(draft.parts.filter(kind=kind).order_by("position", "pk"))
    is_fielded = kind in (ListingPart.Kind.ROOM, ListingPart.Kind.UNIT)
    if is_fielded and lists_read is None:
        lists_read = part_fields.lists_read()
    if specs is None:
        specs = _specs(draft, kind, lists_read=bool(lists_read)) if is_fielded else []
    if kinds is None:
        # Tours and videos go with every property type: no need to ask the MLS's lists.
        kinds = (
            part_kinds(
                draft.property_type,
                lists_read=lists_read,
                room_fields=specs if kind == ListingPart.Kind.ROOM else None,
                unit_fields=specs if kind == ListingPart.Kind.UNIT else None,
            )
            if is_fielded
            else [kind]
        )
    # Units left on a draft whose type has none still read by the MLS's labels.
    label_specs = specs or (_specs_elsewhere(kind) if is_fielded and parts and lists_read else [])
    region = PartRegion(
        draft=draft, kind=kind, parts=[_present(part, label_specs) for part in parts], can_edit=can_edit
    )
    region.label_specs = label_specs
    region.specs = specs
    region.sent = kind in kinds
    if not region.sent and parts:
        region.unsent_notice = unsent_notice(draft, kind, len(parts))
    if region.sent:
        region.shared_states = shared_states or SharedStates(draft, region.parts, changed=changed)
    if is_fielded and not specs and region.sent:
        region.not_read = (
            FIELDS_NOT_READ
            if not lists_read
            else f"The MLS has no {region.noun} fields for this property type."
        )
    return region


def part_regions(
    draft: Draft, *, can_edit: bool, snapshot: MetadataSnapshot | None = None
) -> dict[str, PartRegion]:
    """Every kind's region for the editor (units only where the property type has them, or the
    draft still holds some): one query for the parts, while the MLS's lists were read one for
    each of its room and unit field lists, and, once a region shows where its parts stand with
    the MLS, one for that (for every region). With the `snapshot` of the MLS's metadata the
    page already read (the editor's RuleBook), the field lists cost no query, and whether they
    were read at all is asked once per metadata version (a new list is a new version)."""
    if snapshot is not None:
        lists_read = snapshot.derived("drafts.part_lists_read", part_fields.lists_read)
    else:
        lists_read = part_fields.lists_read()
    specs = {kind: _specs(draft, kind, lists_read=lists_read, snapshot=snapshot) for kind in ("room", "unit")}
    kinds = part_kinds(
        draft.property_type, lists_read=lists_read, unit_fields=specs["unit"], room_fields=specs["room"]
    )
    by_kind: dict[str, list[ListingPart]] = {kind: [] for kind in ListingPart.Kind.values}
    for part in ListingPart.of_draft_in_order(draft):
        by_kind[part.kind].append(part)
    sent = [part for kind in kinds for part in by_kind[kind]]
    shared = SharedStates(draft, sent)
    regions = {
        kind: part_region(
            draft,
            kind,
            can_edit=can_edit,
            kinds=kinds,
            parts=by_kind[kind],
            lists_read=lists_read,
            specs=specs.get(kind, []),
            shared_states=shared,
        )
        for kind in ListingPart.Kind.values
        if kind in kinds or by_kind[kind]
    }
    if snapshot is not None:
        for kind, region in regions.items():
            if region.parts:
                region.add_fields_html = _kept_add_fields_html(region, snapshot)
            else:
                # Empty, a region is the same markup on every draft of the type but for the
                # draft's pk and the page's token (~1.2 ms of template a page for four of them;
                # its add form is built only when it is written).
                key = ("drafts.empty_part_region", kind, draft.property_type, can_edit)
                region.empty_html = snapshot.derived(key, _empty_html_of(region, snapshot))
    return regions


def _kept_add_fields_html(region: PartRegion, snapshot: MetadataSnapshot) -> str:
    """An empty add form depends on its kind and the type's fields alone (the MLS's lists, so
    the metadata version): the same markup on every draft of that type, written once."""
    form = region.add_form
    if form is None or form.is_bound:
        return ""
    return snapshot.derived(
        ("drafts.part_add_fields", region.kind, region.draft.property_type), _fields_html_of(form)
    )


def _fields_html_of(form: PartForm) -> Callable[[], str]:
    """Writes the `part_fields` partial of `form`, as the editor's page writes it in place."""
    return lambda: render_to_string("drafts/parts.html#part_fields", {"form": form})


def _empty_html_of(region: PartRegion, snapshot: MetadataSnapshot) -> Callable[[], str]:
    """Writes the `part_list` partial of the empty `region` for a stand-in draft and token."""

    def write() -> str:
        # No part, so no state to show nor to poll for: the stand-in reads none.
        draft = Draft(pk=STAND_IN_PK, property_type=region.draft.property_type)
        fields_html = _kept_add_fields_html(region, snapshot)
        stand_in = replace(region, draft=draft, shared_states=None, add_fields_html=fields_html)
        context = {"region": stand_in, "csrf_token": STAND_IN_TOKEN}
        return render_to_string("drafts/parts.html#part_list", context)

    return write


# --- Responses ---


def _editor_url(draft: Draft, kind: str) -> str:
    return reverse("drafts:draft_edit", args=[draft.pk]) + f"#parts-{kind}"


def _region_response(request: AuthenticatedRequest, region: PartRegion, *, status: int = 200) -> HttpResponse:
    """The region (htmx), else the editor on success or the form on its own page when refused.

    A change fires `draft-saved`, as a field's autosave does, so the editor re-reads its checks
    and shows the draft's new version."""
    if request.htmx:
        response = render(request, "drafts/parts.html#part_list", {"region": region}, status=status)
        if status < 400:
            trigger_client_event(response, "draft-saved", {"field": "parts", "version": region.draft.version})
        return response
    if status < 400:
        return redirect(_editor_url(region.draft, region.kind))
    return render(request, "drafts/parts.html", {"region": region, "draft": region.draft}, status=status)


def _kind(kind: str) -> str:
    if kind not in ListingPart.Kind.values:
        raise Http404("No such kind of part.")
    return kind


def _part(draft: Draft, part_id: int) -> ListingPart:
    try:
        part = draft.parts.get(pk=part_id)
    except ListingPart.DoesNotExist:
        raise Http404("No such part.") from None
    part.draft = draft
    return part


# --- Views ---


@login_required
@require_GET
def part_list(request: AuthenticatedRequest, pk: int, kind: str) -> HttpResponse:
    """The kind's region as it stands (the editor's "Cancel"); the editor without htmx."""
    draft = get_draft_for(request.user, pk, include_trash=True)
    region = part_region(draft, _kind(kind), can_edit=draft.is_editable)
    if not request.htmx:
        return redirect(_editor_url(draft, kind))
    return render(request, "drafts/parts.html#part_list", {"region": region})


@login_required
@require_http_methods(["GET", "POST"])
def part_create(request: AuthenticatedRequest, pk: int, kind: str) -> HttpResponse:
    """GET: the add form opened; POST: add the part at the end of its kind."""
    draft = get_draft_for(request.user, pk, write=True)
    region = part_region(draft, _kind(kind), can_edit=True)
    if kind not in part_kinds(draft.property_type):
        raise Http404("This property type has no such part.")
    region.adding = True
    if request.method == "GET":
        return render(
            request,
            "drafts/parts.html" + ("#part_list" if request.htmx else ""),
            {"region": region, "draft": draft},
        )
    form = new_form(draft, kind, region.specs, request.POST)
    region.add_form = form
    if region.not_read or not form.is_valid():
        return _region_response(request, region, status=422)
    try:
        part = ListingPart.objects.add(draft, kind, by=request.user, **form.values())
    except ValidationError as error:
        region.notice = " ".join(error.messages)
        return _region_response(request, region, status=422)
    region = part_region(draft, kind, can_edit=True, changed=True)
    region.notice = f"Added {part.kind_label} {part.title}."
    return _region_response(request, region)


@login_required
@require_http_methods(["GET", "POST"])
def part_edit(request: AuthenticatedRequest, pk: int, part_id: int) -> HttpResponse:
    """GET: the part's form in place of its line; POST: save it."""
    draft = get_draft_for(request.user, pk, write=True)
    part = _part(draft, part_id)
    region = part_region(draft, part.kind, can_edit=True)
    region.editing = part.pk
    if request.method == "GET":
        region.edit_form = edit_form(part, region.specs)
        return render(
            request,
            "drafts/parts.html" + ("#part_list" if request.htmx else ""),
            {"region": region, "draft": draft},
        )
    form = edit_form(part, region.specs, request.POST)
    region.edit_form = form
    if not form.is_valid():
        return _region_response(request, region, status=422)
    values = form.values(part) if isinstance(form, PartFieldsForm) else form.values()
    changed = part.edit(by=request.user, **values)
    region = part_region(draft, part.kind, can_edit=True, changed=changed)
    region.notice = f"Saved {part.kind_label} {part.title}." if changed else "Nothing changed."
    return _region_response(request, region)


@login_required
@require_POST
def part_delete(request: AuthenticatedRequest, pk: int, part_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    part = _part(draft, part_id)
    part.remove(by=request.user)
    region = part_region(draft, part.kind, can_edit=True, changed=True)
    region.notice = f"Removed {part.kind_label} {part.title}."
    return _region_response(request, region)


@login_required
@require_POST
def part_move(request: AuthenticatedRequest, pk: int, part_id: int) -> HttpResponse:
    """Move one part earlier, later, first or last: the buttons and Alt+arrow keys."""
    draft = get_draft_for(request.user, pk, write=True)
    part = _part(draft, part_id)
    try:
        moved = part.move(request.POST.get("direction", ""), by=request.user)
    except ValidationError as error:
        region = part_region(draft, part.kind, can_edit=True)
        region.notice = " ".join(error.messages)
        return _region_response(request, region, status=422)
    region = part_region(draft, part.kind, can_edit=True, changed=moved)
    return _region_response(request, region)


@login_required
@require_POST
def part_reorder(request: AuthenticatedRequest, pk: int, kind: str) -> HttpResponse:
    """The order after a drag: every id of the kind, in order (the htmx Sortable recipe)."""
    draft = get_draft_for(request.user, pk, write=True)
    _kind(kind)
    try:
        moved = ListingPart.objects.reorder(draft, kind, request.POST.getlist("order"), by=request.user)
    except ValidationError as error:
        region = part_region(draft, kind, can_edit=True)
        region.notice = " ".join(error.messages)
        return _region_response(request, region, status=409)
    return _region_response(request, part_region(draft, kind, can_edit=True, changed=moved))


@login_required
@require_GET
def part_states(request: AuthenticatedRequest, pk: int, kind: str) -> HttpResponse:
    """Where the kind's parts stand with the MLS, for the region's poll: its poller and each
    part's state, each swapped in place (htmx out of band), so a form being filled in is left
    alone. The poller stops once they are settled."""
    draft = get_draft_for(request.user, pk, include_trash=True)
    _kind(kind)
    if not request.htmx:
        return redirect(_editor_url(draft, kind))
    parts = list(draft.parts.filter(kind=kind).order_by("position", "pk"))
    region = PartRegion(draft=draft, kind=kind, parts=parts, can_edit=draft.is_editable)
    region.shared_states = SharedStates(draft, parts)
    if any(state.message for state in region.shared_states.states.by_part.values()):
        # The MLS's words name its attributes: their labels are read only when there are words.
        region.specs = _specs(draft, kind, lists_read=part_fields.lists_read())
    return render(request, "drafts/parts.html#part_states", {"region": region})
