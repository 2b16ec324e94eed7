"""How ready a draft is to be published: everything the MLS and the office require, in one
computation (`Draft.readiness()`).

Three kinds of requirement, each a section of the checklist with done/total:

- the fields, per section of the editor: each required field, done once it has a value and
  every ERROR rule about it is met, and each field an ERROR rule refuses (the MLS's listing
  rules, or the fixed table before its lists were read);
- the documents the property type asks for (media_manager's table: a Seller's Disclosure, a
  Lead-Based Paint Disclosure for a home built before 1978...);
- the photos: at least `LISTING_MIN_PHOTOS`, one of them primary.

Every item not done is a `Gap` with a link to where it is fixed (the field in the editor, the
documents or photos section of the media page). Gaps block submitting and approving;
warnings ("Our check:", a field worth a look) never do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from . import review_media, rules
from .fields import SECTIONS

if TYPE_CHECKING:
    from .models import Draft

DOCUMENTS, PHOTOS = "documents", "photos"


@dataclass(frozen=True)
class Gap:
    """One thing missing before the draft may be submitted or approved."""

    section: str  # the checklist section's title ("Location", "Documents", "Photos")
    label: str  # what is missing, as the page names it ("Street number")
    message: str  # in plain words, naming it
    url: str  # where it is fixed: the editor's field, the media page's section
    field: str = ""  # the editor's key of the field, for field gaps


@dataclass(frozen=True)
class SectionProgress:
    slug: str
    title: str
    done: int
    total: int

    @property
    def is_complete(self) -> bool:
        return self.done == self.total


@dataclass
class Readiness:
    sections: list[SectionProgress]
    gaps: list[Gap]
    errors: list[rules.RuleResult] = field(default_factory=list)
    warnings: list[rules.RuleResult] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(section.done for section in self.sections)

    @property
    def total(self) -> int:
        return sum(section.total for section in self.sections)

    @property
    def percent(self) -> int:
        """100 only when nothing is missing; warnings do not count."""
        if not self.total:
            return 100
        percent = self.done * 100 // self.total
        return 99 if self.gaps and percent == 100 else percent

    @property
    def is_ready(self) -> bool:
        return not self.gaps

    def refusal(self, doing: str) -> str:
        """Why `doing` ("submit it", "approve it") is refused, in plain words."""
        count = len(self.gaps)
        first = self.gaps[0].message if self.gaps else ""
        things = "thing is" if count == 1 else "things are"
        more = f" and {count - 1} more" if count > 1 else ""
        return f"Cannot {doing} yet: {count} {things} missing ({first}{more}). See “Ready to publish?”."


def _section_of_fields(draft: Draft, book: rules.RuleBook) -> dict[str, tuple[str, str, str]]:
    """The editor's key of each field -> (section slug, section title, field label)."""
    layout = book.layout(draft.property_type)
    found: dict[str, tuple[str, str, str]] = {}
    if layout is not None:
        for section in layout.sections:
            for spec in section.fields:
                found.setdefault(spec.key, (section.slug, section.title, spec.label))
    else:
        for slug, title, names in SECTIONS:
            for name in names:
                label = str(getattr(type(draft)._meta.get_field(name), "verbose_name", name))
                found[name] = (slug, title, label[:1].upper() + label[1:])
        found[rules.CUSTOM_FIELDS] = ("custom", "Custom fields", "Custom fields")
    return found


def _editor_url(draft: Draft) -> str:
    return reverse("drafts:draft_edit", args=[draft.pk])


def _media_url(draft: Draft) -> str:
    try:
        return reverse("media_manager:draft_media", args=[draft.pk])
    except NoReverseMatch:  # drafts alone, without the media app's pages
        return _editor_url(draft)


def _field_progress(
    draft: Draft, book: rules.RuleBook
) -> tuple[list[SectionProgress], list[Gap], list[rules.RuleResult], list[rules.RuleResult]]:
    """The field sections' progress and gaps, and the rules not met (errors, warnings)."""
    where = _section_of_fields(draft, book)
    order = list(dict.fromkeys(slug for slug, _, _ in where.values()))
    titles = {slug: title for slug, title, _ in where.values()}
    # A field is one item: done when every ERROR rule about it is met.
    items: dict[str, bool] = {}
    failed: dict[str, list[rules.RuleResult]] = {}
    outcomes = rules.checklist(draft, book)
    errors = [result for result, passed in outcomes if not passed and result.is_error]
    warnings = [result for result, passed in outcomes if not passed and not result.is_error]
    for result, passed in outcomes:
        # An item is a value the listing must have, or a check that fails; a check that
        # holds of empty fields (coordinates "in pairs" with none) is no progress.
        if not result.is_error or (passed and not result.missing):
            continue
        items[result.field] = items.get(result.field, True) and passed
        if not passed:
            failed.setdefault(result.field, []).append(result)
    done: dict[str, int] = {}
    total: dict[str, int] = {}
    placed: list[tuple[str, Gap]] = []
    editor = _editor_url(draft)
    for key, passed in items.items():
        slug, title, label = where.get(key, ("other", "Other fields", key))
        if slug not in titles:
            order.append(slug)
            titles[slug] = title
        total[slug] = total.get(slug, 0) + 1
        done[slug] = done.get(slug, 0) + passed
        placed.extend(
            (slug, Gap(title, label, result.message, f"{editor}#field-{key}", field=key))
            for result in failed.get(key, [])
        )
    # In the page's order: section by section, field by field, as the editor shows them.
    position = {key: index for index, key in enumerate(where)}
    gaps = [
        gap
        for _, gap in sorted(
            placed, key=lambda pair: (order.index(pair[0]), position.get(pair[1].field, len(position)))
        )
    ]
    sections = [
        SectionProgress(slug, titles[slug], done[slug], total[slug]) for slug in order if slug in total
    ]
    return sections, gaps, errors, warnings


def _document_progress(draft: Draft, document_names: Iterable[str]) -> tuple[SectionProgress, list[Gap]]:
    url = f"{_media_url(draft)}#documents"
    # A requirement with a note ("if built before 1978" while the year is not known) is not
    # counted: the year built decides it, and the fields say when that is missing.
    required = [
        status for status in review_media.media().required_documents(draft, document_names) if not status.note
    ]
    gaps = [
        Gap("Documents", status.name, f"Upload the {status.name}.", url)
        for status in required
        if not status.present
    ]
    return SectionProgress(DOCUMENTS, "Documents", len(required) - len(gaps), len(required)), gaps


def _photo_progress(draft: Draft) -> tuple[SectionProgress, list[Gap]]:
    url = f"{_media_url(draft)}#photos"
    # One column of the photos, not each whole row: the editor and every rules re-read ask.
    primary_flags = review_media.media().primary_flags_of(draft)
    minimum = settings.LISTING_MIN_PHOTOS
    gaps = []
    if len(primary_flags) < minimum:
        wanted = "a photo" if minimum == 1 else f"at least {minimum} photos"
        have = f" (it has {len(primary_flags)})" if primary_flags else ""
        gaps.append(Gap("Photos", "Photos", f"Add {wanted}{have}.", url))
    # The primary is an item once there is a photo to choose (a draft's first photo is
    # primary unless another was chosen, so this gap is rare).
    total = 2 if primary_flags else 1
    if primary_flags and not any(primary_flags):
        gaps.append(Gap("Photos", "Primary photo", "Choose a primary photo: buyers see it first.", url))
    return SectionProgress(PHOTOS, "Photos", total - len(gaps), total), gaps


def readiness_of(draft: Draft, book: rules.RuleBook | None = None) -> Readiness:
    """The checklist of `draft`. Reads the MLS's metadata once per `book`, the draft's
    documents and photos once each."""
    book = book or rules.RuleBook()
    sections, gaps, errors, warnings = _field_progress(draft, book)
    names = review_media.media().document_names_of([draft]).get(draft.pk, [])
    documents, document_gaps = _document_progress(draft, names)
    photos, photo_gaps = _photo_progress(draft)
    if documents.total:
        sections.append(documents)
    sections.append(photos)
    return Readiness(sections, [*gaps, *document_gaps, *photo_gaps], errors, warnings)
