"""One autosaved field of the editor as the page, the autosave reply and the rules re-read show
it: what drafts/views.py builds and drafts/field_html.py writes, in a module of its own so the
writer does not import the views that call it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .rules import RuleResult


@dataclass
class Conflict:
    theirs: str
    theirs_display: str
    mine: str
    mine_display: str
    version: int
    by: str
    at: Any


@dataclass
class FieldView:
    """One autosaved field of the editor and its save state."""

    name: str
    label: str
    spark_name: str
    value: str
    seen: str
    version: int
    widget: str = "text"
    inputmode: str = ""
    autocomplete: str = ""
    hint: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    datalist: str = ""
    state: str = "saved"
    errors: list[str] = field(default_factory=list)
    conflict: Conflict | None = None
    rule_results: list[RuleResult] = field(default_factory=list)
    max_length: int = 0
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    display: str = ""
    # Laid out by the MLS: the values chosen of a multi-select list, the MLS's custom-field
    # group heading shown before the first field of that group, the input type.
    chosen: list[str] = field(default_factory=list)
    group_heading: str = ""
    input_type: str = "text"
    # A field a listing of this type must fill: its label carries a mark.
    required: bool = False
    # Where it autosaves (the page's fields share one reverse(): `_field_save_urls`).
    save_url: str = ""
