"""The media page of a draft: photos and documents, their upload, order, edits and files.

Every view starts from `get_draft_for(request.user, pk, ...)`: another office's draft is a
404. Mutating views are POST-only and render the region they changed ("page.html#region")
for htmx, or redirect back to the page otherwise. Upload views read the body only after
installing the streaming, size-limited upload handler, so they check CSRF themselves
(`csrf_exempt` outside, `csrf_protect` inside, as Django documents for upload handlers).
Uploaded files are inspected in a sandboxed child process (`media_manager.isolation`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, TooManyFilesSent
from django.core.files.storage import default_storage
from django.db import IntegrityError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import trigger_client_event

from drafts.access import get_draft_for
from drafts.models import Draft

from .checks import MediaLimits, UploadRejected
from .forms import DocumentForm, MoveForm, OrderForm, PhotoTextForm, RotateForm, SelectionForm
from .isolation import inspect_pdf_isolated, inspect_photo_isolated
from .models import (
    PHOTO_CAPTION_MAX,
    PHOTO_EXTENSIONS,
    PHOTO_NAME_MAX,
    Document,
    DocumentPrivacy,
    DraftNotEditable,
    MediaLimitReached,
    MediaOrder,
    OrderedMedia,
    Photo,
    StaleOrder,
    UnknownItems,
    clean_file_name,
    random_storage_name,
    required_documents_for,
)
from .uploads import (
    BodyTooLarge,
    close_uploaded_files,
    declared_length,
    discard_body,
    install_limited_handler,
    most_upload_bytes,
    save_private,
)

logger = logging.getLogger(__name__)

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


def _region(
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
    if announce or focus:
        trigger_client_event(
            response, "media-announce", {"message": announce, "focus": focus}, after="settle"
        )
    return response


def _page(request: HttpRequest, draft: Draft, *, status: int = 200) -> TemplateResponse:
    can_edit = draft.can_edit(request.user)
    context = {
        "draft": draft,
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
    return _page(request, get_draft_for(request.user, pk))


# --- Refusing a draft that cannot be edited -------------------------------------------------

# Set on these refusals: media.js swaps them in (a 403 is otherwise not swapped by htmx, and
# a CSRF 403 must not be).
REFUSAL_HEADER = "X-Media-Refused"


def _not_editable(request: HttpRequest, draft: Draft, answer: str, status: int) -> HttpResponse:
    """The refusal of a change to a draft being published, live or in the trash, in the
    shape the caller reads: JSON for the uploader, the region (or the save status text) for
    htmx, the page with the message for a plain form."""
    close_uploaded_files(request)
    discard_body(request)
    message = DraftNotEditable(draft).message
    if answer.endswith("-upload") and (_wants_json(request) or request.htmx):
        response = JsonResponse({"files": [], "error": message}, status=status)
    elif request.htmx and answer == "photo-text":
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    elif request.htmx and answer in ("photo-grid", "document-list"):
        response = _region(request, draft, answer, status=status, notice=message)
    else:
        messages.error(request, message)
        response = _page(request, draft, status=status)
    response[REFUSAL_HEADER] = "not-editable"
    return response


def media_change(answer: str) -> Callable:
    """For every view that changes media: a draft that cannot be edited is refused with a
    clear message. 403 when the view finds it so (`get_draft_for(..., write=True)`); 409 when
    publishing started while the change was being made (`DraftNotEditable` from the model,
    raised inside the change's transaction, so nothing of it was kept).

    `answer`: what the caller reads back, "photo-grid" / "document-list" (the region),
    "photo-upload" / "document-upload" (the uploader's JSON) or "photo-text" (the save status).
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, pk: int, *args, **kwargs) -> HttpResponse:
            try:
                return view(request, pk, *args, **kwargs)
            except PermissionDenied:
                status = 403  # only get_draft_for(write=True) denies in these views
            except DraftNotEditable:
                status = 409
            return _not_editable(request, get_draft_for(request.user, pk), answer, status)

        return wrapper

    return decorate


@login_required
@require_safe
def photo_grid(request: HttpRequest, pk: int) -> HttpResponse:
    """The photo grid, polled while photos are processing; re-queues any stuck photo."""
    draft = get_draft_for(request.user, pk)
    Photo.requeue_stuck(Photo.objects.filter(draft=draft))
    return _region(request, draft, "photo-grid")


@login_required
@require_safe
def document_list(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk)
    return _region(request, draft, "document-list")


# --- Uploads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadOutcome:
    file: str
    status: str  # accepted | warning | rejected
    message: str = ""
    id: int | None = None

    @property
    def ok(self) -> bool:
        return self.status != "rejected"


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _client_key(request: HttpRequest) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.POST.get("client_key", ""))
    except ValueError:
        return None


def _upload_refused(
    request: HttpRequest, draft: Draft, status: int, message: str, anchor: str
) -> HttpResponse:
    close_uploaded_files(request)
    discard_body(request)
    if _wants_json(request) or request.htmx:
        return JsonResponse({"files": [], "error": message}, status=status)
    messages.error(request, message)
    return redirect(reverse("media_manager:draft_media", args=[draft.pk]) + anchor)


def _too_large(limit: int, noun: str) -> str:
    return (
        f"This {noun} is larger than {limit / (1024 * 1024):.0f} MB, the most we accept. "
        "Export a smaller copy and upload that."
    )


def _read_upload(
    request: HttpRequest,
    draft: Draft,
    *,
    max_bytes: int,
    noun: str,
    anchor: str,
    most_files: int | None = None,
):
    """Parse the body with the limited handler; (files, None) or (None, refusal response).

    `most_files`: how many files the form sends at most (None: as many as a request may
    carry). A body declared larger than that many files can be is refused before any of it
    is read."""
    most_bytes = most_upload_bytes(max_bytes, most_files=most_files)
    length = declared_length(request)
    if length is not None and length > most_bytes:
        return None, _upload_refused(request, draft, 413, _too_large(max_bytes, noun), anchor)
    install_limited_handler(request, max_bytes=max_bytes, most_bytes=most_bytes)
    try:
        files = request.FILES.getlist("file")
    except BodyTooLarge:
        return None, _upload_refused(request, draft, 413, _too_large(max_bytes, noun), anchor)
    except TooManyFilesSent:
        most = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return None, _upload_refused(
            request, draft, 400, f"Too many files at once: send at most {most} per upload.", anchor
        )
    if request.oversize_upload is not None:
        return None, _upload_refused(request, draft, 413, _too_large(max_bytes, noun), anchor)
    if not files:
        return None, _upload_refused(request, draft, 400, f"Choose a {noun} to upload.", anchor)
    return files, None


def _upload_response(request: HttpRequest, draft: Draft, outcomes: list[UploadOutcome], anchor: str):
    close_uploaded_files(request)
    if _wants_json(request):
        status = 201 if all(o.ok for o in outcomes) else 400
        return JsonResponse({"files": [o.__dict__ for o in outcomes]}, status=status)
    for outcome in outcomes:
        text = f"{outcome.file}: {outcome.message or 'uploaded.'}"
        if outcome.status == "rejected":
            messages.error(request, text)
        elif outcome.status == "warning":
            messages.warning(request, text)
        else:
            messages.success(request, text)
    return redirect(reverse("media_manager:draft_media", args=[draft.pk]) + anchor)


def _already_uploaded(model, draft: Draft, client_key: uuid.UUID | None, shown: str) -> UploadOutcome | None:
    """A retried upload whose first attempt was kept: answer as accepted, keep nothing new."""
    if client_key is None:
        return None
    existing = model.objects.filter(draft=draft, client_key=client_key).first()
    return UploadOutcome(shown, "accepted", "Already uploaded.", existing.pk) if existing else None


def _keep_stored(model, draft: Draft, client_key: uuid.UUID | None, stored: str, shown: str, add):
    """Record the stored file with `add()`; on any refusal delete the file, so nothing is orphaned.

    Returns the new row, or the UploadOutcome that replaces it (limit reached, or a retry of
    the same file that raced its first attempt and lost).
    """
    try:
        return add()
    except MediaLimitReached as full:
        default_storage.delete(stored)
        return UploadOutcome(shown, "rejected", str(full))
    except IntegrityError:
        default_storage.delete(stored)
        if (done := _already_uploaded(model, draft, client_key, shown)) is None:
            raise
        return done
    except BaseException:
        default_storage.delete(stored)
        raise


def _accept_photo(
    request: HttpRequest, draft: Draft, uploaded, client_key: uuid.UUID | None
) -> UploadOutcome:
    shown = clean_file_name(uploaded.name)
    if (done := _already_uploaded(Photo, draft, client_key, shown)) is not None:
        return done
    try:
        inspection = inspect_photo_isolated(uploaded.temporary_file_path(), MediaLimits.from_settings())
    except UploadRejected as rejected:
        return UploadOutcome(shown, "rejected", rejected.reason)
    stored = save_private(
        uploaded, random_storage_name("photos/originals", PHOTO_EXTENSIONS[inspection.format])
    )
    photo = _keep_stored(
        Photo,
        draft,
        client_key,
        stored,
        shown,
        lambda: Photo.add(
            draft,
            by=request.user,
            original_name=uploaded.name,
            stored_name=stored,
            original_format=PHOTO_EXTENSIONS[inspection.format],
            original_size=uploaded.size,
            original_sha256=uploaded.sha256,
            width=inspection.width,
            height=inspection.height,
            warnings=inspection.warnings,
            client_key=client_key,
        ),
    )
    if isinstance(photo, UploadOutcome):
        return photo
    if inspection.warnings:
        return UploadOutcome(shown, "warning", " ".join(inspection.warnings), photo.pk)
    return UploadOutcome(shown, "accepted", "", photo.pk)


@login_required
@require_POST
@csrf_exempt  # checked in _photo_upload, once the limited upload handler is installed
@media_change("photo-upload")
def photo_upload(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    files, refused = _read_upload(
        request, draft, max_bytes=settings.PHOTO_MAX_BYTES, noun="photo", anchor="#photos"
    )
    if refused is not None:
        return refused
    return _photo_upload(request, draft, files)


@csrf_protect
def _photo_upload(request: HttpRequest, draft: Draft, files) -> HttpResponse:
    client_key = _client_key(request) if len(files) == 1 else None
    outcomes = [_accept_photo(request, draft, uploaded, client_key) for uploaded in files]
    return _upload_response(request, draft, outcomes, "#photos")


@login_required
@require_POST
@csrf_exempt  # checked in _photo_replace, once the limited upload handler is installed
@media_change("photo-grid")
def photo_replace(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    photo = _active(Photo, draft, photo_id)
    files, refused = _read_upload(
        request, draft, max_bytes=settings.PHOTO_MAX_BYTES, noun="photo", anchor="#photos", most_files=1
    )
    if refused is not None:
        return _as_region_refusal(request, draft, refused)
    return _photo_replace(request, draft, photo, files[0])


@csrf_protect
def _photo_replace(request: HttpRequest, draft: Draft, photo: Photo, uploaded) -> HttpResponse:
    shown = clean_file_name(uploaded.name)
    try:
        inspection = inspect_photo_isolated(uploaded.temporary_file_path(), MediaLimits.from_settings())
    except UploadRejected as rejected:
        close_uploaded_files(request)
        return _region(request, draft, "photo-grid", status=400, notice=f"{shown}: {rejected.reason}")
    extension = PHOTO_EXTENSIONS[inspection.format]
    stored = save_private(uploaded, random_storage_name("photos/originals", extension))
    close_uploaded_files(request)
    try:
        photo.replace_original(
            by=request.user,
            original_name=uploaded.name,
            stored_name=stored,
            original_format=extension,
            original_size=uploaded.size,
            original_sha256=uploaded.sha256,
            width=inspection.width,
            height=inspection.height,
            warnings=inspection.warnings,
        )
    except BaseException:
        default_storage.delete(stored)
        raise
    return _region(
        request,
        draft,
        "photo-grid",
        announce=f"Photo {photo.number} replaced; processing the new picture.",
        focus=f"photo-{photo.pk}",
    )


def _as_region_refusal(request: HttpRequest, draft: Draft, refused: HttpResponse) -> HttpResponse:
    """An upload refusal for the replace form: the grid with the reason, or the redirect."""
    if not request.htmx or _wants_json(request):
        return refused
    message = json.loads(refused.content).get("error", "")
    return _region(request, draft, "photo-grid", status=refused.status_code, notice=message)


def _accept_document(
    request: HttpRequest, draft: Draft, uploaded, client_key: uuid.UUID | None, name: str
) -> UploadOutcome:
    shown = clean_file_name(uploaded.name)
    if (done := _already_uploaded(Document, draft, client_key, shown)) is not None:
        return done
    try:
        inspection = inspect_pdf_isolated(uploaded.temporary_file_path(), MediaLimits.from_settings())
    except UploadRejected as rejected:
        return UploadOutcome(shown, "rejected", rejected.reason)
    stored = save_private(uploaded, random_storage_name("documents", "pdf"))
    privacy = request.POST.get("privacy", DocumentPrivacy.PRIVATE)
    if privacy not in DocumentPrivacy.values:
        privacy = DocumentPrivacy.PRIVATE
    document = _keep_stored(
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
    files, refused = _read_upload(
        request, draft, max_bytes=settings.DOCUMENT_MAX_BYTES, noun="PDF", anchor="#documents"
    )
    if refused is not None:
        return refused
    return _document_upload(request, draft, files)


@csrf_protect
def _document_upload(request: HttpRequest, draft: Draft, files) -> HttpResponse:
    single = len(files) == 1
    client_key = _client_key(request) if single else None
    name = request.POST.get("name", "") if single else ""
    outcomes = [_accept_document(request, draft, uploaded, client_key, name) for uploaded in files]
    return _upload_response(request, draft, outcomes, "#documents")


# --- Photo edits ----------------------------------------------------------------------------


def _active(model: type[OrderedMedia], draft: Draft, item_id: int):
    return get_object_or_404(model.objects.active(), draft=draft, pk=item_id)


def _trashed(model: type[OrderedMedia], draft: Draft, item_id: int):
    return get_object_or_404(model.objects.in_trash(), draft=draft, pk=item_id)


@login_required
@require_POST
@media_change("photo-text")
def photo_update(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    """Save Name and Caption. For htmx, only a status line: the inputs are never replaced
    under the fingers of someone typing in the next field."""
    draft = get_draft_for(request.user, pk, write=True)
    photo = _active(Photo, draft, photo_id)
    form = PhotoTextForm(request.POST)
    if not form.is_valid():
        errors = " ".join(str(error) for errors in form.errors.values() for error in errors)
        if request.htmx:
            return HttpResponse(errors, status=422, content_type="text/plain; charset=utf-8")
        messages.error(request, f"Photo {photo.number}: {errors}")
        return redirect(reverse("media_manager:draft_media", args=[draft.pk]) + f"#photo-{photo.pk}")
    changed = photo.update_text(
        name=form.cleaned_data["name"], caption=form.cleaned_data["caption"], by=request.user
    )
    if request.htmx:
        return HttpResponse("Saved" if changed else "No changes", content_type="text/plain; charset=utf-8")
    messages.success(request, f"Photo {photo.number} saved.")
    return redirect(reverse("media_manager:draft_media", args=[draft.pk]) + f"#photo-{photo.pk}")


def _apply_reorder(
    request: HttpRequest, draft: Draft, model: type[OrderedMedia], region: str
) -> HttpResponse:
    noun = model.NOUN
    form = OrderForm(request.POST)
    if not form.is_valid():
        return _region(
            request, draft, region, status=400, notice="That order could not be read; please try again."
        )
    ids = form.cleaned_data["ids"]
    moved = form.cleaned_data.get("moved")
    old_ids = model.ordered_ids(draft)
    try:
        change = model.reorder(
            draft, ids, seen_version=form.cleaned_data["version"], by=request.user, moved_id=moved
        )
    except UnknownItems:
        return _region(
            request, draft, region, status=400, notice=f"That order names {noun}s not on this draft."
        )
    except StaleOrder:
        return _region(
            request,
            draft,
            region,
            status=409,
            notice=(
                f"The {noun}s changed while you were moving them (an upload finished, or another tab "
                "changed them). This is the current order; please move again."
            ),
        )
    announce = f"{noun.capitalize()} order saved."
    focus = ""
    if moved in change.ids and moved in old_ids:
        announce = (
            f"{noun.capitalize()} {old_ids.index(moved) + 1} moved to position "
            f"{change.ids.index(moved) + 1} of {len(change.ids)}"
        )
        focus = f"{noun}-{moved}"
    return _region(request, draft, region, announce=announce, focus=focus)


@login_required
@require_POST
@media_change("photo-grid")
def photo_reorder(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    return _apply_reorder(request, draft, Photo, "photo-grid")


def _apply_move(request: HttpRequest, draft: Draft, item: OrderedMedia, region: str) -> HttpResponse:
    noun = item.NOUN
    form = MoveForm(request.POST)
    if not form.is_valid():
        return _region(request, draft, region, status=400, notice="Unknown move.")
    direction = form.cleaned_data["direction"]
    old = item.position
    target = {"earlier": old - 1, "later": old + 1, "first": 0, "last": 10**6}[direction]
    try:
        change = item.move_to(target, by=request.user)
    except StaleOrder as stale:
        return _region(request, draft, region, status=409, notice=stale.reason)
    new = change.ids.index(item.pk)
    if change.changed:
        announce = f"{noun.capitalize()} {old + 1} moved to position {new + 1} of {len(change.ids)}"
    else:
        announce = f"{noun.capitalize()} {old + 1} is already {'first' if new == 0 else 'last'}"
    return _region(request, draft, region, announce=announce, focus=f"{noun}-{item.pk}")


@login_required
@require_POST
@media_change("photo-grid")
def photo_move(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    return _apply_move(request, draft, _active(Photo, draft, photo_id), "photo-grid")


@login_required
@require_POST
@media_change("photo-grid")
def photo_make_primary(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    photo = _active(Photo, draft, photo_id)
    photo.make_primary(by=request.user)
    return _region(
        request,
        draft,
        "photo-grid",
        announce=f"Photo {photo.number} is now the primary photo",
        focus=f"photo-{photo.pk}",
    )


@login_required
@require_POST
@media_change("photo-grid")
def photo_rotate(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    photo = _active(Photo, draft, photo_id)
    form = RotateForm(request.POST)
    if not form.is_valid():
        return _region(request, draft, "photo-grid", status=400, notice="Rotate left or right.")
    photo.rotate(form.quarter_turns, by=request.user)
    return _region(
        request,
        draft,
        "photo-grid",
        announce=f"Photo {photo.number} rotated {form.cleaned_data['direction']}; processing it again.",
        focus=f"photo-{photo.pk}",
    )


@login_required
@require_POST
@media_change("photo-grid")
def photo_delete(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    photo = _active(Photo, draft, photo_id)
    number = photo.number
    photo.move_to_trash(by=request.user)
    return _region(request, draft, "photo-grid", announce=f"Photo {number} moved to the trash")


@login_required
@require_POST
@media_change("photo-grid")
def photo_bulk_delete(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    form = SelectionForm(request.POST)
    if not form.is_valid():
        return _region(request, draft, "photo-grid", status=400, notice=" ".join(form.non_field_errors()))
    ids = form.cleaned_data["ids"]
    # Ids that are not this draft's photos are left out alike, whether they are another
    # draft's or none at all: the answer must not tell which ids exist elsewhere.
    count = Photo.trash_many(draft, ids, by=request.user)
    missing = len(ids) - count
    if count == 0:
        return _region(
            request,
            draft,
            "photo-grid",
            status=409,
            notice="None of the selected photos is on this draft any more, so nothing was deleted.",
        )
    announce = f"{count} photo{'s' if count != 1 else ''} moved to the trash"
    notice = ""
    if missing:
        was = "was" if missing == 1 else "were"
        notice = (
            f"{announce}. {missing} of the selected photos {was} no longer on this draft "
            "(deleted meanwhile, perhaps in another tab)."
        )
    return _region(request, draft, "photo-grid", announce=notice or announce, notice=notice)


@login_required
@require_POST
@media_change("photo-grid")
def photo_restore(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    photo = _trashed(Photo, draft, photo_id)
    try:
        photo.restore(by=request.user)
    except MediaLimitReached as full:
        return _region(request, draft, "photo-grid", status=409, notice=str(full))
    return _region(
        request,
        draft,
        "photo-grid",
        announce=f"Photo restored as photo {photo.number}",
        focus=f"photo-{photo.pk}",
    )


# --- Document edits -------------------------------------------------------------------------


@login_required
@require_POST
@media_change("document-list")
def document_update(request: HttpRequest, pk: int, document_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    document = _active(Document, draft, document_id)
    form = DocumentForm(request.POST)
    if not form.is_valid():
        errors = " ".join(str(error) for errors in form.errors.values() for error in errors)
        return _region(
            request, draft, "document-list", status=422, notice=f"Document {document.number}: {errors}"
        )
    wanted = form.cleaned_data["privacy"]
    document.update(name=form.cleaned_data["name"], privacy=wanted, by=request.user)
    announce = f"Document {document.number} saved"
    if document.forced_privacy and document.privacy != wanted:
        announce = f"Saved. The MLS requires “{document.name}” to be {document.get_privacy_display()}."
    return _region(
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
    return _apply_reorder(request, draft, Document, "document-list")


@login_required
@require_POST
@media_change("document-list")
def document_move(request: HttpRequest, pk: int, document_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    return _apply_move(request, draft, _active(Document, draft, document_id), "document-list")


@login_required
@require_POST
@media_change("document-list")
def document_delete(request: HttpRequest, pk: int, document_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    document = _active(Document, draft, document_id)
    number = document.number
    document.move_to_trash(by=request.user)
    return _region(request, draft, "document-list", announce=f"Document {number} moved to the trash")


@login_required
@require_POST
@media_change("document-list")
def document_restore(request: HttpRequest, pk: int, document_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    document = _trashed(Document, draft, document_id)
    try:
        document.restore(by=request.user)
    except MediaLimitReached as full:
        return _region(request, draft, "document-list", status=409, notice=str(full))
    return _region(
        request,
        draft,
        "document-list",
        announce=f"Document restored as document {document.number}",
        focus=f"document-{document.pk}",
    )


# --- Files ------------------------------------------------------------------------------------


def _content_disposition(disposition: str, file_name: str) -> str:
    """RFC 6266: an ASCII fallback and the exact name as filename*=UTF-8''..."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in file_name) or "file"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def _private_file(
    storage_name: str, content_type: str, *, attachment_name: str | None, inline_name: str = ""
):
    try:
        handle = default_storage.open(storage_name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404("No such file.") from None
    response = FileResponse(handle, content_type=content_type)
    if attachment_name is not None:
        response["Content-Disposition"] = _content_disposition("attachment", attachment_name)
        response["Cache-Control"] = "private, no-store"
    else:
        response["Content-Disposition"] = _content_disposition("inline", inline_name or "photo.jpg")
        # The URL carries ?v=<image version>, so a changed picture gets a new URL.
        response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
@require_safe
def photo_file(request: HttpRequest, pk: int, photo_id: int, kind: str) -> HttpResponse:
    """One file of a photo: `original` (download only), `master`, or a variant (re-encoded
    JPEGs, shown inline)."""
    draft = get_draft_for(request.user, pk)
    photo = get_object_or_404(Photo, draft=draft, pk=photo_id)
    stem = f"photo-{photo.pk}"
    if kind == "original":
        return _private_file(photo.original.name, photo.content_type, attachment_name=photo.download_name)
    if kind == "master" and photo.master:
        return _private_file(photo.master.name, "image/jpeg", attachment_name=None, inline_name=f"{stem}.jpg")
    if kind in photo.variants:
        return _private_file(
            photo.variants[kind], "image/jpeg", attachment_name=None, inline_name=f"{stem}-{kind}.jpg"
        )
    raise Http404("No such file.")


@login_required
@require_safe
def document_file(request: HttpRequest, pk: int, document_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk)
    document = get_object_or_404(Document, draft=draft, pk=document_id)
    return _private_file(document.file.name, "application/pdf", attachment_name=document.download_name)
