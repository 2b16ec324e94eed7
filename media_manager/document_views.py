"""The document views of a draft's media page: the list, upload, edits, order and files."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe

from drafts.access import get_draft_for
from drafts.models import Draft

from .checks import MediaLimits, UploadRejected
from .forms import DocumentForm, UploadBatchForm
from .isolation import inspect_pdf_isolated
from .item_views import active_item, apply_move, apply_reorder, private_file_response, trashed_item
from .models import Document, DocumentPrivacy, MediaLimitReached, clean_file_name, random_storage_name
from .refusals import media_change
from .upload_answers import (
    UploadOutcome,
    already_uploaded,
    keep_stored,
    read_client_key,
    read_upload,
    upload_response,
)
from .uploads import StoreUnavailable, save_private
from .views import render_region


@login_required
@require_safe
def document_list(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk)
    return render_region(request, draft, "document-list")


def _accept_document(
    request: HttpRequest,
    draft: Draft,
    uploaded,
    client_key: uuid.UUID | None,
    name: str,
    batch_keys: list[uuid.UUID],
) -> UploadOutcome:
    shown = clean_file_name(uploaded.name)
    if (done := already_uploaded(Document, draft, client_key, shown)) is not None:
        return done
    try:
        inspection = inspect_pdf_isolated(uploaded.temporary_file_path(), MediaLimits.from_settings())
    except UploadRejected as rejected:
        return UploadOutcome(shown, "rejected", rejected.reason)
    try:
        stored = save_private(uploaded, random_storage_name("documents", "pdf"))
    except StoreUnavailable as unavailable:
        return UploadOutcome(shown, "rejected", unavailable.reason)
    privacy = request.POST.get("privacy", DocumentPrivacy.PRIVATE)
    if privacy not in DocumentPrivacy.values:
        privacy = DocumentPrivacy.PRIVATE
    document = keep_stored(
        Document,
        draft,
        client_key,
        stored,
        shown,
        lambda: Document.add(
            draft,
            by=request.user,
            original_name=uploaded.name,
            stored_name=stored,
            size=uploaded.size,
            sha256=uploaded.sha256,
            pages=inspection.pages,
            name=name,
            privacy=privacy,
            client_key=client_key,
            batch_keys=batch_keys,
        ),
    )
    if isinstance(document, UploadOutcome):
        return document
    message = ""
    if document.forced_privacy:
        message = f"The MLS requires “{document.name}” to be {document.get_privacy_display()}."
    return UploadOutcome(shown, "warning" if message else "accepted", message, document.pk)


@login_required
@require_POST
@csrf_exempt  # checked in _document_upload, once the limited upload handler is installed
@media_change("document-upload")
def document_upload(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    files, refused = read_upload(
        request, draft, max_bytes=settings.DOCUMENT_MAX_BYTES, noun="PDF", anchor="#documents"
    )
    if refused is not None:
        return refused
    return _document_upload(request, draft, files)


@csrf_protect
def _document_upload(request: HttpRequest, draft: Draft, files) -> HttpResponse:
    single = len(files) == 1
    client_key = read_client_key(request) if single else None
    name = request.POST.get("name", "") if single else ""
    batch_keys = UploadBatchForm(request.POST).keys() if single else []
    outcomes = [
        _accept_document(request, draft, uploaded, client_key, name, batch_keys) for uploaded in files
    ]
    return upload_response(request, draft, outcomes, "#documents")


@login_required
@require_POST
@media_change("document-list")
def document_update(request: HttpRequest, pk: int, document_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    document = active_item(Document, draft, document_id)
    form = DocumentForm(request.POST)
    if not form.is_valid():
        errors = " ".join(str(error) for errors in form.errors.values() for error in errors)
        return render_region(
            request, draft, "document-list", status=422, notice=f"Document {document.number}: {errors}"
        )
    wanted = form.cleaned_data["privacy"]
    document.update(name=form.cleaned_data["name"], privacy=wanted, by=request.user)
    announce = f"Document {document.number} saved"
    if document.forced_privacy and document.privacy != wanted:
        announce = f"Saved. The MLS requires “{document.name}” to be {document.get_privacy_display()}."
    return render_region(
        request,
        draft,
        "document-list",
        announce=announce,
        focus=f"document-{document.pk}-name",
        notice=announce if document.privacy != wanted else "",
    )


@login_required
@require_POST
@media_change("document-list")
def document_reorder(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    return apply_reorder(request, draft, Document, "document-list")


@login_required
@require_POST
@media_change("document-list")
def document_move(request: HttpRequest, pk: int, document_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    return apply_move(request, draft, active_item(Document, draft, document_id), "document-list")


@login_required
@require_POST
@media_change("document-list")
def document_delete(request: HttpRequest, pk: int, document_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    document = active_item(Document, draft, document_id)
    number = document.number
    document.move_to_trash(by=request.user)
    return render_region(request, draft, "document-list", announce=f"Document {number} moved to the trash")


@login_required
@require_POST
@media_change("document-list")
def document_restore(request: HttpRequest, pk: int, document_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    document = trashed_item(Document, draft, document_id)
    try:
        document.restore(by=request.user)
    except MediaLimitReached as full:
        return render_region(request, draft, "document-list", status=409, notice=str(full))
    return render_region(
        request,
        draft,
        "document-list",
        announce=f"Document restored as document {document.number}",
        focus=f"document-{document.pk}",
    )


@login_required
@require_safe
def document_file(request: HttpRequest, pk: int, document_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk)
    document = get_object_or_404(Document, draft=draft, pk=document_id)
    return private_file_response(
        document.file.name, "application/pdf", attachment_name=document.download_name
    )
