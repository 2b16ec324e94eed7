"""The drafts list's rows: what each row shows, worked out once in Python, and its HTML memoized
by exactly that.

Rendering the rows through the template was most of the list's time (about 700 variables and
two dozen filters and tags for 25 rows). Here a row's shown values are plain strings in a frozen
`RowContent`, and the cells are rendered from the page's `row_cells` partial once per distinct
content: the content *is* the cache key, so a change to anything a row shows (the draft, its
agents' or office's names, its readiness, the time "updated 3 minutes ago" reads, the viewer's
columns and links, the language) makes a new key; nothing stale or another office's can come out.
The sync badge (live, polling) and the trash's restore form (the request's CSRF token) are
rendered per request around the memoized cells.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, NamedTuple

from django.db import models
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe

from . import rules
from .field_html import csrf_input, esc
from .models import Draft
from .natural_time import natural_time
from .templatetags.drafts_tags import money, pk_url, pk_url_of, plural_warning, severity_label

# Rows kept per process: 80 pages of 25 rows, about 1.5 kB each.
ROW_CELLS_CACHED = 2048
# Readiness figures kept per process and per version of the MLS's rules: each is keyed by the
# draft's columns (a few kB with the remarks), so as many as rows.
READINESS_CACHED = 2048
_FIXED_RULES_READINESS: dict[tuple, tuple[int, str, str]] = {}


@dataclass(frozen=True, slots=True)
class RowContent:
    """Everything a row's cells show, as shown, plus who the row is for."""

    pk: int
    office_id: int
    language: str
    edit_url: str
    address: str
    review_name: str
    locality: str
    status: str
    status_label: str
    review_url: str
    property_type_label: str
    price: str
    show_agent: bool
    list_agent: str
    co_list_agent: str
    show_office: bool
    office: str
    percent: int
    errors: str
    warnings: str
    updated_iso: str
    updated_title: str
    updated_ago: str


@dataclass(frozen=True, slots=True)
class PageSettings:
    """What every row of a page reads alike, read once for the page (each is a thread-local
    lookup): the active language and time zone, today's date there, and the rows' links with
    the urlconf and script prefix in force."""

    language: str
    zone: tzinfo
    today: date
    edit_url: Callable[[int], str]
    review_url: Callable[[int], str]

    @classmethod
    def now(cls) -> PageSettings:
        zone = timezone.get_current_timezone()
        return cls(
            language=translation.get_language() or "",
            zone=zone,
            today=timezone.localdate(timezone=zone),
            edit_url=pk_url_of("drafts:draft_edit"),
            review_url=pk_url_of("drafts:draft_review"),
        )


class ListRow(NamedTuple):
    draft: Draft
    cells: SafeString


def shows_agents(viewer: Any) -> bool:
    """Whether `viewer`'s list has an agent column (an agent's own list has none)."""
    return not viewer.is_agent or viewer.is_superuser


class RowViewer(NamedTuple):
    """What of the viewer the rows read, read once a page (`request.user` answers each read
    through its lazy wrapper, a few calls a row)."""

    show_agent: bool
    may_review: bool

    @classmethod
    def of(cls, viewer: Any) -> RowViewer:
        return cls(shows_agents(viewer), viewer.is_reviewer or viewer.is_superuser)


@lru_cache(maxsize=256)
def _price_shown(price: Decimal | None) -> str:
    """`money(price)`: a page shows the same few prices again and again (equal prices, however
    written, are shown alike)."""
    return money(price)


def row_content(
    draft: Draft,
    *,
    percent: int,
    errors: str,
    warnings: str,
    viewer: Any,
    in_trash: bool,
    spans_offices: bool,
    page: PageSettings | None = None,
) -> RowContent:
    """What `draft`'s row shows to `viewer` (a user, or their `RowViewer`; needs
    `with_row_relations` as the list shows them), with `page`'s settings (the ones in force when
    not given)."""
    page = page or PageSettings.now()
    seen_by = viewer if isinstance(viewer, RowViewer) else RowViewer.of(viewer)
    address = draft.unparsed_first_line_address
    locality = draft.city + (f", {draft.state_or_province}" if draft.state_or_province else "")
    reviewable = draft.status == "submitted" and not in_trash and seen_by.may_review
    # As the template shows an aware datetime (timezone.localtime's conversion, the column aware).
    updated = draft.updated_at.astimezone(page.zone)
    show_agent = seen_by.show_agent
    language = page.language
    pk = draft.pk
    return RowContent(
        pk=pk,
        office_id=draft.office_id,
        language=language,
        edit_url=page.edit_url(pk),
        address=address or "Untitled draft",
        review_name=address or "this draft",
        locality=f"{locality} {draft.postal_code}",
        status=draft.status,
        status_label=_choice_label("status", draft.status, language),
        review_url=page.review_url(pk) if reviewable else "",
        property_type_label=_choice_label("property_type", draft.property_type, language),
        price=_price_shown(draft.list_price),
        show_agent=show_agent,
        list_agent=str(draft.list_agent) if show_agent else "",
        co_list_agent=str(draft.co_list_agent) if show_agent and draft.co_list_agent_id else "",
        show_office=spans_offices,
        office=str(draft.office) if spans_offices else "",
        percent=percent,
        errors=errors,
        warnings=warnings,
        updated_iso=updated.isoformat(),  # the date filter's "c"
        updated_title=_localized(updated, str(updated.tzinfo), language),
        updated_ago=natural_time(updated, language=language or None),
    )


@lru_cache(maxsize=256)
def _choice_label(field_name: str, value: str, language: str) -> str:
    """`draft.get_<field>_display()` in `language` (the active one), without flattening the
    choices for every row."""
    field = Draft._meta.get_field(field_name)
    assert isinstance(field, models.Field)
    return str(dict(field.flatchoices).get(value, value))


@lru_cache(maxsize=ROW_CELLS_CACHED)
def _localized(moment: datetime, zone: str, language: str) -> str:
    """`localize(moment)` (a page shows the same rows' times again and again). Aware datetimes
    equal across zones hash alike, so the zone's name and the active language are in the key."""
    return str(localize(moment))


@lru_cache(maxsize=ROW_CELLS_CACHED)
def row_cells(content: RowContent) -> SafeString:
    """The row's cells up to the sync badge, rendered once per distinct content."""
    return render_to_string("drafts/draft_list.html#row_cells", {"row": content})


@cache
def _columns() -> tuple[operator.attrgetter, tuple[int, ...]]:
    """A reader of every column of a draft at once (one call, not a getattr per column), and the
    positions of the JSON columns among them (the only ones that hold dicts and lists)."""
    fields = Draft._meta.concrete_fields
    json_positions = tuple(n for n, field in enumerate(fields) if isinstance(field, models.JSONField))
    return operator.attrgetter(*(field.attname for field in fields)), json_positions


def _stored_values(draft: Draft) -> tuple:
    """Every column of `draft` as stored: what the rules can read of it (hashable).

    A JSON column's dicts and lists stand as their `repr`: equal reprs of JSON's types are equal
    values, and the same value written in another key order is only another key (a miss, never
    a wrong figure); one C call where `json.dumps` was seven Python ones a column."""
    read, json_positions = _columns()
    values = list(read(draft))
    for position in json_positions:
        if isinstance(values[position], (dict, list)):
            values[position] = repr(values[position])
    return tuple(values)


def _readiness_shown(draft: Draft, book: rules.RuleBook, today: date | None = None) -> tuple[int, str, str]:
    """(percent, "2 errors" or "", "1 warning" or "") of `draft`, judged once per content.

    The rules read only the draft's own columns, the MLS's metadata and today's date (the latest
    year built allowed), so the figures are kept per metadata snapshot (a new version of the
    rules starts afresh) under the date and all of the columns.
    """
    snapshot = book.snapshot()
    known: dict[tuple, tuple[int, str, str]] = _FIXED_RULES_READINESS
    if snapshot is not None:
        known = snapshot.derived(("drafts.list_rows.readiness",), dict)
    key = (today or timezone.localdate(), *_stored_values(draft))  # a rule's bound moves with the year
    shown = known.get(key)
    if shown is None:
        percent, errors, warnings = rules.readiness(draft, book)
        errors_shown = severity_label(errors) if errors else ""
        shown = (percent, errors_shown, plural_warning(warnings) if warnings else "")
        if len(known) >= READINESS_CACHED:
            known.clear()
        known[key] = shown
    return shown


# The live sync badges of a page's drafts, in order. The sync engine sits above drafts and
# provides them at start-up (`MlsConfig.ready`), as it provides the layout and the parts' states;
# a page asks for all of its rows' at once (what every badge reads alike is read once).
SyncBadges = Callable[[list[Draft]], Sequence[str]]
_sync_badges_writer: list[SyncBadges] = []


def provide_sync_badges(writer: SyncBadges) -> None:
    _sync_badges_writer[:] = [writer]


def _sync_badges(drafts: list[Draft]) -> Sequence[str]:
    return _sync_badges_writer[0](drafts) if _sync_badges_writer else [""] * len(drafts)


def rows_html(rows: Iterable[ListRow], *, restore_token: str = "") -> SafeString:
    """The table's body: each row's memoized cells, its live sync badge and, in the trash (given
    the request's CSRF token), its restore form. Joined here rather than by the template's loop,
    which cost more per row than the memoized cells themselves."""
    rows = list(rows)
    badges = _sync_badges([row.draft for row in rows])
    return mark_safe(  # noqa: S308 - the cells and the badge are safe; the rest is escaped here
        "".join(
            f'\n      <tr id="draft-row-{int(row.draft.pk)}">\n        {row.cells}\n'
            f'        <td data-label="Sync" class="sync-cell">{badge}</td>'
            + (_restore_cell(row.draft.pk, restore_token) if restore_token else "")
            + "\n      </tr>"
            for row, badge in zip(rows, badges, strict=True)
        )
    )


def _restore_cell(pk: int, token: str) -> str:
    action = esc(pk_url("drafts:draft_restore", pk))
    return (
        f'\n        <td data-label="Actions">\n          <form method="post" action="{action}">'
        f'{csrf_input(token)}<button class="button small" type="submit">Restore</button>'
        "</form>\n        </td>"
    )


def options_html(choices: Iterable[tuple[Any, Any]], selected: str | None = None) -> SafeString:
    """A select's `<option>`s as the page's loops printed them, the one whose value is `selected`
    (the query string's, compared as text) marked selected: the filters' five menus were a
    third of the page's template work. Written once per menu and choice: the key is the choices
    themselves (a lazy label hashes and compares as its text in the active language, so another
    language is another entry; values compare by ==, so keep a menu's values of one type)."""
    shown = tuple(choices)
    try:
        return _options_html(shown, selected)
    except TypeError:  # a label or value that cannot be a key (a group's list of choices)
        return _options_html.__wrapped__(shown, selected)


# Menus kept per process: the fixed ones, and an agents' menu per office and choice.
MENUS_KEPT = 128


@lru_cache(maxsize=MENUS_KEPT)
def _options_html(choices: tuple[tuple[Any, Any], ...], selected: str | None) -> SafeString:
    options = []
    for value, label in choices:
        marked = " selected" if selected is not None and str(value) == selected else ""
        options.append(f'<option value="{esc(value)}"{marked}>{esc(label)}</option>')
    return mark_safe("".join(options))  # noqa: S308 - every value and label is escaped above


def list_rows(drafts: Iterable[Draft], *, viewer, in_trash: bool, spans_offices: bool) -> list[ListRow]:
    book = rules.RuleBook()  # the MLS's rules read once for the page
    page = PageSettings.now()
    viewer = RowViewer.of(viewer)
    rows = []
    for draft in drafts:
        percent, errors, warnings = _readiness_shown(draft, book, page.today)
        content = row_content(
            draft,
            percent=percent,
            errors=errors,
            warnings=warnings,
            viewer=viewer,
            in_trash=in_trash,
            spans_offices=spans_offices,
            page=page,
        )
        rows.append(ListRow(draft, row_cells(content)))
    return rows
