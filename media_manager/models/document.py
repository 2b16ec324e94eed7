"""A draft's documents (PDFs): the upload, the name and the privacy the MLS shows."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence

from django.conf import settings
from django.db import models, transaction
from django.db.models import Deferrable, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from accounts.models import User
from drafts.models import Draft, DraftEvent

from .document_rules import DocumentPrivacy, forced_document_privacy
from .names import clean_display_text, clean_file_name, name_from_file_name
from .ordered_media import OrderedMedia, update_media_item

DOCUMENT_NAME_MAX = 100


class Document(OrderedMedia):
    VERSION_FIELD = "document_version"
    EVENT_KIND = DraftEvent.Kind.DOCUMENT
    NOUN = "document"

    name = models.CharField(max_length=DOCUMENT_NAME_MAX)
    privacy = models.CharField(
        max_length=10, choices=DocumentPrivacy.choices, default=DocumentPrivacy.PRIVATE
    )
    file = models.FileField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    pages = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["draft", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["draft", "position"],
                name="document_position_unique_in_draft",
                deferrable=Deferrable.DEFERRED,
            ),
            models.UniqueConstraint(
                fields=["draft", "client_key"], name="document_client_key_unique_in_draft"
            ),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=True, position__isnull=False)
                | Q(deleted_at__isnull=False, position__isnull=True),
                name="document_position_iff_not_trashed",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("name"), DOCUMENT_NAME_MAX) & ~Q(name=""),
                name="document_name_length",
            ),
            models.CheckConstraint(
                condition=Q(privacy__in=DocumentPrivacy.values), name="document_privacy_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def max_per_draft(cls) -> int:
        return settings.DOCUMENT_MAX_PER_DRAFT

    @property
    def forced_privacy(self) -> str | None:
        return forced_document_privacy(self.draft.property_type, self.name)

    @property
    def download_name(self) -> str:
        stem = os.path.splitext(self.original_name)[0] or clean_file_name(self.name)
        return f"{stem}.pdf"

    @classmethod
    def add(
        cls,
        draft: Draft,
        *,
        by: User,
        original_name: str,
        stored_name: str,
        size: int,
        sha256: str,
        pages: int,
        name: str = "",
        privacy: str = DocumentPrivacy.PRIVATE,
        client_key: uuid.UUID | None = None,
        batch_keys: Sequence[uuid.UUID] = (),
    ) -> Document:
        name = clean_display_text(name, max_length=DOCUMENT_NAME_MAX) or name_from_file_name(
            original_name, max_length=DOCUMENT_NAME_MAX, fallback="Document"
        )
        privacy = forced_document_privacy(draft.property_type, name) or privacy
        with transaction.atomic():
            document = cls.append(
                draft,
                by=by,
                batch_keys=batch_keys,
                name=name,
                privacy=privacy,
                original_name=clean_file_name(original_name),
                file=stored_name,
                size=size,
                sha256=sha256,
                pages=pages,
                client_key=client_key,
            )
            DraftEvent.record(
                draft,
                by,
                DraftEvent.Kind.DOCUMENT,
                field="added",
                new=name,
                note=f"Uploaded document {document.pk}",
            )
        return document

    def update(self, *, name: str, privacy: str, by: User | None) -> bool:
        """Rename and set privacy; a name the MLS forces to a privacy takes that privacy."""
        name = clean_display_text(name, max_length=DOCUMENT_NAME_MAX)
        privacy = forced_document_privacy(self.draft.property_type, name) or privacy
        return update_media_item(self, by, DraftEvent.Kind.DOCUMENT, {"name": name, "privacy": privacy})
