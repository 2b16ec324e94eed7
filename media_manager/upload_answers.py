"""Reading an upload with the size limits, and answering it: JSON for the uploader, messages
and a redirect for a plain form. Shared by the photo and document upload views."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import TooManyFilesSent
from django.core.files.storage import default_storage
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from drafts.models import Draft

from .models import MediaLimitReached
from .uploads import (
    BodyTooLarge,
    close_uploaded_files,
    declared_length,
    discard_body,
    install_limited_handler,
    most_upload_bytes,
)


@dataclass(frozen=True)
class UploadOutcome:
    file: str
    status: str  # accepted | warning | rejected
    message: str = ""
    id: int | None = None

    @property
    def ok(self) -> bool:
        return self.status != "rejected"


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def read_client_key(request: HttpRequest) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.POST.get("client_key", ""))
    except ValueError:
        return None


def refuse_upload(request: HttpRequest, draft: Draft, status: int, message: str, anchor: str) -> HttpResponse:
    close_uploaded_files(request)
    discard_body(request)
    if wants_json(request) or request.htmx:
        return JsonResponse({"files": [], "error": message}, status=status)
    messages.error(request, message)
    return redirect(reverse("media_manager:draft_media", args=[draft.pk]) + anchor)


def too_large_message(limit: int, noun: str) -> str:
    return (
        f"This {noun} is larger than {limit / (1024 * 1024):.0f} MB, the most we accept. "
        "Export a smaller copy and upload that."
    )


def read_upload(
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
        return None, refuse_upload(request, draft, 413, too_large_message(max_bytes, noun), anchor)
    install_limited_handler(request, max_bytes=max_bytes, most_bytes=most_bytes)
    try:
        files = request.FILES.getlist("file")
    except BodyTooLarge:
        return None, refuse_upload(request, draft, 413, too_large_message(max_bytes, noun), anchor)
    except TooManyFilesSent:
        most = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return None, refuse_upload(
            request, draft, 400, f"Too many files at once: send at most {most} per upload.", anchor
        )
    if request.oversize_upload is not None:
        return None, refuse_upload(request, draft, 413, too_large_message(max_bytes, noun), anchor)
    if not files:
        return None, refuse_upload(request, draft, 400, f"Choose a {noun} to upload.", anchor)
    return files, None


def upload_response(request: HttpRequest, draft: Draft, outcomes: list[UploadOutcome], anchor: str):
    close_uploaded_files(request)
    if wants_json(request):
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


def already_uploaded(model, draft: Draft, client_key: uuid.UUID | None, shown: str) -> UploadOutcome | None:
    """A retried upload whose first attempt was kept: answer as accepted, keep nothing new."""
    if client_key is None:
        return None
    # Only the id, and by the key's index alone (the default order would join the draft).
    rows = model.objects.filter(draft=draft, client_key=client_key).order_by("pk")
    existing = rows.values_list("pk", flat=True).first()
    return UploadOutcome(shown, "accepted", "Already uploaded.", existing) if existing is not None else None


def keep_stored(model, draft: Draft, client_key: uuid.UUID | None, stored: str, shown: str, add):
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
        if (done := already_uploaded(model, draft, client_key, shown)) is None:
            raise
        return done
    except BaseException:
        default_storage.delete(stored)
        raise
