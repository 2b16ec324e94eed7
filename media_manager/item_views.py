"""What the photo and document views share once the upload is done: finding the item,
reordering and moving it, serving one of its private files."""

from __future__ import annotations

from urllib.parse import quote

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from drafts.models import Draft

from .forms import MoveForm, OrderForm
from .models import OrderedMedia, StaleOrder, UnknownItems
from .storage_io import open_stream
from .views import render_region


def active_item(model: type[OrderedMedia], draft: Draft, item_id: int):
    return get_object_or_404(model.objects.active(), draft=draft, pk=item_id)


def trashed_item(model: type[OrderedMedia], draft: Draft, item_id: int):
    return get_object_or_404(model.objects.in_trash(), draft=draft, pk=item_id)


def apply_reorder(request: HttpRequest, draft: Draft, model: type[OrderedMedia], region: str) -> HttpResponse:
    noun = model.NOUN
    form = OrderForm(request.POST)
    if not form.is_valid():
        return render_region(
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
        return render_region(
            request, draft, region, status=400, notice=f"That order names {noun}s not on this draft."
        )
    except StaleOrder:
        return render_region(
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
    return render_region(request, draft, region, announce=announce, focus=focus)


def apply_move(request: HttpRequest, draft: Draft, item: OrderedMedia, region: str) -> HttpResponse:
    noun = item.NOUN
    form = MoveForm(request.POST)
    if not form.is_valid():
        return render_region(request, draft, region, status=400, notice="Unknown move.")
    direction = form.cleaned_data["direction"]
    old = item.position
    target = {"earlier": old - 1, "later": old + 1, "first": 0, "last": 10**6}[direction]
    try:
        change = item.move_to(target, by=request.user)
    except StaleOrder as stale:
        return render_region(request, draft, region, status=409, notice=stale.reason)
    new = change.ids.index(item.pk)
    if change.changed:
        announce = f"{noun.capitalize()} {old + 1} moved to position {new + 1} of {len(change.ids)}"
    else:
        announce = f"{noun.capitalize()} {old + 1} is already {'first' if new == 0 else 'last'}"
    return render_region(request, draft, region, announce=announce, focus=f"{noun}-{item.pk}")


def _content_disposition(disposition: str, file_name: str) -> str:
    """RFC 6266: an ASCII fallback and the exact name as filename*=UTF-8''..."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in file_name) or "file"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def private_file_response(
    storage_name: str, content_type: str, *, attachment_name: str | None, inline_name: str = ""
):
    # Streamed through this view, never a redirect to the bucket: the access check above it
    # stays the only way in, and S3 cannot send our CSP, CORP or nosniff headers.
    try:
        handle, size = open_stream(storage_name)
    except (FileNotFoundError, OSError):
        raise Http404("No such file.") from None
    response = FileResponse(handle, content_type=content_type)
    if size is not None:
        response["Content-Length"] = str(size)
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
