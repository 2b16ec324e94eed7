"""media_manager's part of the review: the `drafts.review_media.ReviewMedia` it provides."""

from __future__ import annotations

from collections.abc import Iterable

from drafts.models import Draft

from .models import Document, DocumentPrivacy, Photo, RequiredDocumentStatus, required_documents_for


class MediaForReview:
    def photos_of(self, draft: Draft) -> list[Photo]:
        return list(Photo.objects.active().filter(draft=draft).order_by("position"))

    def primary_flags_of(self, draft: Draft) -> list[bool]:
        return list(Photo.objects.active().filter(draft=draft).values_list("is_primary", flat=True))

    def documents_of(self, draft: Draft) -> list[Document]:
        return list(Document.objects.active().filter(draft=draft).order_by("position"))

    def document_names_of(self, drafts: Iterable[Draft]) -> dict[int, list[str]]:
        names: dict[int, list[str]] = {draft.pk: [] for draft in drafts}
        if names:
            rows = (
                Document.objects.active()
                .filter(draft_id__in=names)
                .order_by("position")
                .values_list("draft_id", "name")
            )
            for draft_id, name in rows:
                names[draft_id].append(name)
        return names

    def required_documents(self, draft: Draft, document_names: Iterable[str]) -> list[RequiredDocumentStatus]:
        return required_documents_for(draft, document_names)

    def privacy_label(self, value: str) -> str:
        return DocumentPrivacy(value).label.split(":")[0] if value in DocumentPrivacy.values else value
