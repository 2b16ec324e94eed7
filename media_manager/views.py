"""The media page of a draft: photos and documents, their upload, order, edits and files.

Every view starts from `get_draft_for(request.user, pk, ...)`: another office's draft is a
404. Mutating views are POST-only and render the region they changed ("page.html#region")
for htmx, or redirect back to the page otherwise. Upload views read the body only after
installing the streaming, size-limited upload handler, so they check CSRF themselves
(`csrf_exempt` outside, `csrf_protect` inside, as Django documents for upload handlers).
Uploaded files are inspected in a sandboxed child process (`media_manager.isolation`).

This module holds the page and its regions; the photo views are in `photo_views`, the document
views in `document_views`, and what they share in `refusals` (the `media_change` decorator),
`upload_answers` (reading an upload and answering it) and `item_views` (finding an item,
reordering, moving, serving its file).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_safe
from django_htmx.http import trigger_client_event

from drafts.access import get_draft_for
from drafts.frame import frame_context
from drafts.models import Draft

from .models import (
    PHOTO_CAPTION_MAX,
    PHOTO_NAME_MAX,
    Document,
    DocumentPrivacy,
    MediaOrder,
    Photo,
    required_documents_for,
)

PAGE = "media_manager/draft_media.html"
ERROR_STATUSES_TO_SWAP = (400, 409, 413, 422)
# A trash lists the latest this many items; older ones stay in the trash, unlisted.
TRASH_SHOWN = 100


# --- Page and regions -----------------------------------------------------------------------


# The per-item MLS sync badges come from the MLS side (mls/, a layer above this app), which
# registers how to read them at start-up, as it registers its listener on drafts.doorbell.
SyncContext = Callable[[Draft, bool], dict]
_sync_context_source: list[SyncContext] = []


def provide_sync_context(source: SyncContext) -> None:
    """`source(draft, changed)` returns the regions' `sync_mirror` and `sync_polling`."""
    _sync_context_source[:] = [source]


def _sync_context(draft: Draft, *, changed: bool = False) -> dict:
    if not _sync_context_source:
        return {"sync_mirror": {}, "sync_polling": changed}
    return _sync_context_source[0](draft, changed)


def _photo_context(draft: Draft, can_edit: bool) -> dict:
    photos = list(
        Photo.objects.active().filter(draft=draft).select_related("duplicate_of").order_by("position")
    )
    trash = list(Photo.objects.in_trash().filter(draft=draft).order_by("-deleted_at")[:TRASH_SHOWN])
    pending = sum(1 for photo in photos if photo.is_pending)
    return {
        "photos": photos,
        "photo_trash": trash,
        "photo_version": MediaOrder.versions(draft).photo_version,
        "pending_count": pending,
        "photo_name_max": PHOTO_NAME_MAX,
        "photo_caption_max": PHOTO_CAPTION_MAX,
        "photo_max_per_draft": settings.PHOTO_MAX_PER_DRAFT,
        "can_edit": can_edit,
    }


def _document_context(draft: Draft, can_edit: bool) -> dict:
    documents = list(Document.objects.active().filter(draft=draft).order_by("position"))
    for document in documents:
        document.draft = draft  # forced_privacy reads the property type without a query
    return {
        "documents": documents,
        "document_trash": list(
            Document.objects.in_trash().filter(draft=draft).order_by("-deleted_at")[:TRASH_SHOWN]
        ),
        "document_version": MediaOrder.versions(draft).document_version,
        "privacy_choices": DocumentPrivacy.choices,
        "required_documents": required_documents_for(draft, [d.name for d in documents]),
        "can_edit": can_edit,
    }


def render_region(
    request: HttpRequest,
    draft: Draft,
    region: str,
    *,
    status: int = 200,
    announce: str = "",
    focus: str = "",
    notice: str = "",
) -> HttpResponse:
    """The changed region for htmx; for a plain form post, back to the page (with the
    notice as a message)."""
    if not request.htmx and request.method == "POST":
        if notice or announce:
            level = messages.ERROR if status >= 400 else messages.SUCCESS
            messages.add_message(request, level, notice or announce)
        anchor = "#photos" if region == "photo-grid" else "#documents"
        return redirect(reverse("media_manager:draft_media", args=[draft.pk]) + anchor)
    can_edit = draft.can_edit(request.user)
    context = {
        "draft": draft,
        "notice": notice,
        "notice_is_error": status >= 400,
        **_sync_context(draft, changed=request.method == "POST" and status < 400),
    }
    if region == "photo-grid":
        context |= _photo_context(draft, can_edit)
    else:
        context |= _document_context(draft, can_edit)
    response = TemplateResponse(request, f"{PAGE}#{region}", context, status=status)
    if request.method == "POST" and status < 400:
        # The draft frame re-reads its status and readiness (templates/drafts/draft_frame.html).
        trigger_client_event(response, "draft-changed", {})
    if announce or focus:
        trigger_client_event(
            response, "media-announce", {"message": announce, "focus": focus}, after="settle"
        )
    return response


def render_page(request: HttpRequest, draft: Draft, *, status: int = 200) -> TemplateResponse:
    can_edit = draft.can_edit(request.user)
    context = {
        **frame_context(draft, tab="media"),
        "nav": "drafts",
        "photo_max_bytes": settings.PHOTO_MAX_BYTES,
        "document_max_bytes": settings.DOCUMENT_MAX_BYTES,
        **_sync_context(draft),
        **_photo_context(draft, can_edit),
        **_document_context(draft, can_edit),
    }
    return TemplateResponse(request, PAGE, context, status=status)


@login_required
@require_safe
def draft_media(request: HttpRequest, pk: int) -> HttpResponse:
    return render_page(request, get_draft_for(request.user, pk))
