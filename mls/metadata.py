"""The MLS's own metadata, read and kept: its fields and their lists, property types, the entry
layout (field order), custom fields, room and unit fields, and listing rules
(docs/architecture.md#mls-metadata).

`refresh()` reads every service (beat, daily; or an office admin's button) and keeps one copy per
answer in `MlsMetadata`. Where Spark answers conditional GETs (standard fields, custom fields,
field order) it sends the validators it holds and a 304 leaves the copy untouched. A failed read
keeps the last copy and records why: without a reachable MLS the last copy serves.

The readers (`fields_for`, `property_types`, `room_fields`, `unit_fields`, `listing_rules`) read
only the database, never the MLS, and through `snapshot()`: each process keeps the copies parsed
(and what is built from them) while the metadata's version is the same, so a page costs one small
query for the version instead of reading and parsing every copy again.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.db import connections, router
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from spark.client import SparkClient
from spark.errors import SparkAuthError, SparkError
from spark.responses import SparkResult, Validators

from . import remote
from .failures import describe
from .models import MetadataService, MlsMetadata

logger = logging.getLogger(__name__)

STANDARD, CUSTOM = "StandardFields", "CustomFields"
# The key FieldList entries use for the property types a value applies to; the pages spell it
# with a space, some copies without.
APPLIES_TO_KEYS = ("Applies To", "AppliesTo")
NOT_READ_YET = "The MLS's field lists have not been read yet"

Read = Callable[[Validators | None], SparkResult]


# --- What the editor reads -------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class FieldSpec:
    """One field as the MLS defines it: `domain` is StandardFields or CustomFields;
    `custom_group` is the custom field's group (None for standard fields)."""

    name: str
    label: str
    type: str
    domain: str = STANDARD
    choices: tuple[Choice, ...] = ()
    multi_select: bool = False
    custom_group: str | None = None

    @property
    def has_list(self) -> bool:
        return bool(self.choices)


@dataclass(frozen=True)
class Section:
    """A group of the MLS's field order, its fields in order."""

    label: str
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class PropertyType:
    code: str
    name: str


class Copies:
    """Every copy of one MLS, read in one query."""

    def __init__(self, mls_id: str | None = None) -> None:
        self.mls_id = settings.SPARK_MLS_ID if mls_id is None else mls_id
        self._payloads: dict[tuple[str, str], Any] = {
            (row.service, row.key): in_key_order(row.payload, row.key_order)
            for row in MlsMetadata.objects.filter(mls_id=self.mls_id, payload__isnull=False)
        }

    def get(self, service: str, key: str = "") -> Any:
        return self._payloads.get((service, key))

    def results(self, service: str, key: str = "") -> list[Any]:
        payload = self.get(service, key)
        return payload if isinstance(payload, list) else []

    def keyed(self, service: str, key: str = "") -> dict[str, Any]:
        """The first result of a service answering one object keyed by field name."""
        first = next(iter(self.results(service, key)), None)
        return first if isinstance(first, dict) else {}

    def field_list(self, service: str, name: str, property_type: str) -> tuple[Choice, ...]:
        """The values of field `name` that apply to `property_type`, in the MLS's order."""
        described = self.keyed(service, name).get(name)
        entries = described.get("FieldList") if isinstance(described, dict) else None
        choices = []
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("Value") is None:
                continue
            applies = next((entry[key] for key in APPLIES_TO_KEYS if key in entry), None)
            if isinstance(applies, list) and property_type not in applies:
                continue
            value = str(entry["Value"])
            choices.append(Choice(value, str(entry.get("Name") or value).strip()))
        return tuple(choices)


def key_order_of(results: Any) -> list[list[str]]:
    """The keys of each result object, in the order the MLS sent them."""
    if not isinstance(results, list):
        return []
    return [list(item) if isinstance(item, dict) else [] for item in results]


def in_key_order(results: Any, order: Any) -> Any:
    """`results` with each object's keys back in the MLS's order (kept by `key_order_of`)."""
    if not isinstance(results, list) or not isinstance(order, list):
        return results
    ordered = []
    for index, item in enumerate(results):
        keys = order[index] if index < len(order) and isinstance(order[index], list) else []
        if isinstance(item, dict) and keys:
            rank = {key: position for position, key in enumerate(keys)}
            item = dict(sorted(item.items(), key=lambda pair: rank.get(pair[0], len(rank))))
        ordered.append(item)
    return ordered


def _custom_fields(copies: Copies) -> dict[str, tuple[str, dict[str, Any]]]:
    """Custom field name -> (its group, its description)."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for result in copies.results(MetadataService.CUSTOM_FIELDS):
        for group, body in result.items() if isinstance(result, dict) else []:
            fields = body.get("Fields") if isinstance(body, dict) else None
            for name, described in fields.items() if isinstance(fields, dict) else []:
                if isinstance(described, dict):
                    found[name] = (str(body.get("Label") or group), described)
    return found


def _field(copies: Copies, entry: dict[str, Any], property_type: str, custom: dict[str, Any]) -> FieldSpec:
    name = str(entry.get("Field") or "")
    domain = str(entry.get("Domain") or STANDARD)
    group: str | None = None
    if domain == CUSTOM:
        group, described = custom.get(name, (None, {}))
        choices = copies.field_list(MetadataService.CUSTOM_FIELD, name, property_type)
    else:
        described = copies.keyed(MetadataService.STANDARD_FIELDS).get(name) or {}
        choices = copies.field_list(MetadataService.STANDARD_FIELD, name, property_type)
    return FieldSpec(
        name=name,
        label=str(entry.get("Label") or described.get("Label") or name),
        type=str(described.get("Type") or entry.get("Type") or "Character"),
        domain=domain,
        choices=choices,
        multi_select=bool(described.get("MultiSelect")),
        custom_group=group,
    )


def _sections_for(copies: Copies, property_type: str) -> list[Section]:
    by_type = next(iter(copies.results(MetadataService.FIELD_ORDER)), None)
    groups = by_type.get(property_type) if isinstance(by_type, dict) else None
    custom = _custom_fields(copies)
    sections = []
    for group in groups if isinstance(groups, list) else []:
        for label, entries in group.items() if isinstance(group, dict) else []:
            fields = tuple(
                _field(copies, entry, property_type, custom)
                for entry in (entries if isinstance(entries, list) else [])
                if isinstance(entry, dict) and entry.get("Field")
            )
            sections.append(Section(str(label), fields))
    return sections


def _extra_fields_of(
    copies: Copies, service: MetadataService, one: MetadataService, property_type: str
) -> list[FieldSpec]:
    return [
        FieldSpec(
            name=name,
            label=str(described.get("Label") or name),
            type=str(described.get("Type") or "Character"),
            choices=copies.field_list(one, name, property_type),
            multi_select=bool(described.get("MultiSelect")),
        )
        for name, described in copies.keyed(service).items()
        if isinstance(described, dict) and property_type in (described.get("MlsVisible") or [])
    ]


class Snapshot:
    """The copies of one MLS at one version, parsed once, and what is derived from them (the
    sections of a property type, its rules, a caller's own `derived` values) built once.
    Shared by every request of the process while the version holds: callers must not change
    what it hands out."""

    def __init__(self, copies: Copies) -> None:
        self.copies = copies
        self._derived: dict[Any, Any] = {}

    def derived[T](self, key: Any, build: Callable[[], T]) -> T:
        """`build()` once per key for this version (the editor's layouts, the parsed rules)."""
        try:
            return cast(T, self._derived[key])
        except KeyError:
            value = self._derived[key] = build()
            return value

    def fields_for(self, property_type: str) -> list[Section]:
        return self.derived(("sections", property_type), lambda: _sections_for(self.copies, property_type))

    def listing_rules(self, property_type: str) -> list[dict[str, Any]]:
        return self.derived(
            ("rules", property_type),
            lambda: [
                rule
                for rule in self.copies.results(MetadataService.LISTING_RULES, property_type)
                if isinstance(rule, dict)
            ],
        )

    def property_types(self) -> list[PropertyType]:
        return self.derived(
            "property_types",
            lambda: [
                PropertyType(str(item["MlsCode"]), str(item.get("MlsName") or item["MlsCode"]))
                for item in self.copies.results(MetadataService.PROPERTY_TYPES)
                if isinstance(item, dict) and item.get("MlsCode")
            ],
        )

    def room_fields(self, property_type: str) -> list[FieldSpec]:
        return self.derived(
            ("rooms", property_type),
            lambda: _extra_fields_of(
                self.copies, MetadataService.ROOM_FIELDS, MetadataService.ROOM_FIELD, property_type
            ),
        )

    def unit_fields(self, property_type: str) -> list[FieldSpec]:
        return self.derived(
            ("units", property_type),
            lambda: _extra_fields_of(
                self.copies, MetadataService.UNIT_FIELDS, MetadataService.UNIT_FIELD, property_type
            ),
        )


# mls_id -> (version, its snapshot). A worker's refresh shows in the version the web processes
# read; a write in this process (a refresh, a test's rows) also forgets the snapshots at once.
_snapshots: dict[str, tuple[tuple[Any, ...], Snapshot]] = {}
_snapshots_lock = threading.Lock()


def _version(mls_id: str) -> tuple[Any, ...]:
    """Changes whenever a copy is added, removed or changes (`fetched_at` is set with every new
    payload): one aggregate over the few metadata rows, read on every editor, autosave and rules
    request, so its SQL is written once per database (building it through the ORM was ~2.3k
    Python calls a request). Only equality matters: the values come as the driver gives them."""
    connection = connections[router.db_for_read(MlsMetadata)]
    with connection.cursor() as cursor:
        cursor.execute(_version_sql(connection.alias), [mls_id])
        return tuple(cursor.fetchone())


@functools.cache
def _version_sql(alias: str) -> str:
    """The version's aggregate, as `MlsMetadata.objects.filter(mls_id=..., payload__isnull=False)
    .aggregate(Count("id"), Max("id"), Sum("id"), Max("fetched_at"), Max("checked_at"))` asks."""
    quote = connections[alias].ops.quote_name
    meta = MlsMetadata._meta
    table = quote(meta.db_table)
    column = {field.name: f"{table}.{quote(cast(str, field.column))}" for field in meta.concrete_fields}
    ids, mls_id, payload, fetched, checked = (
        column[name] for name in ("id", "mls_id", "payload", "fetched_at", "checked_at")
    )
    # Every name is the model's own, quoted; the one value is a parameter.
    return (
        f"SELECT COUNT({ids}), MAX({ids}), SUM({ids}), MAX({fetched}), MAX({checked}) "  # noqa: S608
        f"FROM {table} WHERE {mls_id} = %s AND {payload} IS NOT NULL"
    )


def snapshot(mls_id: str | None = None) -> Snapshot:
    """The MLS's copies as they are now: this process's parsed snapshot while its version holds."""
    mls_id = settings.SPARK_MLS_ID if mls_id is None else mls_id
    version = _version(mls_id)
    kept = _snapshots.get(mls_id)
    if kept is not None and kept[0] == version:
        return kept[1]
    fresh = Snapshot(Copies(mls_id))
    with _snapshots_lock:
        _snapshots[mls_id] = (version, fresh)
    return fresh


def forget_snapshots(**_: Any) -> None:
    with _snapshots_lock:
        _snapshots.clear()


post_save.connect(forget_snapshots, sender=MlsMetadata, dispatch_uid="mls-metadata-snapshots-save")
post_delete.connect(forget_snapshots, sender=MlsMetadata, dispatch_uid="mls-metadata-snapshots-delete")


def fields_for(property_type: str, *, mls_id: str | None = None) -> list[Section]:
    """The MLS's entry form for one property type: its sections in order, each field with its
    label, type, list (value, label) and whether several values may be chosen. Empty when the
    field order has not been read yet."""
    return snapshot(mls_id).fields_for(property_type)


def property_types(*, mls_id: str | None = None, copies: Copies | None = None) -> list[PropertyType]:
    if copies is None:
        return snapshot(mls_id).property_types()
    return Snapshot(copies).property_types()


def room_fields(property_type: str, *, mls_id: str | None = None) -> list[FieldSpec]:
    """The MLS's room fields for one property type (name, level, dimensions, features...)."""
    return snapshot(mls_id).room_fields(property_type)


def unit_fields(property_type: str, *, mls_id: str | None = None) -> list[FieldSpec]:
    return snapshot(mls_id).unit_fields(property_type)


def listing_rules(property_type: str, *, mls_id: str | None = None) -> list[dict[str, Any]]:
    return snapshot(mls_id).listing_rules(property_type)


# Read-back fields that are the MLS's bookkeeping, not the listing: left off its page.
BOOKKEEPING_FIELDS = frozenset(
    {
        "ListingKey",
        "MlsId",
        "ListAgentId",
        "ModificationTimestamp",
        "UnparsedFirstLineAddress",
        "UnparsedAddress",
    }
)
MASKED_VALUE = "********"


def readable_fields(
    fields: dict[str, Any], property_type: str, *, mls_id: str | None = None
) -> list[tuple[str, str]]:
    """A listing's read-back fields as people read them: (the MLS's label, the value, by its
    list name where the field has a list). Bookkeeping, masked and empty values are left out."""
    copies = snapshot(mls_id).copies
    described = copies.keyed(MetadataService.STANDARD_FIELDS)
    rows = []
    for name, value in fields.items():
        if name in BOOKKEEPING_FIELDS or value in (None, "", MASKED_VALUE) or isinstance(value, list | dict):
            continue
        about = described.get(name)
        label = str(about.get("Label") or name) if isinstance(about, dict) else name
        names = {
            choice.value: choice.label
            for choice in copies.field_list(MetadataService.STANDARD_FIELD, name, property_type)
        }
        if name == "PropertyType":
            names = {kind.code: kind.name for kind in property_types(copies=copies)}
        rows.append((label, names.get(str(value), str(value))))
    return rows


# --- Reading the MLS -------------------------------------------------------------------------

# Services Spark answers conditionally (docs/spark-protocol.md#conditional-requests).
CONDITIONAL = {
    MetadataService.STANDARD_FIELDS,
    MetadataService.STANDARD_FIELD,
    MetadataService.CUSTOM_FIELDS,
    MetadataService.CUSTOM_FIELD,
    MetadataService.FIELD_ORDER,
}


@dataclass
class RefreshReport:
    changed: int = 0
    unchanged: int = 0
    failed: list[str] = field(default_factory=list)


def plain_failure(error: SparkError) -> str:
    """Why a read failed, for an office admin."""
    if isinstance(error, SparkAuthError):
        return f"The MLS refused the portal's access key ({describe(error)})."
    if error.transient:
        return f"The MLS could not be reached or was busy ({describe(error)})."
    return f"The MLS refused the request ({describe(error)})."


class _Refresh:
    def __init__(self, mls_id: str, api: SparkClient) -> None:
        self.mls_id = mls_id
        self.api = api
        self.report = RefreshReport()

    def read(self, service: MetadataService, key: str, call: Read) -> None:
        row, _ = MlsMetadata.objects.get_or_create(mls_id=self.mls_id, service=service, key=key)
        validators = None
        if service in CONDITIONAL and row.is_read:
            validators = Validators(row.etag or None, row.last_modified or None) or None
        now = timezone.now()
        try:
            result = remote.read_with_retry(call, validators)
        except SparkError as error:
            row.failed_at, row.failure = now, plain_failure(error)
            row.save(update_fields=["failed_at", "failure"])
            self.report.failed.append(f"{row}: {row.failure}")
            logger.warning("MLS metadata %s %r: %s", service, key, describe(error))
            return
        row.checked_at = now
        if result.not_modified:
            row.save(update_fields=["checked_at"])
            self.report.unchanged += 1
            return
        # New validators are kept even for the same content: else every later check is a full read.
        row.etag = result.validators.etag or ""
        row.last_modified = result.validators.last_modified or ""
        if result.results == row.payload and key_order_of(result.results) == row.key_order:
            row.save(update_fields=["checked_at", "etag", "last_modified"])
            self.report.unchanged += 1
            return
        row.payload = result.results
        row.key_order = key_order_of(result.results)
        row.fetched_at = now
        row.save()
        self.report.changed += 1

    def read_each(
        self,
        service: MetadataService,
        keys: Iterable[str],
        call: Callable[[str, Validators | None], SparkResult],
    ) -> None:
        for key in keys:
            self.read(service, key, functools.partial(call, key))


def _list_fields(described: dict[str, Any]) -> Iterable[str]:
    return [name for name, body in described.items() if isinstance(body, dict) and body.get("HasList")]


def refresh(mls_id: str | None = None, *, api: SparkClient | None = None) -> RefreshReport:
    """Read every metadata service of the MLS and keep what changed. Lists of single fields are
    read for the fields the (new or last) copy marks `HasList`; rules for each property type."""
    mls_id = settings.SPARK_MLS_ID if mls_id is None else mls_id
    api = api or remote.client()
    mls = mls_id or None
    run = _Refresh(mls_id, api)
    run.read(MetadataService.STANDARD_FIELDS, "", lambda v: api.standard_fields(mls=mls, if_changed=v))
    run.read(MetadataService.PROPERTY_TYPES, "", lambda v: api.property_types(mls=mls))
    run.read(MetadataService.FIELD_ORDER, "", lambda v: api.field_order(mls=mls, if_changed=v))
    run.read(MetadataService.CUSTOM_FIELDS, "", lambda v: api.custom_fields(mls=mls, if_changed=v))
    run.read(MetadataService.ROOM_FIELDS, "", lambda v: api.room_fields(mls_id=mls))
    run.read(MetadataService.UNIT_FIELDS, "", lambda v: api.unit_fields(mls_id=mls))

    copies = Copies(mls_id)
    custom_lists = [name for name, (_group, body) in _custom_fields(copies).items() if body.get("HasList")]
    run.read_each(
        MetadataService.STANDARD_FIELD,
        _list_fields(copies.keyed(MetadataService.STANDARD_FIELDS)),
        lambda name, v: api.standard_field(name, if_changed=v),
    )
    run.read_each(
        MetadataService.CUSTOM_FIELD, custom_lists, lambda name, v: api.custom_field(name, if_changed=v)
    )
    run.read_each(
        MetadataService.ROOM_FIELD,
        _list_fields(copies.keyed(MetadataService.ROOM_FIELDS)),
        lambda name, v: api.room_field(name, mls_id=mls),
    )
    run.read_each(
        MetadataService.UNIT_FIELD,
        _list_fields(copies.keyed(MetadataService.UNIT_FIELDS)),
        lambda name, v: api.unit_field(name, mls_id=mls),
    )
    run.read_each(
        MetadataService.LISTING_RULES,
        [kind.code for kind in property_types(mls_id=mls_id)],
        lambda code, v: api.listing_rules(code),
    )
    logger.info(
        "MLS metadata refreshed: %d changed, %d unchanged, %d failed",
        run.report.changed,
        run.report.unchanged,
        len(run.report.failed),
    )
    return run.report


# --- What the office admin sees --------------------------------------------------------------


@dataclass(frozen=True)
class ListStatus:
    """One line of the "MLS lists" page: a service, or all single-field lists of one."""

    label: str
    count: int
    read: int
    fetched_at: datetime | None
    checked_at: datetime | None
    failures: tuple[str, ...]

    @property
    def never_read(self) -> bool:
        return self.read == 0


def status(*, mls_id: str | None = None) -> list[ListStatus]:
    """Where each kept list stands: when it last changed, when the MLS last answered, and the
    last failures in plain words. Empty on a new install that never tried."""
    mls_id = settings.SPARK_MLS_ID if mls_id is None else mls_id
    rows = MlsMetadata.objects.filter(mls_id=mls_id)
    by_service: dict[str, list[MlsMetadata]] = {}
    for row in rows.order_by("service", "key"):
        by_service.setdefault(row.service, []).append(row)
    lines = []
    for service in MetadataService:
        found = by_service.get(service.value, [])
        if not found:
            continue
        read = [row for row in found if row.is_read]
        fetched = [row.fetched_at for row in read if row.fetched_at]
        checked = [row.checked_at for row in found if row.checked_at]
        lines.append(
            ListStatus(
                label=service.label,
                count=len(found),
                read=len(read),
                fetched_at=max(fetched) if fetched else None,
                checked_at=min(checked) if len(checked) == len(found) else None,
                failures=tuple(
                    f"{row.key}: {row.failure}" if row.key else row.failure
                    for row in found
                    if row.last_try_failed
                ),
            )
        )
    return lines
