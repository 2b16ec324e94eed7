"""Forms validate what the media page posts; the views call the model methods."""

from __future__ import annotations

import uuid

from django import forms

from .models import (
    DOCUMENT_NAME_MAX,
    PHOTO_CAPTION_MAX,
    PHOTO_NAME_MAX,
    DocumentPrivacy,
    clean_display_text,
)


class PhotoTextForm(forms.Form):
    name = forms.CharField(max_length=PHOTO_NAME_MAX, strip=True)
    caption = forms.CharField(max_length=PHOTO_CAPTION_MAX, required=False, strip=True)

    def error_text(self) -> str:
        """Every error, each after the name of its field ("Name: ...")."""
        return " ".join(
            f"{name.capitalize()}: {error}" for name, errors in self.errors.items() for error in errors
        )

    def clean_name(self) -> str:
        name = clean_display_text(self.cleaned_data["name"], max_length=PHOTO_NAME_MAX + 1)
        if not name:
            raise forms.ValidationError("A photo needs a name.")
        return name


class DocumentForm(forms.Form):
    name = forms.CharField(max_length=DOCUMENT_NAME_MAX, strip=True)
    privacy = forms.ChoiceField(choices=DocumentPrivacy.choices)

    def clean_name(self) -> str:
        name = clean_display_text(self.cleaned_data["name"], max_length=DOCUMENT_NAME_MAX + 1)
        if not name:
            raise forms.ValidationError("A document needs a name.")
        return name


class UploadBatchForm(forms.Form):
    """The browser's keys of the files chosen or dropped together, in that order (one per
    upload request's `client_key`), so each file is placed by the order chosen, not by the
    order its upload finished. Missing or unreadable: the file goes last, as before."""

    MOST_KEYS = 500
    batch = forms.CharField(required=False, max_length=MOST_KEYS * 37)

    def keys(self) -> list[uuid.UUID]:
        if not self.is_valid():
            return []
        try:
            return [uuid.UUID(part) for part in self.cleaned_data["batch"].split(",") if part.strip()]
        except ValueError:
            return []


class OrderForm(forms.Form):
    """A complete new order: every id once, and the version the page saw."""

    version = forms.IntegerField(min_value=0)
    moved = forms.IntegerField(required=False)

    def __init__(self, data, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.raw_ids = data.getlist("order") if hasattr(data, "getlist") else data.get("order", [])

    def clean(self):
        cleaned = super().clean()
        try:
            ids = [int(value) for value in self.raw_ids]
        except (TypeError, ValueError):
            raise forms.ValidationError("The order must list item numbers.") from None
        if len(ids) != len(set(ids)):
            raise forms.ValidationError("The order lists an item twice.")
        cleaned["ids"] = ids
        return cleaned


class MoveForm(forms.Form):
    DIRECTIONS = {"earlier": -1, "later": 1, "first": None, "last": None}
    direction = forms.ChoiceField(choices=[(d, d) for d in DIRECTIONS])


class RotateForm(forms.Form):
    direction = forms.ChoiceField(choices=[("left", "left"), ("right", "right")])

    @property
    def quarter_turns(self) -> int:
        return -1 if self.cleaned_data["direction"] == "left" else 1


class SelectionForm(forms.Form):
    """Ids ticked on the page (delete, move or download several)."""

    def __init__(self, data, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.raw_ids = data.getlist("selected") if hasattr(data, "getlist") else []

    def clean(self):
        cleaned = super().clean()
        try:
            cleaned["ids"] = sorted({int(value) for value in self.raw_ids})
        except ValueError:
            raise forms.ValidationError("The selection must list photo numbers.") from None
        if not cleaned["ids"]:
            raise forms.ValidationError("Select photos first: tick the box on each photo, or Select all.")
        return cleaned


class BulkMoveForm(SelectionForm):
    """The ticked photos to the start or the end, in their current order, as seen at `version`."""

    where = forms.ChoiceField(choices=[("start", "start"), ("end", "end")])
    version = forms.IntegerField(min_value=0)

    def new_order(self, current: list[int]) -> list[int]:
        chosen = set(self.cleaned_data["ids"])
        moved = [pk for pk in current if pk in chosen]
        rest = [pk for pk in current if pk not in chosen]
        return moved + rest if self.cleaned_data["where"] == "start" else rest + moved
