"""The photo views of a draft's media page: the grid, upload, replace, edits, order and files."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe

from drafts.access import get_draft_for
from drafts.models import Draft

from .checks import MediaLimits, UploadRejected
from .forms import BulkMoveForm, PhotoTextForm, RotateForm, SelectionForm, UploadBatchForm
from .isolation import inspect_photo_isolated
from .item_views import (
    active_item,
    apply_move,
    apply_reorder,
    private_file_response,
    trashed_item,
    zip_response,
)
from .models import (
    PHOTO_EXTENSIONS,
    MediaLimitReached,
    Photo,
    StaleOrder,
    clean_file_name,
    random_storage_name,
)
from .refusals import media_change
from .upload_answers import (
    UploadOutcome,
    already_uploaded,
    keep_stored,
    read_client_key,
    read_upload,
    upload_response,
    wants_json,
)
from .uploads import StoreUnavailable, close_uploaded_files, save_private
from .views import render_region


@login_required
@require_safe
def photo_grid(request: HttpRequest, pk: int) -> HttpResponse:
    """The photo grid, polled while photos are processing; re-queues any stuck photo."""
    draft = get_draft_for(request.user, pk)
    Photo.requeue_stuck(Photo.objects.filter(draft=draft))
    return render_region(request, draft, "photo-grid")


def _accept_photo(
    request: HttpRequest,
    draft: Draft,
    uploaded,
    client_key: uuid.UUID | None,
    batch_keys: list[uuid.UUID],
) -> UploadOutcome:
    shown = clean_file_name(uploaded.name)
    if (done := already_uploaded(Photo, draft, client_key, shown)) is not None:
        return done
    try:
        inspection = inspect_photo_isolated(uploaded.temporary_file_path(), MediaLimits.from_settings())
    except UploadRejected as rejected:
        return UploadOutcome(shown, "rejected", rejected.reason)
    try:
        stored = save_private(
            uploaded, random_storage_name("photos/originals", PHOTO_EXTENSIONS[inspection.format])
        )
    except StoreUnavailable as unavailable:
        return UploadOutcome(shown, "rejected", unavailable.reason)
    photo = keep_stored(
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
            batch_keys=batch_keys,
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
    # The draft's row alone: the answer is JSON or a redirect, neither shows its office or agents.
    draft = get_draft_for(request.user, pk, write=True, related=False)
    files, refused = read_upload(
        request, draft, max_bytes=settings.PHOTO_MAX_BYTES, noun="photo", anchor="#photos"
    )
    if refused is not None:
        return refused
    return _photo_upload(request, draft, files)


@csrf_protect
def _photo_upload(request: HttpRequest, draft: Draft, files) -> HttpResponse:
    single = len(files) == 1
    client_key = read_client_key(request) if single else None
    batch_keys = UploadBatchForm(request.POST).keys() if single else []
    outcomes = [_accept_photo(request, draft, uploaded, client_key, batch_keys) for uploaded in files]
    return upload_response(request, draft, outcomes, "#photos")


@login_required
@require_POST
@csrf_exempt  # checked in _photo_replace, once the limited upload handler is installed
@media_change("photo-grid")
def photo_replace(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    photo = active_item(Photo, draft, photo_id)
    files, refused = read_upload(
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
        return render_region(request, draft, "photo-grid", status=400, notice=f"{shown}: {rejected.reason}")
    extension = PHOTO_EXTENSIONS[inspection.format]
    try:
        stored = save_private(uploaded, random_storage_name("photos/originals", extension))
    except StoreUnavailable as unavailable:
        close_uploaded_files(request)
        # 400 like the other refusals here: the page swaps it in (a 5xx shows the offline banner).
        return render_region(
            request, draft, "photo-grid", status=400, notice=f"{shown}: {unavailable.reason}"
        )
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
    return render_region(
        request,
        draft,
        "photo-grid",
        announce=f"Photo {photo.number} replaced; processing the new picture.",
        focus=f"photo-{photo.pk}",
    )


def _as_region_refusal(request: HttpRequest, draft: Draft, refused: HttpResponse) -> HttpResponse:
    """An upload refusal for the replace form: the grid with the reason, or the redirect."""
    if not request.htmx or wants_json(request):
        return refused
    message = json.loads(refused.content).get("error", "")
    return render_region(request, draft, "photo-grid", status=refused.status_code, notice=message)


@login_required
@require_POST
@media_change("photo-text")
def photo_update(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    """Save Name and Caption. For htmx, only a status line: the inputs are never replaced
    under the fingers of someone typing in the next field."""
    draft = get_draft_for(request.user, pk, write=True)
    photo = active_item(Photo, draft, photo_id)
    form = PhotoTextForm(request.POST)
    if not form.is_valid():
        errors = form.error_text()
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


@login_required
@require_POST
@media_change("photo-grid")
def photo_reorder(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    return apply_reorder(request, draft, Photo, "photo-grid")


@login_required
@require_POST
@media_change("photo-grid")
def photo_move(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    return apply_move(request, draft, active_item(Photo, draft, photo_id), "photo-grid")


@login_required
@require_POST
@media_change("photo-grid")
def photo_make_primary(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    photo = active_item(Photo, draft, photo_id)
    photo.make_primary(by=request.user)
    return render_region(
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
    photo = active_item(Photo, draft, photo_id)
    form = RotateForm(request.POST)
    if not form.is_valid():
        return render_region(request, draft, "photo-grid", status=400, notice="Rotate left or right.")
    photo.rotate(form.quarter_turns, by=request.user)
    return render_region(
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
    photo = active_item(Photo, draft, photo_id)
    number = photo.number
    photo.move_to_trash(by=request.user)
    return render_region(request, draft, "photo-grid", announce=f"Photo {number} moved to the trash")


@login_required
@require_POST
@media_change("photo-grid")
def photo_bulk_delete(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    form = SelectionForm(request.POST)
    if not form.is_valid():
        return render_region(
            request, draft, "photo-grid", status=400, notice=" ".join(form.non_field_errors())
        )
    ids = form.cleaned_data["ids"]
    # Ids that are not this draft's photos are left out alike, whether they are another
    # draft's or none at all: the answer must not tell which ids exist elsewhere.
    count = Photo.trash_many(draft, ids, by=request.user)
    missing = len(ids) - count
    if count == 0:
        return render_region(
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
    return render_region(request, draft, "photo-grid", announce=notice or announce, notice=notice)


@login_required
@require_POST
@media_change("photo-grid")
def photo_bulk_move(request: HttpRequest, pk: int) -> HttpResponse:
    """The ticked photos to the start or the end of the order, keeping their own order."""
    draft = get_draft_for(request.user, pk, write=True)
    form = BulkMoveForm(request.POST)
    if not form.is_valid():
        notice = " ".join(form.non_field_errors()) or "Move the selected photos to the start or the end."
        return render_region(request, draft, "photo-grid", status=400, notice=notice)
    current = Photo.ordered_ids(draft)
    ids = form.new_order(current)
    count = len(set(form.cleaned_data["ids"]) & set(current))
    if count == 0:
        return render_region(
            request,
            draft,
            "photo-grid",
            status=409,
            notice="None of the selected photos is on this draft any more, so nothing was moved.",
        )
    try:
        Photo.reorder(draft, ids, seen_version=form.cleaned_data["version"], by=request.user)
    except StaleOrder:
        return render_region(
            request,
            draft,
            "photo-grid",
            status=409,
            notice="The photos changed meanwhile (an upload finished, or another tab). This is the "
            "current order; select and move again.",
        )
    where = form.cleaned_data["where"]
    plural = "s" if count != 1 else ""
    return render_region(request, draft, "photo-grid", announce=f"{count} photo{plural} moved to the {where}")


@login_required
@require_safe
def photo_bulk_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The originals of the ticked photos as one zip, built in a temp file (originals can be
    large; nothing is held in memory) and served through this draft's scoped view."""
    draft = get_draft_for(request.user, pk)
    form = SelectionForm(request.GET)
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()))
        return redirect(reverse("media_manager:draft_media", args=[draft.pk]) + "#photos")
    photos = list(
        Photo.objects.active().filter(draft=draft, pk__in=form.cleaned_data["ids"]).order_by("position")
    )
    if not photos:
        raise Http404("None of these photos is on this draft.")
    return zip_response(
        [(f"{photo.number:02d}-{photo.download_name}", photo.original.name) for photo in photos],
        f"photos-{draft.pk}.zip",
    )


@login_required
@require_POST
@media_change("photo-grid")
def photo_restore(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    draft = get_draft_for(request.user, pk, write=True)
    photo = trashed_item(Photo, draft, photo_id)
    try:
        photo.restore(by=request.user)
    except MediaLimitReached as full:
        return render_region(request, draft, "photo-grid", status=409, notice=str(full))
    return render_region(
        request,
        draft,
        "photo-grid",
        announce=f"Photo restored as photo {photo.number}",
        focus=f"photo-{photo.pk}",
    )


@login_required
@require_safe
def photo_file(request: HttpRequest, pk: int, photo_id: int, kind: str) -> HttpResponse:
    """One file of a photo: `original` (download only), `master`, or a variant (re-encoded
    JPEGs, shown inline)."""
    draft = get_draft_for(request.user, pk)
    photo = get_object_or_404(Photo, draft=draft, pk=photo_id)
    stem = f"photo-{photo.pk}"
    if kind == "original":
        return private_file_response(
            photo.original.name, photo.content_type, attachment_name=photo.download_name
        )
    if kind == "master" and photo.master:
        return private_file_response(
            photo.master.name, "image/jpeg", attachment_name=None, inline_name=f"{stem}.jpg"
        )
    if kind in photo.variants:
        return private_file_response(
            photo.variants[kind], "image/jpeg", attachment_name=None, inline_name=f"{stem}-{kind}.jpg"
        )
    raise Http404("No such file.")
