"""The MLS's rules about a draft's documents: the privacy some names force, the documents
each property type asks for."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models

from drafts.fields import PropertyType
from drafts.models import Draft


class DocumentPrivacy(models.TextChoices):
    PUBLIC = "Public", "Public: anyone"
    DATASHARE = "DataShare", "Data share: agents in other MLSs"
    PRIVATE = "Private", "Private: agents of this MLS"
    HAS_EDIT = "HasEdit", "Has edit: only people who can edit the listing"


def normalize_document_name(name: str) -> str:
    return " ".join(name.replace("\u2019", "'").replace("\u2018", "'").casefold().split())


# Documents with these names must be HasEdit, per property type
# (docs/spark-protocol.md#names-that-force-hasedit); the same table as sandbox/catalog.py
# HAS_EDIT_NAMES until the sync engine reads /listings/incomplete/documents/meta.
_HAS_EDIT_NAMES: dict[str, tuple[str, ...]] = {
    PropertyType.RESIDENTIAL: ("Private Document", "Property Disclosure"),
    PropertyType.MULTI_FAMILY: ("Private Document", "Property Disclosure", "Rent Roll"),
    PropertyType.LAND: ("Private Document",),
    PropertyType.COMMERCIAL: ("Private Document", "Rent Roll"),
    PropertyType.FARM: ("Private Document", "Property Disclosure"),
    PropertyType.RENTAL: ("Private Document",),
}
FORCED_DOCUMENT_PRIVACY: dict[str, dict[str, str]] = {
    property_type: {normalize_document_name(name): DocumentPrivacy.HAS_EDIT for name in names}
    for property_type, names in _HAS_EDIT_NAMES.items()
}


def forced_document_privacy(property_type: str, name: str) -> str | None:
    """The privacy the MLS imposes on a document called `name`, or None if it is free."""
    return FORCED_DOCUMENT_PRIVACY.get(property_type, {}).get(normalize_document_name(name))


@dataclass(frozen=True)
class RequiredDocument:
    name: str
    property_types: tuple[str, ...]
    built_before: int | None = None


REQUIRED_DOCUMENTS: tuple[RequiredDocument, ...] = (
    RequiredDocument("Seller's Disclosure", (PropertyType.RESIDENTIAL, PropertyType.MULTI_FAMILY)),
    RequiredDocument(
        "Lead-Based Paint Disclosure",
        (PropertyType.RESIDENTIAL, PropertyType.MULTI_FAMILY, PropertyType.RENTAL),
        built_before=1978,
    ),
    RequiredDocument("Survey", (PropertyType.LAND, PropertyType.FARM)),
    RequiredDocument("Rent Roll", (PropertyType.COMMERCIAL,)),
)


@dataclass(frozen=True)
class RequiredDocumentStatus:
    name: str
    present: bool
    note: str = ""


def required_documents_for(draft: Draft, document_names: Iterable[str]) -> list[RequiredDocumentStatus]:
    """The documents this draft's property type asks for, and whether one of that name is there."""
    present = {normalize_document_name(name) for name in document_names}
    statuses = []
    for rule in REQUIRED_DOCUMENTS:
        if draft.property_type not in rule.property_types:
            continue
        note = ""
        if rule.built_before is not None:
            if draft.year_built is None:
                note = f"if built before {rule.built_before}"
            elif draft.year_built >= rule.built_before:
                continue
        statuses.append(
            RequiredDocumentStatus(rule.name, normalize_document_name(rule.name) in present, note)
        )
    return statuses
