"""The editor's autosaved fields as HTML, written here rather than by a template: ~60 fields of
~50 template nodes each were more than half the editor's time, while the markup itself is a
handful of fixed shapes (a select, a textarea, an input, checkboxes, the custom-fields table).

The markup is the one the template wrote (the demo drafts' pages compared equal, whitespace
aside); templates/drafts/draft_edit.html keeps the `save_state` and `field_rules` partials that
answer the autosave and the rules re-read with the same ids. Every value is escaped as `{{ }}`
does; tests/drafts/test_field_html.py pins the escaping, the chosen option, the required mark,
the messages and the autosave reply being the page's own save state.
"""

# ruff: noqa: E501 - markup kept one element a line, as the templates it replaces read

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.utils.safestring import SafeString
from django.utils.translation import get_language

if TYPE_CHECKING:
    from .field_view import FieldView

SAVE_STATUS = {"saved": "Saved", "invalid": "Not saved", "conflict": "Not saved: changed by someone else"}
REQUIRED_MARK = (
    '<span class="required-mark" aria-hidden="true">*</span><span class="visually-hidden"> (required)</span>'
)
CUSTOM_GROUP_OPTIONS = (
    '<datalist id="cf-group-options"><option value="General"><option value="Lot"><option value="Farm">'
    '<option value="Lease"><option value="Utilities"></datalist>'
)
# The custom-fields table's hint, in the words of the page.
CUSTOM_HINT = "The MLS's own fields, grouped as it shows them: e.g. group “Lot”, field “Lot Size Acres”."


# What `html.escape` replaces, in one pass of `str.translate` rather than its five `replace`s
# (~450 values a page). `&` maps alone, so an escape's own `&` is never escaped again.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def esc(value: Any) -> str:
    """As `{{ value }}` prints it (`conditional_escape`: SafeData as it is, the rest escaped the
    way `django.utils.html.escape` does), without its lazy-string wrapper: ~1,000 values a page."""
    if type(value) is str:
        return value.translate(_ESCAPES)
    if hasattr(value, "__html__"):
        return value.__html__()
    return str(value).translate(_ESCAPES)


@lru_cache(maxsize=512)
def _escaped(choices: tuple[tuple[Any, Any], ...], language: str | None) -> tuple[tuple[Any, str, str], ...]:
    """Each choice as (value, value escaped, label escaped). The MLS's lists are the same on
    every page until its metadata changes (then they are new tuples): ~130 options a page, a
    few hundred of a real MLS's lists, escaped once. `language`: a lazy label's own words."""
    return tuple((value, esc(value), esc(label)) for value, label in choices)


def escaped_choices(choices: Iterable[tuple[Any, Any]]) -> tuple[tuple[Any, str, str], ...]:
    choices = tuple(choices)
    try:
        return _escaped(choices, get_language())
    except TypeError:  # a value that cannot be a key (a stored list, say): escaped here
        return tuple((value, esc(value), esc(label)) for value, label in choices)


def csrf_input(token: Any) -> str:
    """As `{% csrf_token %}` prints it."""
    if not token or token == "NOTPROVIDED":
        return ""
    return f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(token)}">'


def field_rules(name: str, results: Iterable[Any], *, oob: bool = False) -> str:
    """The `field_rules` partial: the rule messages under one field (#rules-<name>)."""
    items = "".join(
        f'<li class="rule rule-{esc(result.severity)}{" rule-missing" if result.missing else ""}">'
        f'<span class="visually-hidden">{esc(result.severity)}: </span>'
        f"{'<span class="rule-source">Our check:</span> ' if result.ours else ''}{esc(result.message)}</li>"
        for result in results
    )
    swap = ' hx-swap-oob="true"' if oob else ""
    return f'<ul class="field-rules" id="rules-{esc(name)}"{swap}>{items}</ul>'


def save_state(f: FieldView, *, conflict_html: str = "") -> str:
    """The field's save state (#save-<name>): the page's, and the reply to each autosave.
    `conflict_html`: the template's `save_conflict` partial, when someone else's value and
    this person's are both on the table (rare: the caller renders it then)."""
    errors = ""
    if f.errors:
        items = "".join(f"<li>{esc(error)}</li>" for error in f.errors)
        errors = f'<ul class="field-errors" id="errors-{esc(f.name)}" role="alert">{items}</ul>'
    return (
        f'<div class="save-state" id="save-{esc(f.name)}" data-state="{esc(f.state)}">'
        f'<input type="hidden" name="version" value="{esc(f.version)}">'
        f'<input type="hidden" name="seen_value" value="{esc(f.seen)}">'
        f'<span class="save-status">{SAVE_STATUS.get(f.state, "")}</span>{errors}{conflict_html}</div>'
    )


def _cf_row(group: Any, name: Any, value: Any) -> str:
    return (
        '<tr class="cf-row">'
        f'<td><input name="cf_group" value="{esc(group)}" aria-label="Group" placeholder="General" list="cf-group-options" autocomplete="off"></td>'
        f'<td><input name="cf_name" value="{esc(name)}" aria-label="Field name" autocomplete="off"></td>'
        f'<td><input name="cf_value" value="{esc(value)}" aria-label="Value" autocomplete="off"></td>'
        '<td><button type="button" class="button small icon" data-cf-remove aria-label="Remove this custom field">✕</button></td>'
        "</tr>"
    )


def _hx(save_url: str, name: str, trigger: str) -> str:
    return (
        f'hx-post="{save_url}" hx-trigger="{trigger}" hx-target="#save-{name}" hx-swap="outerHTML" '
        'hx-sync="this:queue last"'
    )


def field_head(f: FieldView, *, csrf_token: Any, has_comments: bool, state_html: str) -> SafeString:
    """The field's form up to its save state (the caller adds the MLS's refusal after it)."""
    name, url = esc(f.name), esc(f.save_url)
    comments = " has-comments" if has_comments else ""
    required = REQUIRED_MARK if f.required else ""
    if f.widget == "custom":
        rows = "".join(_cf_row(*row) for row in f.rows)
        blank = _cf_row("", "", "")
        return SafeString(  # every value above is escaped
            f'<form class="field field-wide custom-fields{comments}" id="field-{name}" method="post" action="{url}" novalidate '
            f'data-autosave="{name}" {_hx(url, name, "input delay:600ms, change, autosave-retry")}>'
            f"{csrf_input(csrf_token)}"
            f'<fieldset id="id_custom_fields" tabindex="-1" aria-describedby="cf-hint save-{name} rules-{name}">'
            '<legend class="visually-hidden">Custom fields</legend>'
            f'<p class="hint" id="cf-hint">{CUSTOM_HINT}</p>'
            '<table class="cf-table"><thead><tr><th scope="col">Group</th><th scope="col">Field</th>'
            '<th scope="col">Value</th><th scope="col"><span class="visually-hidden">Remove</span></th></tr></thead>'
            f"<tbody data-cf-rows>{rows}{blank}</tbody></table>"
            f'<template id="cf-row-template">{blank}</template>{CUSTOM_GROUP_OPTIONS}'
            '<button type="button" class="button small" data-cf-add>Add a custom field</button>'
            f"</fieldset>{state_html}"
        )
    wide = " field-wide" if f.widget in ("textarea", "multi") else ""
    parts = [
        f'<form class="field{wide}{comments}" id="field-{name}" method="post" action="{url}" novalidate data-field-form>',
        csrf_input(csrf_token),
    ]
    mls_name = esc(f.spark_name)
    hint = f" hint-{name}" if f.hint else ""
    aria_required = ' aria-required="true"' if f.required else ""
    if f.widget == "multi":
        chosen = set(f.chosen)
        options = "".join(
            f'<label class="multi-option"><input type="checkbox" name="choice" value="{value_html}" data-multi-choice'
            f"{' checked' if value in chosen else ''}> {label_html}</label>"
            for value, value_html, label_html in escaped_choices(f.choices)
        )
        parts.append(
            f'<fieldset class="multi-choice" id="id_{name}" tabindex="-1" aria-describedby="save-{name} rules-{name}">'
            f'<legend title="MLS field {mls_name}" data-mls-name="{mls_name}">{esc(f.label)}{required}</legend>'
            '<input type="hidden" name="multi" value="1">'
            f'<input type="hidden" name="value" value="{esc(f.value)}" data-autosave="{name}" data-multi '
            f"{_hx(url, name, 'change, autosave-retry')}>"
            f'<div class="multi-options">{options}</div></fieldset>'
        )
    else:
        parts.append(
            f'<label for="id_{name}" title="MLS field {mls_name}" data-mls-name="{mls_name}">{esc(f.label)}{required}</label>'
        )
    if f.widget == "select":
        options = "".join(
            f'<option value="{value_html}"{" selected" if value == f.value else ""}>{label_html}</option>'
            for value, value_html, label_html in escaped_choices(f.choices)
        )
        parts.append(
            f'<select id="id_{name}" name="value" data-autosave="{name}"{aria_required} '
            f'{_hx(url, name, "change, autosave-retry")} aria-describedby="save-{name} rules-{name}{hint}">'
            f"{options}</select>"
        )
    elif f.widget == "textarea":
        rows = "8" if f.name == "public_remarks" else "4"
        limit = f' data-max-length="{esc(f.max_length)}"' if f.max_length else ""
        parts.append(
            f'<textarea id="id_{name}" name="value" rows="{rows}" data-autosave="{name}"{aria_required}{limit} '
            f"{_hx(url, name, 'input changed delay:600ms, change, autosave-retry')} "
            f'aria-describedby="save-{name} rules-{name}{hint}">{esc(f.value)}</textarea>'
        )
        if f.max_length:
            parts.append(
                f'<small class="counter" data-counter-for="id_{name}" aria-live="off">'
                f"{len(f.value)} / {esc(f.max_length)}</small>"
            )
    elif f.widget != "multi":
        attrs = [f'id="id_{name}" name="value" value="{esc(f.value)}"']
        if f.input_type != "text":
            attrs.append(f' type="{esc(f.input_type)}"')
        attrs.append(f' data-autosave="{name}"{aria_required}')
        if f.inputmode:
            attrs.append(f' inputmode="{esc(f.inputmode)}"')
        if f.autocomplete:
            attrs.append(f' autocomplete="{esc(f.autocomplete)}"')
        if f.datalist:
            attrs.append(f' list="{esc(f.datalist)}"')
        if f.widget == "search":
            attrs.append(' autocomplete="off" placeholder="Type to search"')
        invalid = ' aria-invalid="true"' if f.state == "invalid" else ""
        parts.append(
            f"<input {''.join(attrs)} {_hx(url, name, 'input changed delay:600ms, change, autosave-retry')} "
            f'aria-describedby="save-{name} rules-{name}{hint}"{invalid}>'
        )
    if f.widget == "search":
        options = "".join(
            f'<option value="{label_html}"></option>' for _, _, label_html in escaped_choices(f.choices)
        )
        parts.append(f'<datalist id="{esc(f.datalist)}">{options}</datalist>')
    if f.hint:
        parts.append(f'<small class="hint" id="hint-{name}">{esc(f.hint)}</small>')
    parts.append(state_html)
    # SafeString rather than mark_safe: the same for a str, without keep_lazy's look at its
    # arguments for lazy strings (the editor's ~35 fields make ~100 of these a page).
    return SafeString("".join(parts))  # every value above is escaped


def field_tail(f: FieldView, *, oob: bool, comments_html: str) -> SafeString:
    """The field's form after the MLS's refusal: its rule messages, the reviewer's comments,
    the no-script Save button."""
    button = "Save custom fields" if f.widget == "custom" else "Save"
    return SafeString(  # every value is escaped in field_rules; comments are rendered
        f"{field_rules(f.name, f.rule_results, oob=oob)}{comments_html}"
        f'<button type="submit" class="button small nojs-only">{button}</button></form>'
    )


def readiness_checklist(report: Any) -> str:
    """The `readiness_checklist` partial (the rules panel of the page and of every rules
    re-read): done/total per section, then every gap with a link to where it is fixed."""
    parts = ['\n\n<ul class="readiness-sections">']
    for part in report.sections:
        title, done, total = esc(part.title), esc(part.done), esc(part.total)
        parts.append(
            f'\n  <li class="readiness-section{" is-complete" if part.is_complete else ""}">'
            f'\n    <span class="readiness-section-title">{title}</span>'
            f'\n    <progress max="{total}" value="{done}" aria-label="{title}: {done} of {total} done">{done}/{total}</progress>'
            f'\n    <span class="readiness-count">{done}/{total}</span>'
            "\n  </li>"
        )
    parts.append("\n</ul>\n")
    if report.gaps:
        parts.append(
            '\n<h3 class="text-err">Missing before it can be submitted</h3>\n<ul class="gap-list" id="readiness-gaps">'
        )
        for gap in report.gaps:
            focus = f' data-focus-field="id_{esc(gap.field)}"' if gap.field else ""
            parts.append(
                f'\n  <li class="gap"><a class="gap-link" href="{esc(gap.url)}"{focus}>'
                f'\n    <span class="gap-text"><span class="gap-section">{esc(gap.section)}:</span> {esc(gap.message)}</span> <span class="gap-fix">Fix this</span></a></li>'
            )
        parts.append("\n</ul>\n")
    parts.append("\n")
    return "".join(parts)
