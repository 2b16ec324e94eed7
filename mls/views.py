"""The sync pages: a draft's sync log (every remote call), retry, the drift decision, and the
"needs attention" list. Every view reaches the draft through `get_draft_for` (404 for what
the user may not see)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from accounts.http import AuthenticatedRequest
from drafts.access import get_draft_for
from drafts.frame import frame_context
from drafts.models import Draft, DraftStatus, TransitionNotAllowed
from media_manager.models import Photo
from spark.errors import SparkError

from . import drift, enqueue, metadata, publishing, push
from .failures import describe
from .forms import OpenHouseForm
from .models import (
    DraftSync,
    ItemKind,
    OpenHouse,
    Promotion,
    PromotionItem,
    RemoteCall,
    RemoteItem,
    SyncState,
)
from .templatetags.sync import badge_html

CALLS_PAGE_SIZE = 100
ATTENTION_PAGE_SIZE = 50


def _sync_row(draft: Draft) -> DraftSync:
    # Not get_or_create: a GET writes nothing (a draft the engine has not seen yet is pending).
    return DraftSync.objects.filter(pk=draft.pk).first() or DraftSync(draft=draft)


def _status_context(draft: Draft) -> dict[str, Any]:
    row = _sync_row(draft)
    return {
        "draft": draft,
        "sync": row,
        "state": row.display_state(draft.change_seq),
        "refusals": row.refusals(draft),
        "items": list(RemoteItem.objects.filter(draft=draft).order_by("kind", "local_id")),
    }


@login_required
@require_GET
def draft_sync(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, include_trash=True)
    calls = RemoteCall.objects.filter(draft=draft).order_by("-at", "-pk")
    page = Paginator(calls, CALLS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {**_status_context(draft), "page": page, "nav": "drafts", "tab": "sync"}
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "mls/draft_sync.html#sync_status", context)
    return render(request, "mls/draft_sync.html", {**context, **frame_context(draft, tab="sync")})


@login_required
@require_GET
def draft_sync_badge(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The badge alone, for htmx polling while a push is under way."""
    draft = get_draft_for(request.user, pk, include_trash=True)
    return HttpResponse(badge_html(draft))


@login_required
@require_POST
def draft_sync_retry(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk)
    queued = push.request_retry(draft, by=request.user)
    if request.htmx:
        # Read again: the draft came with its sync state joined, as it was before the retry.
        draft = get_draft_for(request.user, pk)
        return HttpResponse(badge_html(draft))
    if queued:
        messages.success(request, "Sync queued again.")
    else:
        messages.info(request, "Nothing to retry: this draft is not waiting for one.")
    return redirect("mls:draft_sync", pk=draft.pk)


@login_required
@require_POST
def draft_sync_resolve(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    keep = request.POST.get("keep", "")
    if keep not in ("portal", "remote"):
        return HttpResponseBadRequest("Choose keep=portal or keep=remote.")
    if drift.resolve_drift(draft, keep=keep, by=request.user):
        messages.success(
            request,
            "The portal version will be pushed to the MLS."
            if keep == "portal"
            else "The MLS changes were taken into this draft.",
        )
    else:
        messages.info(request, "This draft has no MLS changes waiting for a decision.")
    return redirect("mls:draft_sync", pk=draft.pk)


@login_required
@require_GET
def needs_attention(request: AuthenticatedRequest) -> HttpResponse:
    """Drafts whose sync waits for a person (gave up, refused, changed in the MLS), scoped to
    what the user may see: an office admin sees the office's, an agent their own."""
    rows = (
        DraftSync.objects.visible_to(request.user)
        .needing_attention()
        .select_related("draft", "draft__list_agent")
        .order_by("-error_at", "-updated_at")
    )
    page = Paginator(rows, ATTENTION_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "states": SyncState, "nav": "attention"}
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "mls/needs_attention.html#attention_list", context)
    return render(request, "mls/needs_attention.html", context)


# --- Publishing (mls/publishing.py) ---------------------------------------------------------


def _promotion_context(request: AuthenticatedRequest, draft: Draft, **extra: Any) -> dict[str, Any]:
    job = Promotion.objects.filter(pk=draft.pk).first()
    return {
        "draft": draft,
        "promotion": job,
        "can_promote": draft.can_review(request.user)
        and not draft.is_deleted
        and draft.status in (DraftStatus.APPROVED, DraftStatus.PROMOTION_FAILED),
        **extra,
    }


def _review_url(draft: Draft) -> str:
    return reverse("drafts:draft_review", args=[draft.pk])


@login_required
@require_POST
def draft_preflight(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Ask the MLS whether it would accept the draft as a listing (nothing is stored)."""
    draft = get_draft_for(request.user, pk)
    if not draft.can_review(request.user):
        raise PermissionDenied("Only a reviewer of this office can check a draft with the MLS.")
    context = _promotion_context(request, draft, preflight=publishing.preflight(draft))
    if request.htmx:
        return render(request, "mls/promotion_panel.html", context)
    result = context["preflight"]
    (messages.success if result.ok else messages.error)(request, result.message)
    return redirect(_review_url(draft))


@login_required
@require_POST
def draft_promote(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk)
    try:
        publishing.start(draft, by=request.user)
    except TransitionNotAllowed as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"Publishing {draft}: the steps below show where it stands.")
    if request.htmx:
        return HttpResponseClientRedirect(_review_url(draft))
    return redirect(_review_url(draft))


@login_required
@require_GET
def promotion_status(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The publishing panel alone, for htmx polling while the job runs."""
    draft = get_draft_for(request.user, pk, include_trash=True)
    context = _promotion_context(request, draft)
    response = render(request, "mls/promotion_panel.html", context)
    if not (context["promotion"] and context["promotion"].is_active):
        # The panel stops polling here; the draft frame reads the end state (live or failed).
        trigger_client_event(response, "draft-changed", {})
    return response


@dataclass(frozen=True)
class OpenHouseRow:
    open_house: OpenHouse
    form: OpenHouseForm
    editing: bool


def _open_houses_context(request: AuthenticatedRequest, draft: Draft, **extra: Any) -> dict[str, Any]:
    today = timezone.now().astimezone(draft.office.zone).date()
    shown = list(OpenHouse.objects.filter(draft=draft, date__gte=today).shown())
    editing, edit_form = extra.pop("editing", None), extra.pop("edit_form", None)
    rows = []
    for open_house in shown:
        # One form per open house, its own ids; the one just refused keeps what was typed.
        if editing == open_house.pk and edit_form is not None:
            form = edit_form
        else:
            initial = {
                "date": open_house.date,
                "start": open_house.start,
                "end": open_house.end,
                "comments": open_house.comments,
            }
            form = OpenHouseForm(initial=initial, auto_id=edit_ids(open_house.pk))
        rows.append(OpenHouseRow(open_house, form, editing == open_house.pk))
    moving = {"pending", "cancelling", "retrying"}
    may_change = OpenHouse.may_change(draft, request.user) and draft.status == DraftStatus.LIVE
    return {
        "draft": draft,
        "open_houses": rows,
        # The region polls itself while a change is on its way to the MLS.
        "open_houses_polling": any(row.open_house.sync_state in moving for row in rows),
        "may_change_open_houses": may_change,
        "open_house_form": extra.pop("open_house_form", None) or OpenHouseForm(),
        "office_zone": draft.office.time_zone,
        **extra,
    }


@login_required
@require_GET
def live_listing(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The live listing as the MLS shows it now (read back with Photos and Documents), and its
    open houses as the portal holds them."""
    draft = get_draft_for(request.user, pk, include_trash=True)
    if request.htmx and not request.htmx.history_restore_request:
        if not draft.live_listing_id:
            raise Http404("This draft has no live listing yet.")
        return render(request, "mls/live_listing.html#open_houses", _open_houses_context(request, draft))
    return _render_live_listing(request, draft)


def _expansion(listing: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """A listing expansion, wherever the MLS puts it (beside or inside StandardFields)."""
    fields = listing.get("StandardFields") or {}
    found = listing.get(name) or (fields.get(name) if isinstance(fields, dict) else None) or []
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def _labelled(records: list[dict[str, Any]]) -> list[list[tuple[str, Any]]]:
    """Rooms or units as (MLS label, value) rows: the labelled read is a list of one-key objects."""
    rows = []
    for record in records:
        fields = record.get("Fields")
        if isinstance(fields, list):
            pairs = [pair for item in fields if isinstance(item, dict) for pair in item.items()]
        else:
            pairs = list(fields.items()) if isinstance(fields, dict) else []
        # Several values of a list travel comma-joined; people read them with a space.
        rows.append(
            [(str(label), str(value).replace(",", ", ")) for label, value in pairs if value not in (None, "")]
        )
    return rows


@dataclass(frozen=True)
class LivePhoto:
    """A photo as the MLS shows it, with the portal's own photo it came from (None for one the
    portal does not know): the page shows the portal's variants through its scoped views."""

    number: int
    remote: dict[str, Any]
    photo: Photo | None

    def _file(self, *wanted: str) -> str:
        """The first of `wanted` this photo has (a variant, else its master), "" for none."""
        if self.photo is None:
            return ""
        for kind in wanted:
            if kind in (self.photo.variants or {}) or (kind == "master" and self.photo.master):
                return kind
        return ""

    @property
    def thumb(self) -> str:
        return self._file("thumb", "medium", "master")

    @property
    def medium(self) -> str:
        return self._file("medium", "large", "master", "thumb")

    @property
    def large(self) -> str:
        return self._file("large", "master", "medium", "thumb")


def live_photos(draft: Draft, remote_photos: list[dict[str, Any]]) -> list[LivePhoto]:
    """The MLS's photos in its order, each matched to the portal's photo by the remote id the
    publishing job (PromotionItem) or the sync (RemoteItem) confirmed, or the photo's own;
    three queries."""
    ids = [str(item.get("Id")) for item in remote_photos if item.get("Id")]
    local_of = dict(
        PromotionItem.objects.filter(
            promotion_id=draft.pk, kind=ItemKind.PHOTO, remote_id__in=ids
        ).values_list("remote_id", "local_id")
    )
    synced = RemoteItem.objects.photos().filter(draft=draft, remote_id__in=ids, local_id__isnull=False)
    for remote_id, local_id in synced.values_list("remote_id", "local_id"):
        if local_id is not None:
            local_of[remote_id] = local_id
    photos = Photo.objects.filter(draft=draft).filter(Q(pk__in=local_of.values()) | Q(remote_id__in=ids))
    by_pk = {photo.pk: photo for photo in photos}
    by_remote = {photo.remote_id: photo for photo in by_pk.values() if photo.remote_id}
    return [
        LivePhoto(
            number,
            item,
            by_pk.get(local_of.get(str(item.get("Id")), 0)) or by_remote.get(str(item.get("Id"))),
        )
        for number, item in enumerate(remote_photos, start=1)
    ]


@dataclass(frozen=True)
class KeyFact:
    label: str
    value: str


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def key_facts(fields: dict[str, Any], draft: Draft) -> list[KeyFact]:
    """Price, beds, baths and square feet as the MLS shows them (the draft's where the MLS says
    nothing), the way a listing leads with them."""
    price = _number(fields.get("ListPrice", draft.list_price))
    beds = _number(fields.get("BedsTotal", draft.beds_total))
    baths = _number(fields.get("BathsTotal", draft.baths_total))
    area = _number(fields.get("BuildingAreaTotal", draft.building_area_total))
    facts = []
    if price is not None:
        facts.append(KeyFact("Price", f"${price:,.0f}"))
    if beds is not None:
        facts.append(KeyFact("Beds", f"{beds.normalize():f}"))
    if baths is not None:
        facts.append(KeyFact("Baths", f"{baths.normalize():f}"))
    if area is not None:
        facts.append(KeyFact("Sq ft", f"{area:,.0f}"))
    return facts


# The MLS's agent and office fields: the page shows the portal's listing agent and office instead
# (the remote's may be a placeholder, as the sandbox's are).
AGENT_FIELD_PREFIXES = ("ListAgent", "CoListAgent", "ListOffice", "CoListOffice")


def _render_live_listing(
    request: AuthenticatedRequest, draft: Draft, *, status: int = 200, **extra: Any
) -> HttpResponse:
    if not draft.live_listing_id:
        raise Http404("This draft has no live listing yet.")
    listing: dict[str, Any] = {}
    problem = ""
    try:
        listing = publishing.live_listing(draft)
    except SparkError as error:
        problem = f"The MLS did not return the listing ({describe(error)}). Try again in a minute."
    fields = listing.get("StandardFields") or {}
    photos = sorted(fields.get("Photos") or listing.get("Photos") or [], key=lambda p: p.get("Order") or 0)
    documents = fields.get("Documents") or listing.get("Documents") or []
    context = {
        **_open_houses_context(request, draft, **extra),
        "listing": listing,
        "fields": fields,
        "field_rows": metadata.readable_fields(
            {name: value for name, value in fields.items() if not name.startswith(AGENT_FIELD_PREFIXES)},
            str(fields.get("PropertyType") or draft.property_type),
        ),
        "photos": live_photos(draft, photos),
        "facts": key_facts(fields, draft),
        "agent": draft.list_agent,
        "co_agent": draft.co_list_agent,
        "office": draft.office,
        "documents": sorted(documents, key=lambda d: d.get("Order") or 0),
        "rooms": _labelled(_expansion(listing, "Rooms")),
        "units": _labelled(_expansion(listing, "Units")),
        "links": [
            (noun, item)
            for noun, name in (("Virtual tour", "VirtualTours"), ("Video", "Videos"))
            for item in _expansion(listing, name)
        ],
        "problem": problem,
        "promotion": Promotion.objects.filter(pk=draft.pk).first(),
        "nav": "drafts",
        **frame_context(draft, tab="live"),
    }
    return render(request, "mls/live_listing.html", context, status=502 if problem else status)


# --- Open houses of a live listing (OpenHouse, pushed by mls/open_houses.py) ---------------------


def _open_house_draft(request: AuthenticatedRequest, pk: int) -> Draft:
    """The live draft whose open houses the user may change: 404 for another office's, 403 for
    one the user may see but not change."""
    draft = get_draft_for(request.user, pk)
    if not OpenHouse.may_change(draft, request.user):
        raise PermissionDenied("Only the listing's agents and the office's admins change its open houses.")
    if draft.status != DraftStatus.LIVE:
        raise PermissionDenied("Open houses can be scheduled once the listing is live.")
    return draft


def _open_houses_answer(
    request: AuthenticatedRequest, draft: Draft, *, status: int = 200, **extra: Any
) -> HttpResponse:
    if request.htmx:
        # The region is the answer, with the refused form in it: 200, so htmx swaps it in
        # (htmx leaves 4xx answers unswapped).
        context = _open_houses_context(request, draft, **extra)
        return render(request, "mls/live_listing.html#open_houses", context)
    if status != 200:
        return _render_live_listing(request, draft, status=status, **extra)
    return redirect("mls:live_listing", pk=draft.pk)


def edit_ids(open_house_pk: int) -> str:
    return f"oh{open_house_pk}_%s"


def _apply_form(
    request: AuthenticatedRequest, change: Callable[[dict[str, Any]], object], auto_id: str = "id_%s"
) -> OpenHouseForm:
    """Validate the form and make the change; model refusals land on the form's fields."""
    form = OpenHouseForm(request.POST, auto_id=auto_id)
    if form.is_valid():
        try:
            change(form.cleaned_data)
        except ValidationError as refused:
            form.add_error(None, refused)
    return form


@login_required
@require_POST
def open_house_create(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    draft = _open_house_draft(request, pk)
    form = _apply_form(request, lambda data: OpenHouse.schedule(draft, by=request.user, **data))
    if form.errors:
        return _open_houses_answer(request, draft, status=400, open_house_form=form)
    if not request.htmx:  # the swapped region shows it
        messages.success(request, "Open house scheduled; it is being sent to the MLS.")
    return _open_houses_answer(request, draft)


@login_required
@require_POST
def open_house_edit(request: AuthenticatedRequest, pk: int, oh: int) -> HttpResponse:
    draft = _open_house_draft(request, pk)
    open_house = get_object_or_404(OpenHouse, draft=draft, pk=oh)
    form = _apply_form(request, lambda data: open_house.edit(by=request.user, **data), edit_ids(oh))
    if form.errors:
        return _open_houses_answer(request, draft, status=400, edit_form=form, editing=open_house.pk)
    if not request.htmx:  # the swapped region shows it
        messages.success(request, "Open house changed; the change is being sent to the MLS.")
    return _open_houses_answer(request, draft)


@login_required
@require_POST
def open_house_cancel(request: AuthenticatedRequest, pk: int, oh: int) -> HttpResponse:
    draft = _open_house_draft(request, pk)
    open_house = get_object_or_404(OpenHouse, draft=draft, pk=oh)
    if open_house.cancel(by=request.user) and not request.htmx:
        messages.success(request, "Open house cancelled; it is being removed from the MLS.")
    return _open_houses_answer(request, draft)


# --- The MLS's lists (mls/metadata.py) ------------------------------------------------------


def _require_admin(request: AuthenticatedRequest) -> None:
    if not request.user.is_reviewer:
        raise PermissionDenied("Only office and company admins manage the MLS's lists.")


@login_required
@require_GET
def mls_lists(request: AuthenticatedRequest) -> HttpResponse:
    """When each of the MLS's lists was last read, and why the last try failed if it did."""
    _require_admin(request)
    lines = metadata.status()
    context = {
        "lines": lines,
        "never_read": not any(line.read for line in lines),
        "not_read_yet": metadata.NOT_READ_YET,
        "nav": "attention",
    }
    return render(request, "mls/mls_lists.html", context)


@login_required
@require_POST
def mls_lists_refresh(request: AuthenticatedRequest) -> HttpResponse:
    _require_admin(request)
    if enqueue.request_metadata_refresh(settings.SPARK_MLS_ID):
        messages.success(
            request, "The MLS's lists are being read again; this page shows the result in a minute."
        )
    else:
        messages.error(
            request, "The refresh could not be queued: the task queue is not answering. Try again later."
        )
    return redirect("mls:mls_lists")
