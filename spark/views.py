"""The sync pages: a draft's sync log (every remote call), retry, the drift decision, and the
"needs attention" list. Every view reaches the draft through `get_draft_for` (404 for what
the user may not see)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from drafts.access import get_draft_for

from . import sync
from .models import DraftSync, RemoteCall, RemoteItem, SyncState

CALLS_PAGE_SIZE = 100
ATTENTION_PAGE_SIZE = 50


def _sync_row(draft) -> DraftSync:
    # Not get_or_create: a GET writes nothing (a draft the engine has not seen yet is pending).
    return DraftSync.objects.filter(pk=draft.pk).first() or DraftSync(draft=draft)


def _status_context(draft) -> dict:
    row = _sync_row(draft)
    return {
        "draft": draft,
        "sync": row,
        "state": row.display_state(draft.change_seq),
        "items": list(RemoteItem.objects.filter(draft=draft).order_by("kind", "local_id")),
    }


@login_required
@require_GET
def draft_sync(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, include_trash=True)
    calls = RemoteCall.objects.filter(draft=draft).order_by("-at", "-pk")
    page = Paginator(calls, CALLS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {**_status_context(draft), "page": page, "nav": "drafts", "tab": "sync"}
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "spark/draft_sync.html#sync_status", context)
    return render(request, "spark/draft_sync.html", context)


@login_required
@require_GET
def draft_sync_badge(request: HttpRequest, pk: int) -> HttpResponse:
    """The badge alone, for htmx polling while a push is under way."""
    draft = get_draft_for(request.user, pk, include_trash=True)
    return render(request, "spark/tags/sync_badge.html", _badge_context(draft))


def _badge_context(draft) -> dict:
    from .templatetags.sync import badge_context

    return badge_context(draft)


@login_required
@require_POST
def draft_sync_retry(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk)
    queued = sync.request_retry(draft, by=request.user)
    if request.htmx:
        # Read again: the draft came with its sync state joined, as it was before the retry.
        draft = get_draft_for(request.user, pk)
        return render(request, "spark/tags/sync_badge.html", _badge_context(draft))
    if queued:
        messages.success(request, "Sync queued again.")
    else:
        messages.info(request, "Nothing to retry: this draft is not waiting for one.")
    return redirect("spark:draft_sync", pk=draft.pk)


@login_required
@require_POST
def draft_sync_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    keep = request.POST.get("keep", "")
    if keep not in ("portal", "remote"):
        return HttpResponseBadRequest("Choose keep=portal or keep=remote.")
    if sync.resolve_drift(draft, keep=keep, by=request.user):
        messages.success(
            request,
            "The portal version will be pushed to the MLS."
            if keep == "portal"
            else "The MLS changes were taken into this draft.",
        )
    else:
        messages.info(request, "This draft has no MLS changes waiting for a decision.")
    return redirect("spark:draft_sync", pk=draft.pk)


@login_required
@require_GET
def needs_attention(request: HttpRequest) -> HttpResponse:
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
        return render(request, "spark/needs_attention.html#attention_list", context)
    return render(request, "spark/needs_attention.html", context)
