"""Django's form widgets written in Python for the few kinds the editor's part forms use (text,
number, URL, email inputs, textareas, selects, checkbox lists): each widget and each option is
otherwise a template render through the form renderer (~1 ms a widget, ~20 widgets on the
editor). The markup is exactly the one of Django's own widget templates; any other widget still
renders through them. Attribute names and values and labels are escaped as `{{ }}` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.forms.renderers import DjangoTemplates

from .field_html import esc


def _attrs(attrs: dict[str, Any]) -> str:
    """django/forms/widgets/attrs.html."""
    return "".join(
        f" {esc(name)}" if value is True else f' {esc(name)}="{esc(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _input(widget: dict[str, Any]) -> str:
    """django/forms/widgets/input.html (and text, number, url, email...). Each writer returns
    its template's whole output, the file's last line break included: an option's shows
    inside the select or the list that includes it (the renderer strips only the outer one)."""
    value = "" if widget["value"] is None else f' value="{esc(widget["value"])}"'
    return (
        f'<input type="{esc(widget["type"])}" name="{esc(widget["name"])}"{value}{_attrs(widget["attrs"])}>\n'
    )


def _input_option(widget: dict[str, Any]) -> str:
    """django/forms/widgets/input_option.html."""
    if not widget.get("wrap_label"):
        return f"{_input(widget)}\n"
    label_for = f' for="{esc(widget["attrs"]["id"])}"' if widget["attrs"].get("id") else ""
    return f"<label{label_for}>{_input(widget)} {esc(widget['label'])}</label>\n"


def _checkbox_option(widget: dict[str, Any]) -> str:
    """django/forms/widgets/checkbox_option.html and radio_option.html: input_option and a line."""
    return f"{_input_option(widget)}\n"


def _textarea(widget: dict[str, Any]) -> str:
    value = esc(widget["value"]) if widget["value"] else ""
    return f'<textarea name="{esc(widget["name"])}"{_attrs(widget["attrs"])}>\n{value}</textarea>\n'


def _select_option(widget: dict[str, Any]) -> str:
    return (
        f'<option value="{esc(widget["value"])}"{_attrs(widget["attrs"])}>{esc(widget["label"])}</option>\n'
    )


OPTION_TEMPLATES = {
    "django/forms/widgets/select_option.html": _select_option,
    "django/forms/widgets/checkbox_option.html": _checkbox_option,
    "django/forms/widgets/radio_option.html": _checkbox_option,
    "django/forms/widgets/input_option.html": _input_option,
}


def _option(option: dict[str, Any]) -> str | None:
    write = OPTION_TEMPLATES.get(option["template_name"])
    return write(option) if write else None


def _select(widget: dict[str, Any]) -> str | None:
    parts = [f'<select name="{esc(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{esc(group_name)}">')
        for option in group_choices:
            written = _option(option)
            if written is None:
                return None
            parts.append(f"\n  {written}")
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>\n")
    return "".join(parts)


def _multiple_input(widget: dict[str, Any]) -> str | None:
    """django/forms/widgets/multiple_input.html (checkbox_select, radio)."""
    widget_id, css = widget["attrs"].get("id"), widget["attrs"].get("class")
    parts = [f"<div{f' id="{esc(widget_id)}"' if widget_id else ''}{f' class="{esc(css)}"' if css else ''}>"]
    for group, options, _index in widget["optgroups"]:
        if group:
            parts.append(f"\n  <div><label>{esc(group)}</label>")
        for option in options:
            written = _option(option)
            if written is None:
                return None
            parts.append(f"<div>\n    {written}</div>")
        if group:
            parts.append("\n  </div>")
    parts.append("\n</div>\n")
    return "".join(parts)


WIDGET_TEMPLATES: dict[str, Callable[[dict[str, Any]], str | None]] = {
    **{
        f"django/forms/widgets/{kind}.html": _input
        for kind in (
            "input",
            "text",
            "number",
            "url",
            "email",
            "password",
            "hidden",
            "search",
            "tel",
            "date",
            "datetime",
            "time",
        )
    },
    "django/forms/widgets/textarea.html": _textarea,
    "django/forms/widgets/select.html": _select,
    "django/forms/widgets/checkbox_select.html": _multiple_input,
    "django/forms/widgets/radio.html": _multiple_input,
    **OPTION_TEMPLATES,
}


class PythonWidgetRenderer(DjangoTemplates):
    """The default form renderer, with the widgets above written without a template."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        write = WIDGET_TEMPLATES.get(template_name)
        widget = context.get("widget") if write else None
        written = write(widget) if write and isinstance(widget, dict) else None
        if written is None:
            return super().render(template_name, context, request=request)
        return written.strip()


# One renderer for the process: its template engine (for the other widgets) is built once.
WIDGET_RENDERER = PythonWidgetRenderer()
