"""Forms validate what the pages send; the views call the model."""

from __future__ import annotations

import functools
import json
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connections

from accounts.models import Role, User
from listings_portal.compiled_get import read_rows

from .fields import PropertyType
from .layout import MlsField
from .models import AUTOSAVE_FIELDS, SORTS, Draft, DraftStatus
from .models.queryset import (
    ADDRESS_TRIGRAM_LENGTH,
    ListShape,
    address_trigram_phrase,
    like_contains,
    reach_of,
    user_with_keys,
)

PAGE_SIZE_CHOICES = (25, 50, 100)
CUSTOM_GROUP_DEFAULT = "General"
CUSTOM_MAX_ROWS = 100
CUSTOM_NAME_MAX = 60
CUSTOM_VALUE_MAX = 255
# How much of a nameless custom field's value an error message quotes to point at it.
VALUE_QUOTED_IN_ERRORS = 30


def agents_in_scope(user) -> Any:
    """The agents whose drafts `user` oversees (for the list's agent filter and new drafts)."""
    agents = User.objects.filter(role=Role.AGENT, is_active=True).select_related("office")
    if user.is_superuser:
        return agents
    if user.is_company_admin:
        return agents.filter(office__company_id=user.office.company_id)
    if user.is_office_admin:
        return agents.filter(office_id=user.office_id)
    return agents.none()


def agent_label(agent: User) -> str:
    return named_label(agent.first_name, agent.last_name, agent.username, agent.office.name)


def named_label(first_name: str, last_name: str, username: str, office_name: str) -> str:
    """`agent_label` of an agent with these names (`User.__str__` then the office's name)."""
    return f"{f'{first_name} {last_name}'.strip() or username} ({office_name})"


# The agent menu's SELECT and parameters kept per process for this many scopes (one an office).
MENU_QUERIES_KEPT = 1024
_menu_queries: dict[tuple, tuple[str, tuple] | None] = {}


def agent_menu(user) -> list[tuple[int, str]]:
    """(pk, `agent_label`) of each of `agents_in_scope(user)`, reading only the names a label
    shows as plain values (users and offices as instances, or with `only()`, were most of the
    list's menus' cost). Its SELECT is built through the ORM once per scope and process: keyed by
    the database and everything of the user `agents_in_scope` reads (~1.3k Python calls a page)."""
    company_id = user.company_id if user.is_company_admin else None
    key = (User.objects.db, user.is_superuser, user.role, user.office_id, company_id)
    if key not in _menu_queries:
        names = agents_in_scope(user).values_list("pk", "first_name", "last_name", "username", "office__name")
        try:
            query: tuple[str, tuple] | None = names.query.sql_with_params()
        except EmptyResultSet:  # a scope of nobody (`.none()`)
            query = None
        if len(_menu_queries) >= MENU_QUERIES_KEPT:
            _menu_queries.clear()
        _menu_queries[key] = query
    query = _menu_queries[key]
    if query is None:
        return []
    with connections[User.objects.db].cursor() as cursor:
        cursor.execute(*query)
        return [(pk, named_label(*shown)) for pk, *shown in cursor.fetchall()]


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return agent_label(obj)


class PlainCopyMixin:
    """A form's copy of the field is the plain field's (its widget, messages and validators):
    Django copies every field for each form, and a choice field deep-copies its choices (about a
    hundred Python calls a menu, every list page)."""

    def __deepcopy__(self, memo):
        return forms.Field.__deepcopy__(self, memo)  # type: ignore[arg-type]


class FixedChoiceField(PlainCopyMixin, forms.ChoiceField):
    """A menu whose choices are the same for every form (never changed after the class is made):
    a form's copy of the field shares them."""


class ChosenAgentField(PlainCopyMixin, AgentChoiceField):
    """The list's agent filter: a form's copy shares the class's empty set of agents (Django's
    copy clones the set for each form) until `DraftFilterForm` gives it the viewer's agents,
    which it does only when an agent is chosen."""


class DraftFilterForm(forms.Form):
    """The list's search, filters and sort, from the query string."""

    q = forms.CharField(required=False, max_length=100, label="Search address")
    status = FixedChoiceField(required=False, choices=[("", "Any status"), *DraftStatus.choices])
    property_type = FixedChoiceField(required=False, choices=[("", "Any type"), *PropertyType.choices])
    agent = ChosenAgentField(required=False, queryset=User.objects.none(), empty_label="Any agent")
    sort = FixedChoiceField(
        required=False,
        choices=[
            ("-updated", "Recently updated"),
            ("updated", "Least recently updated"),
            ("-price", "Price, high to low"),
            ("price", "Price, low to high"),
            ("address", "Address, A to Z"),
            ("-address", "Address, Z to A"),
            ("status", "Status"),
        ],
    )
    trash = forms.BooleanField(required=False, label="Trash")

    def __init__(self, *args, user, **kwargs):
        if user.is_agent and not user.is_superuser:
            # An agent's list has no agent filter: the fields copied for this form leave it out.
            self.base_fields = {name: field for name, field in self.base_fields.items() if name != "agent"}
        super().__init__(*args, **kwargs)
        if "agent" in self.fields and self.data.get("agent"):
            # Only a chosen agent is looked up (the page's menu is `agent_menu`): an empty choice
            # cleans to None without the set, which every list page would otherwise build.
            self.fields["agent"].queryset = agents_in_scope(user)

    def filter(self, drafts):
        """`drafts` narrowed and ordered as asked (an invalid form filters nothing)."""
        return _filtered(drafts, self.cleaned_data if self.is_valid() else {})

    def listed(self, shown, user) -> tuple[Any, list]:
        """`shown` as `user` sees it, filtered: (everything, the ways it is the union of), as
        ListedDrafts takes them."""
        return _listed(shown, user, self.cleaned_data if self.is_valid() else {})

    def list_shape(self, shown, user) -> ListShape | None:
        """The filtered list's shape (ListedDrafts' `shape`): built with stand-ins for the words,
        the viewer's keys and the agent chosen; None where there is no such shape to keep (a
        viewer who sees nothing, or more words than shapes are kept for)."""
        data = self.cleaned_data if self.is_valid() else {}
        words = (data.get("q") or "").split()
        reach = reach_of(user)
        if reach == "nothing" or len(words) > _SHAPED_WORDS:
            return None
        connection = connections[shown.db]
        # A word of fewer letters than a trigram is asked of the LIKEs alone: its stand-in as short.
        long_words = tuple(len(word) >= ADDRESS_TRIGRAM_LENGTH for word in words)
        stand_in_words = [
            _WORD_STAND_IN.format(index) if long else chr(_SHORT_WORD_STAND_IN + index)
            for index, long in enumerate(long_words)
        ]
        values = {
            "user": lambda: int(user.pk),
            "office": lambda: int(user.office_id),
            "company": lambda: int(user.office.company_id),
            "agent": lambda: int(data["agent"].pk),
        }
        for index, word in enumerate(words):
            values[f"like{index}"] = functools.partial(like_contains, connection, word)
            values[f"phrase{index}"] = functools.partial(address_trigram_phrase, word)
        for name in _CHOICE_STAND_INS:
            values[name] = functools.partial(str, data.get(name))

        def build():  # once per connection and shape: the stand-ins are made here
            stand_ins: dict[Any, str] = {
                _SHAPE_USER_STAND_IN: "user",
                _SHAPE_OFFICE_STAND_IN: "office",
                _SHAPE_COMPANY_STAND_IN: "company",
                _SHAPE_AGENT_STAND_IN: "agent",
                **{stand_in: name for name, stand_in in _CHOICE_STAND_INS.items()},
            }
            for index, stand_in in enumerate(stand_in_words):
                stand_ins[like_contains(connection, stand_in)] = f"like{index}"
                stand_ins[address_trigram_phrase(stand_in)] = f"phrase{index}"
            stand_in_data = {
                **data,
                **{name: stand_in for name, stand_in in _CHOICE_STAND_INS.items() if data.get(name)},
                "q": " ".join(stand_in_words),
                "agent": User(pk=_SHAPE_AGENT_STAND_IN) if data.get("agent") else None,
            }
            stand_in_user = user_with_keys(
                user,
                pk=_SHAPE_USER_STAND_IN,
                office_pk=_SHAPE_OFFICE_STAND_IN,
                company_pk=_SHAPE_COMPANY_STAND_IN,
            )
            return *_listed(shown, stand_in_user, stand_in_data), stand_ins

        key = (
            reach,
            shown.model,
            repr(shown.query.select_related),
            bool(data.get("trash")),
            long_words,
            bool(data.get("status")),
            bool(data.get("property_type")),
            bool(data.get("agent")),
            data.get("sort") or "",
        )
        return ListShape(
            key=key,
            build=build,
            lists=lambda: _listed(shown, user, data),
            values=values,
        )

    def tallied_filters(self) -> dict | None:
        """The filters as `DraftTally.objects.visible_count`'s arguments when they are only what
        the tally keys (status, trash), so the list need not be counted; None when it must be."""
        data = self.cleaned_data if self.is_valid() else {}
        if any(data.get(name) for name in ("q", "property_type", "agent")):
            return None
        return {"status": data.get("status") or None, "trashed": bool(data.get("trash"))}


# The stand-ins a list's shape is built with (`DraftFilterForm.list_shape`), never a real value:
# keys no row has, and words of the Unicode private use area (no whitespace, no LIKE wildcard).
_SHAPE_USER_STAND_IN = -4_000_000_001
_SHAPE_OFFICE_STAND_IN = -4_000_000_002
_SHAPE_COMPANY_STAND_IN = -4_000_000_003
_SHAPE_AGENT_STAND_IN = -4_000_000_004
_WORD_STAND_IN = "\ue000word{}\ue000"
_SHORT_WORD_STAND_IN = 0xE100
# The status and the type chosen: stand-ins too, so that the shapes kept do not multiply by them.
_CHOICE_STAND_INS = {"status": "\ue000status\ue000", "property_type": "\ue000type\ue000"}
# A search of more words is built by the ORM each time: the shapes kept stay few.
_SHAPED_WORDS = 4


def _listed(shown, user, data: dict) -> tuple[Any, list]:
    """DraftFilterForm.listed for the cleaned `data`."""
    ways = [_filtered(way, data) for way in shown.visible_ways(user)]
    # Anyone but an agent sees drafts one way, which is all of them: built once, not twice.
    everything = ways[0] if len(ways) == 1 else _filtered(shown.visible_to(user), data)
    return everything, ways


def _filtered(drafts, data: dict):
    """DraftFilterForm.filter for the cleaned `data`."""
    drafts = drafts.in_trash() if data.get("trash") else drafts.active()
    if data.get("q"):
        drafts = drafts.matching_address(data["q"])
    if data.get("status"):
        drafts = drafts.filter(status=data["status"])
    if data.get("property_type"):
        drafts = drafts.filter(property_type=data["property_type"])
    if data.get("agent"):
        agent = data["agent"]
        drafts = drafts.filter(list_agent=agent) | drafts.filter(co_list_agent=agent)
    sort = data.get("sort") or "-updated"
    return drafts.ordered_by(sort if sort in SORTS else "-updated")


class DraftCreateForm(forms.Form):
    property_type = forms.ChoiceField(choices=PropertyType.choices, initial=PropertyType.RESIDENTIAL)
    list_agent = AgentChoiceField(
        required=False, queryset=User.objects.none(), empty_label="Me", label="Listing agent"
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if user.is_agent and not user.is_superuser:
            del self.fields["list_agent"]
        else:
            self.fields["list_agent"].queryset = agents_in_scope(user)


# --- Autosave of one field ---


class PriceField(forms.DecimalField):
    """A price as people type it: "$250,000" is 250000."""

    def to_python(self, value):
        if isinstance(value, str):
            value = re.sub(r"[\s$,]", "", value)
        return super().to_python(value)


def co_listing_candidates(draft: Draft):
    """Who may co-list `draft`: the other active agents of its office."""
    return (
        User.objects.filter(office_id=draft.office_id, role=Role.AGENT, is_active=True)
        .exclude(pk=draft.list_agent_id)
        .order_by("last_name", "first_name", "username")
    )


def co_listing_choices(draft: Draft) -> list[tuple[str, str]]:
    """The editor's choices of co-listing agent: (pk, name as User.get_full_name() joins it, or
    the username), in `co_listing_candidates`' order. Four columns, not the users' manager's
    joined office and company and three models per agent for a label; the SELECT is compiled
    once per connection (the ORM compiled it on every editor page, ~1.7k Python calls)."""
    columns = ("pk", "first_name", "last_name", "username")
    rows = None
    # Without an office or a listing agent the SQL has another shape (IS NULL): the ORM reads it.
    if draft.office_id is not None and draft.list_agent_id is not None:
        stand_in = Draft(office_id=_CO_LISTING_OFFICE_STAND_IN, list_agent_id=_CO_LISTING_AGENT_STAND_IN)
        rows = read_rows(
            "co_listing_choices",
            User,
            lambda: co_listing_candidates(stand_in).values_list(*columns),
            _CO_LISTING_STAND_INS,
            {
                "office": lambda: int(draft.office_id),
                "agent": lambda: int(draft.list_agent_id),
                "role": lambda: Role.AGENT,
                "active": lambda: True,
            },
        )
    if rows is None:
        rows = list(co_listing_candidates(draft).values_list(*columns))
    return [(str(pk), f"{first} {last}".strip() or username) for pk, first, last, username in rows]


# Stand-ins co_listing_choices' SELECT is compiled with (never executed with); the role and
# `is_active = true` (where the database compares it as a value) are the query's constants, each
# a stand-in for itself.
_CO_LISTING_OFFICE_STAND_IN = -2_000_000_301
_CO_LISTING_AGENT_STAND_IN = -2_000_000_302
_CO_LISTING_STAND_INS = {
    _CO_LISTING_OFFICE_STAND_IN: "office",
    _CO_LISTING_AGENT_STAND_IN: "agent",
    Role.AGENT: "role",
    True: "active",
}


def _value_field(draft: Draft, name: str) -> forms.Field:
    """The form field that checks what the database can hold (the rules judge the rest)."""
    if name == "co_list_agent":
        return AgentChoiceField(queryset=co_listing_candidates(draft), required=False, empty_label="None")
    model_field = Draft._meta.get_field(name)
    if name == "list_price":
        return PriceField(max_digits=14, decimal_places=2, min_value=0, required=False)
    if name == "latitude":
        return forms.FloatField(min_value=-90, max_value=90, required=False)
    if name == "longitude":
        return forms.FloatField(min_value=-180, max_value=180, required=False)
    if name in ("public_remarks", "private_remarks"):
        # Typed text is kept as typed (spaces and line breaks matter while typing).
        return forms.CharField(required=False, strip=False, max_length=20_000)
    field = model_field.formfield()
    if name == "property_type":
        field.required = True
    return field


def value_for_model(name: str, cleaned: Any) -> Any:
    """What `Draft.save_field` takes for a cleaned form value."""
    if name == "co_list_agent":
        return cleaned.pk if cleaned is not None else None
    if name in ("state_or_province", "postal_code") and isinstance(cleaned, str):
        return cleaned.upper()
    return cleaned


# Column limits said in words where "at most N characters" alone would puzzle.
LENGTH_HINTS = {"state_or_province": "use the two-letter code, such as ND"}


def plain_message(
    label: str, error: ValidationError, *, whole_numbers: bool = False, column: str = ""
) -> str:
    """One form error in plain words that name the field (never Django's "Ensure this value...")."""
    code, params = error.code, error.params or {}
    limit = params.get("limit_value", params.get("max", ""))
    if code is None:  # ours, already in plain words
        text = error.message % params if params else error.message
        return text if text.startswith(label) else f"{label}: {text[:1].lower()}{text[1:]}"
    if code == "max_length":
        hint = LENGTH_HINTS.get(column)
        return f"{label}: {hint}." if hint else f"{label}: at most {limit} characters."
    if code == "min_length":
        return f"{label}: at least {limit} characters."
    if code in ("invalid", "invalid_number"):
        return f"{label}: enter a whole number, e.g. 3." if whole_numbers else f"{label}: enter a number."
    if code in ("invalid_choice", "invalid_pk_value"):
        return f"{label}: choose one from the list."
    if code == "required":
        return f"{label} cannot be empty."
    if code == "min_value":
        return f"{label} must be at least {limit}."
    if code == "max_value":
        return f"{label} must be at most {limit}."
    if code in ("max_digits", "max_decimal_places", "max_whole_digits"):
        return f"{label}: the number has too many digits."
    return f"{label}: this value cannot be saved."


class FieldSaveForm(forms.Form):
    """One autosave request: the typed value and what the page last knew of the field.

    `version` and `seen_value` are the pair the page holds for this field (the field
    had `seen_value` at `version`); `unconfirmed` are values this page sent earlier
    without hearing back.
    """

    version = forms.IntegerField(min_value=1)
    seen_value = forms.CharField(required=False, strip=False)

    def __init__(self, *args, draft: Draft, name: str, spec: MlsField | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if name not in AUTOSAVE_FIELDS or name == "custom_fields":
            raise ValueError(name)
        self.draft = draft
        self.name = name
        # A column the MLS gives a list: a label or a value of that list, kept as the value.
        self.spec = spec if spec is not None and spec.has_list and name != "co_list_agent" else None
        self.fields["value"] = forms.CharField(required=False) if self.spec else _value_field(draft, name)

    def clean_value(self) -> Any:
        value = self.cleaned_data.get("value")
        if self.spec is not None:
            return self.spec.parse(value) or ""
        return value

    def plain_errors(self, label: str) -> list[str]:
        value_field = self.fields["value"]
        # DecimalField and FloatField are IntegerFields too in Django.
        whole = isinstance(value_field, forms.IntegerField) and not isinstance(
            value_field, forms.DecimalField | forms.FloatField
        )
        messages = []
        for name, errors in self.errors.as_data().items():
            for error in errors:
                if name == "value":
                    messages.append(plain_message(label, error, whole_numbers=whole, column=self.name))
                else:
                    messages.append("This page is out of date: reload it and try again.")
        return messages

    def typed_value(self) -> str:
        return self.data.get("value", "")

    def clean_seen_value(self) -> str:
        return _one_line_ending(self.cleaned_data["seen_value"])

    def clean(self):
        cleaned = super().clean()
        if isinstance(cleaned.get("value"), str):
            cleaned["value"] = _one_line_ending(cleaned["value"])
        return cleaned

    def model_value(self) -> Any:
        return value_for_model(self.name, self.cleaned_data["value"])

    def seen(self) -> Any:
        seen = self.cleaned_data.get("seen_value", "")
        return (self.spec.seen(seen) or "") if self.spec is not None else seen

    def unconfirmed(self) -> tuple[Any, ...]:
        if self.spec is not None:
            return tuple(self.spec.seen(raw) or "" for raw in self.data.getlist("unconfirmed")[:10])
        values = []
        for raw in self.data.getlist("unconfirmed")[:10]:
            try:
                values.append(value_for_model(self.name, self.fields["value"].clean(raw)))
            except ValidationError:
                continue
        return tuple(values)


def _one_line_ending(text: str) -> str:
    # Browsers send textarea line breaks as CRLF in plain form posts and LF through htmx.
    return text.replace("\r\n", "\n")


def custom_rows(data) -> list[tuple[str, str, str]]:
    groups, names, values = (data.getlist(key) for key in ("cf_group", "cf_name", "cf_value"))
    return [
        (group, name, value)
        for group, name, value in zip(groups, names, values, strict=False)
        if group.strip() or name.strip() or value.strip()
    ]


def rows_to_custom_fields(rows, previous: dict | None = None) -> dict[str, dict[str, Any]]:
    """{"Group": {"Field": value}} from (group, name, value) rows.

    A value whose text did not change keeps its earlier JSON type (a number stays a number).
    """
    previous = previous or {}
    result: dict[str, dict[str, Any]] = {}
    errors = []
    if len(rows) > CUSTOM_MAX_ROWS:
        raise ValidationError(f"At most {CUSTOM_MAX_ROWS} custom fields.")
    for group, name, value in rows:
        group, name, value = group.strip() or CUSTOM_GROUP_DEFAULT, name.strip(), value.strip()
        if not name:
            errors.append(f'Give the field with value "{value[:VALUE_QUOTED_IN_ERRORS]}" a name.')
            continue
        if len(group) > CUSTOM_NAME_MAX or len(name) > CUSTOM_NAME_MAX:
            errors.append(f"Group and field names are {CUSTOM_NAME_MAX} characters at most.")
            continue
        if len(value) > CUSTOM_VALUE_MAX:
            errors.append(f'"{name}" is longer than {CUSTOM_VALUE_MAX} characters.')
            continue
        fields = result.setdefault(group, {})
        if name in fields:
            errors.append(f'"{name}" appears twice in group "{group}".')
            continue
        earlier = (previous.get(group) or {}).get(name) if isinstance(previous.get(group), dict) else None
        fields[name] = earlier if earlier is not None and _text(earlier) == value else value
    if errors:
        raise ValidationError(errors)
    return result


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float | int | Decimal):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    return "" if value is None else str(value)


def custom_fields_json(value: dict | None) -> str:
    """The canonical text of a custom-fields dict (the browser builds the same)."""
    return json.dumps(value or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class CustomFieldsSaveForm(forms.Form):
    """The custom-fields table as one autosaved value."""

    version = forms.IntegerField(min_value=1)
    seen_value = forms.CharField(required=False, strip=False)

    def __init__(self, *args, draft: Draft, **kwargs):
        super().__init__(*args, **kwargs)
        self.draft = draft
        self.name = "custom_fields"

    def clean(self):
        cleaned = super().clean()
        try:
            cleaned["value"] = rows_to_custom_fields(custom_rows(self.data), self.draft.custom_fields)
        except ValidationError as error:
            self.add_error(None, error)
        return cleaned

    def typed_value(self) -> str:
        try:
            return custom_fields_json(rows_to_custom_fields(custom_rows(self.data)))
        except ValidationError:
            return json.dumps([list(row) for row in custom_rows(self.data)])

    def model_value(self) -> Any:
        return self.cleaned_data["value"]

    def seen(self) -> Any:
        return _json_dict(self.cleaned_data.get("seen_value", ""))

    def unconfirmed(self) -> tuple[Any, ...]:
        return tuple(
            parsed
            for parsed in (_json_dict(raw) for raw in self.data.getlist("unconfirmed")[:10])
            if parsed is not None
        )


def _json_dict(raw: str) -> dict | None:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
