"""What the review needs to know of a draft's photos and documents, and who tells it.

drafts sits below media_manager and imports nothing of it, yet the review page and the
queue show photos, documents and the documents a listing requires. So drafts states here
what it asks (`ReviewMedia`), and media_manager provides the answer at start-up
(`MediaManagerConfig.ready`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .models import Draft


class DocumentRequirement(Protocol):
    """A document the draft's property type asks for, and whether one of that name is there."""

    @property
    def name(self) -> str: ...

    @property
    def present(self) -> bool: ...

    @property
    def note(self) -> str: ...


class ReviewMedia(Protocol):
    def photos_of(self, draft: Draft) -> list[Any]:
        """The draft's photos not in the trash, in their order."""
        ...

    def primary_flags_of(self, draft: Draft) -> list[bool]:
        """Whether each of the draft's photos not in the trash is its primary: how many there
        are and whether one is chosen, in one column (the checklist needs no more)."""
        ...

    def documents_of(self, draft: Draft) -> list[Any]:
        """The draft's documents not in the trash, in their order."""
        ...

    def document_names_of(self, drafts: Iterable[Draft]) -> dict[int, list[str]]:
        """Draft id -> the names of its documents not in the trash, in order; one query."""
        ...

    def required_documents(self, draft: Draft, document_names: Iterable[str]) -> list[DocumentRequirement]:
        """The documents the draft's property type asks for, given the names it has."""
        ...

    def privacy_label(self, value: str) -> str:
        """A document privacy value as people read it ("Public", "Private"...)."""
        ...


_provided: list[ReviewMedia] = []


def provide(media: ReviewMedia) -> None:
    _provided[:] = [media]


def media() -> ReviewMedia:
    if not _provided:
        raise RuntimeError("No ReviewMedia provided: is media_manager in INSTALLED_APPS?")
    return _provided[0]
