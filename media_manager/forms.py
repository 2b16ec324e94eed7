"""Forms validate what the media page posts; the views call the model methods."""

from __future__ import annotations

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
    """Ids ticked on the page (bulk delete)."""

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
            raise forms.ValidationError("Select the photos to delete first.")
        return cleaned
