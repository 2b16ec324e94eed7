"""Forms of the MLS pages: they validate what people type; the views call the model."""

from __future__ import annotations

from django import forms

from .models import OPEN_HOUSE_COMMENTS_MAX


class OpenHouseForm(forms.Form):
    """Date, start and end as the office's clocks read them (Office.time_zone)."""

    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    start = forms.TimeField(label="Starts", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    end = forms.TimeField(label="Ends", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    comments = forms.CharField(
        required=False,
        max_length=OPEN_HOUSE_COMMENTS_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
