"""media_manager's part of the review: the `drafts.review_media.ReviewMedia` it provides."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from drafts.models import Draft
from listings_portal.compiled_get import read_rows

from .models import Document, DocumentPrivacy, Photo, RequiredDocumentStatus, required_documents_for

# Draft keys no draft has (counting down from this one): the reads below are compiled with them,
# never executed with them.
_DRAFT_STAND_IN = -2_000_000_401
_MOST_DRAFTS_COMPILED = 50


def _primary_flags(draft_id: int):
    return Photo.objects.active().filter(draft_id=draft_id).values_list("is_primary")


def _document_names(draft_ids: list[int]):
    return (
        Document.objects.active()
        .filter(draft_id__in=draft_ids)
        .order_by("position")
        .values_list("draft_id", "name")
    )


class MediaForReview:
    def photos_of(self, draft: Draft) -> list[Photo]:
        return list(Photo.objects.active().filter(draft=draft).order_by("position"))

    def primary_flags_of(self, draft: Draft) -> list[bool]:
        # The editor's and every rules re-read's checklist asks: compiled once per connection.
        rows = read_rows(
            "primary_flags_of",
            Photo,
            lambda: _primary_flags(_DRAFT_STAND_IN),
            {_DRAFT_STAND_IN: "draft"},
            {"draft": lambda: int(draft.pk)},
        )
        return [flag for (flag,) in (rows if rows is not None else _primary_flags(draft.pk))]

    def documents_of(self, draft: Draft) -> list[Document]:
        return list(Document.objects.active().filter(draft=draft).order_by("position"))

    def document_names_of(self, drafts: Iterable[Draft]) -> dict[int, list[str]]:
        names: dict[int, list[str]] = {draft.pk: [] for draft in drafts}
        if not names:
            return names
        keys = list(names)
        rows = None
        # The editor's and every rules re-read's checklist ask for one draft: compiled once per
        # connection and number of drafts (a review page's handful) instead of on every request.
        if len(keys) <= _MOST_DRAFTS_COMPILED:
            stand_ins = {_DRAFT_STAND_IN - index: f"draft{index}" for index in range(len(keys))}
            rows = read_rows(
                ("document_names_of", len(keys)),
                Document,
                lambda: _document_names(list(stand_ins)),
                stand_ins,
                {f"draft{index}": functools.partial(int, key) for index, key in enumerate(keys)},
            )
        for draft_id, name in rows if rows is not None else _document_names(keys):
            names[draft_id].append(name)
        return names

    def required_documents(self, draft: Draft, document_names: Iterable[str]) -> list[RequiredDocumentStatus]:
        return required_documents_for(draft, document_names)

    def privacy_label(self, value: str) -> str:
        return DocumentPrivacy(value).label.split(":")[0] if value in DocumentPrivacy.values else value
