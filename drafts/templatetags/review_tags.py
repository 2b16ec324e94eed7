"""The review workflow in shared templates: the editor's comments."""

from __future__ import annotations

from dataclasses import dataclass, field

from django import template
from django.core.exceptions import FieldDoesNotExist

from ..fields import PropertyType
from ..layout import layout_for
from ..models import Draft, DraftStatus, ReviewComment

register = template.Library()


@dataclass
class EditorReview:
    """What the editor shows of the review: open comments by what they are about, and the
    buttons this person gets."""

    draft_comments: list[ReviewComment] = field(default_factory=list)
    field_comments: dict[str, list[ReviewComment]] = field(default_factory=dict)
    media_comments: list[ReviewComment] = field(default_factory=list)
    can_submit: bool = False
    can_withdraw: bool = False
    can_review: bool = False
    may_resolve: bool = False

    @property
    def count(self) -> int:
        fields = sum(len(comments) for comments in self.field_comments.values())
        return len(self.draft_comments) + len(self.media_comments) + fields


@register.simple_tag
def editor_review(draft: Draft, user) -> EditorReview:
    """No query unless the draft has open comments (`Draft.open_review_comments`)."""
    may_submit = draft.can_submit(user)
    review = EditorReview(
        can_submit=may_submit
        and not draft.is_deleted
        and draft.status in (DraftStatus.DRAFT, DraftStatus.CHANGES_REQUESTED),
        can_withdraw=may_submit and not draft.is_deleted and draft.status == DraftStatus.SUBMITTED,
        can_review=draft.can_review(user),
    )
    review.may_resolve = may_submit or review.can_review
    for comment in draft.open_review_comment_list():
        if comment.target_kind == ReviewComment.Target.FIELD:
            review.field_comments.setdefault(comment.target_key, []).append(comment)
        elif comment.target_kind == ReviewComment.Target.DRAFT:
            review.draft_comments.append(comment)
        else:
            review.media_comments.append(comment)
    if review.media_comments:
        labels = media_labels(draft, {comment.target_kind for comment in review.media_comments})
        for comment in review.media_comments:
            comment.target_label = labels.get(  # type: ignore[attr-defined]
                (comment.target_kind, comment.target_key), f"{comment.get_target_kind_display()} (deleted)"
            )
    return review


def media_labels(draft: Draft, kinds: set[str]) -> dict[tuple[str, str], str]:
    """(kind, id) -> how people name a photo or document of `kinds`: "Photo 3 (kitchen)",
    "Document: Survey"; one in the trash by its name. A query a kind (reverse relations:
    media_manager imports drafts, not the other way)."""
    labels: dict[tuple[str, str], str] = {}
    if ReviewComment.Target.PHOTO in kinds:
        for pk, name, position in draft.photos.values_list("pk", "name", "position"):  # type: ignore[attr-defined]
            shown = (
                f"Photo {position + 1} ({name})" if position is not None else f"Photo “{name}” (in the trash)"
            )
            labels[(ReviewComment.Target.PHOTO, str(pk))] = shown
    if ReviewComment.Target.DOCUMENT in kinds:
        for pk, name, position in draft.documents.values_list("pk", "name", "position"):  # type: ignore[attr-defined]
            shown = f"Document: {name}" if position is not None else f"Document “{name}” (in the trash)"
            labels[(ReviewComment.Target.DOCUMENT, str(pk))] = shown
    return labels


@register.filter
def comments_on(review, field_name: str) -> list[ReviewComment]:
    """The open comments on one field (empty without a review in the context)."""
    if not isinstance(review, EditorReview):
        return []
    return review.field_comments.get(field_name, [])


@register.filter
def field_title(name: str) -> str:
    """A draft field's label, from its name (the editor's key of an MLS field: the MLS's label,
    read from the first property type whose layout has it; only such keys read the layouts)."""
    if name == "custom_fields":
        return "Custom fields"
    if name.startswith(("std-", "cf-")):
        for property_type in PropertyType.values:
            layout = layout_for(property_type)
            if layout is not None and name in layout.by_key:
                return layout.by_key[name].label
        return name.split("-", 1)[1].replace("-", " ").capitalize()
    try:
        label = str(Draft._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name
    return label[:1].upper() + label[1:]
