"""The forms of a draft's rooms, units, virtual tours and videos.

Rooms and units take the MLS's own fields (drafts/part_fields.py): a field with a list is a
menu of the MLS's labels (checkboxes where it may hold several), any other is text, and a value
outside the list is refused with a message naming the field. Tours and videos take a name and
links checked by drafts/links.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .layout import NOT_LISTED
from .links import check_link
from .models.parts import PART_CAPTION_MAX, PART_NAME_MAX, ListingPart
from .part_fields import FieldSpecLike
from .widget_html import WIDGET_RENDERER

# Spark keeps room and unit values as text; a sensible bound for one typed value.
PART_VALUE_MAX = 255
FIELDS_NOT_READ = (
    "The MLS's room fields have not been read yet: an office admin can read them on the MLS lists page."
)


class PartFieldsForm(forms.Form):
    """A room or unit: one form field per MLS field, named by the MLS's attribute name."""

    # Rendered on every editor page: its widgets without a template render each.
    default_renderer = WIDGET_RENDERER

    def __init__(self, *args: Any, specs: Sequence[FieldSpecLike], noun: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.specs = list(specs)
        self.noun = noun
        for spec in self.specs:
            label = spec.label or spec.name
            invalid = {"invalid_choice": f"{label}: “%(value)s” is not one of the MLS's choices."}
            field: forms.Field
            choices = [(choice.value, choice.label) for choice in spec.choices]
            # A stored value the MLS's list no longer has stays selected, marked, as in the
            # editor: saving the part's other fields must not drop it unseen.
            listed = {choice.value for choice in spec.choices}
            stored = self.initial.get(spec.name)
            for value in stored if isinstance(stored, list) else [stored]:
                if choices and value not in (None, "") and str(value) not in listed:
                    choices.append((str(value), f"{value} ({NOT_LISTED})"))
            if choices and spec.multi_select:
                field = forms.MultipleChoiceField(
                    label=label,
                    choices=choices,
                    required=False,
                    widget=forms.CheckboxSelectMultiple,
                    error_messages=invalid,
                )
            elif choices:
                field = forms.ChoiceField(
                    label=label, choices=[("", "—"), *choices], required=False, error_messages=invalid
                )
            else:
                field = forms.CharField(
                    label=label,
                    required=False,
                    max_length=PART_VALUE_MAX,
                    error_messages={"max_length": f"{label}: {PART_VALUE_MAX} characters at most."},
                )
            self.fields[spec.name] = field

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and not any(value not in (None, "", []) for value in cleaned.values()):
            raise ValidationError(f"Fill in at least one field of the {self.noun}.")
        return cleaned

    def values(self, part: ListingPart | None = None) -> dict[str, Any]:
        """What `add` and `edit` take, in the MLS's order. A value the part holds for a field the
        MLS no longer shows is kept: the form never saw it."""
        kept = {
            name: value
            for name, value in ((part.fields or {}) if part else {}).items()
            if name not in self.fields
        }
        return {"fields": {**{spec.name: self.cleaned_data.get(spec.name) for spec in self.specs}, **kept}}


class PartLinkForm(forms.Form):
    """A virtual tour or a video: its name, its link, an optional branded link, its privacy."""

    default_renderer = WIDGET_RENDERER

    name = forms.CharField(max_length=PART_NAME_MAX)
    url = forms.CharField(label="Link", max_length=2000)
    branded_url = forms.CharField(label="Branded link", max_length=2000, required=False)
    caption = forms.CharField(
        label="Caption",
        max_length=PART_CAPTION_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    privacy = forms.ChoiceField(choices=ListingPart.Privacy.choices, required=False)

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        noun = "Virtual tour" if kind == ListingPart.Kind.TOUR else "Video"
        self.fields["name"].label = f"{noun} name"
        self.fields["url"].label = f"{noun} link"
        self.fields["branded_url"].label = f"Branded {noun.lower()} link"
        for _name, field in self.fields.items():
            field.error_messages["required"] = f"{field.label}: required."
            field.error_messages["max_length"] = f"{field.label}: %(limit_value)d characters at most."
            field.error_messages["invalid_choice"] = f"{field.label}: choose one of the list."
        example = "3D walk-through" if kind == ListingPart.Kind.TOUR else "Neighbourhood video"
        self.fields["name"].help_text = f"What the MLS shows, e.g. “{example}”."
        self.fields[
            "branded_url"
        ].help_text = f"Optional: the same {noun.lower()} with your branding, for your own pages."
        self.fields["privacy"].label = "Who sees it"
        if kind != ListingPart.Kind.VIDEO:
            del self.fields["caption"]

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_url(self) -> str:
        return check_link(self.cleaned_data["url"], label=str(self.fields["url"].label))

    def clean_branded_url(self) -> str:
        return check_link(self.cleaned_data["branded_url"], label=str(self.fields["branded_url"].label))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        url, branded = cleaned.get("url"), cleaned.get("branded_url")
        if url and branded and url == branded:
            self.add_error(
                "branded_url", f"{self.fields['branded_url'].label}: leave it empty when it is the same link."
            )
        return cleaned

    def values(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data.get(name, "") or ""
            for name in ("name", "url", "branded_url", "caption", "privacy")
        }
