"""Refusing a change to the media of a draft that cannot be edited (being published, live or
in the trash), in the shape each caller reads back."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse

from drafts.access import get_draft_for
from drafts.models import Draft

from .models import DraftNotEditable
from .upload_answers import wants_json
from .uploads import close_uploaded_files, discard_body
from .views import render_page, render_region

# Set on these refusals: media.js swaps them in (a 403 is otherwise not swapped by htmx, and
# a CSRF 403 must not be).
REFUSAL_HEADER = "X-Media-Refused"


def answer_not_editable(request: HttpRequest, draft: Draft, answer: str, status: int) -> HttpResponse:
    """The refusal of a change to a draft being published, live or in the trash, in the
    shape the caller reads: JSON for the uploader, the region (or the save status text) for
    htmx, the page with the message for a plain form."""
    close_uploaded_files(request)
    discard_body(request)
    message = DraftNotEditable(draft).message
    if answer.endswith("-upload") and (wants_json(request) or request.htmx):
        response = JsonResponse({"files": [], "error": message}, status=status)
    elif request.htmx and answer == "photo-text":
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    elif request.htmx and answer in ("photo-grid", "document-list"):
        response = render_region(request, draft, answer, status=status, notice=message)
    else:
        messages.error(request, message)
        response = render_page(request, draft, status=status)
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
            return answer_not_editable(request, get_draft_for(request.user, pk), answer, status)

        return wrapper

    return decorate
