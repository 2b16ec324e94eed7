"""What a failure of the MLS means for the portal: worth another try or not, how long to wait,
and how to say it to people (in the remote's words plus ours)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from drafts.fields import SPARK_TO_FIELD
from spark.errors import FieldError, SparkError, SparkTokenExpired


def is_transient(error: BaseException) -> bool:
    if isinstance(error, SparkError):
        # 1020 reaches us only when the client's one refresh did not help; a later attempt
        # (with the token another worker refreshed) may.
        return error.transient or error.ambiguous or isinstance(error, SparkTokenExpired)
    return True  # Redis, database, rate-limit wait, local I/O: all worth another try


def backoff_seconds(
    attempt: int, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))], never below Retry-After."""
    base = float(settings.SYNC_BACKOFF_BASE_SECONDS)
    cap = float(settings.SYNC_BACKOFF_CAP_SECONDS)
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    delay = (rng or random).uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return delay


def describe(error: BaseException) -> str:
    if isinstance(error, SparkError):
        parts = []
        if error.status is not None:
            parts.append(f"HTTP {error.status}")
        if error.code is not None:
            parts.append(f"code {error.code}")
        head = " ".join(parts)
        return f"{head}: {error.message}" if head else error.message
    return _in_the_portal(error)


def _in_the_portal(error: BaseException) -> str:
    """A failure on our side, said for the people who read the sync badge: what could not be
    done, not the exception (its type and text, paths and all, go to the log, where the push
    writes them)."""
    if isinstance(error, FileNotFoundError):
        return "the portal could not find one of this draft's photos or documents in its storage"
    if isinstance(error, OSError) and not isinstance(error, ConnectionError | TimeoutError):
        return "the portal could not read one of this draft's photos or documents"
    if isinstance(error, DatabaseError):
        return "the portal's database did not answer"
    if isinstance(error, ConnectionError | TimeoutError):
        return "the portal lost its connection to one of its own services"
    return "an unexpected error in the portal (the details are in its log)"


def field_details(error: BaseException) -> list[dict[str, Any]]:
    """The remote's refusals of single fields, next to the draft's field names."""
    if not isinstance(error, SparkError):
        return []
    details = []
    for item in error.field_errors:
        spark_field = item.field or ""
        local = SPARK_TO_FIELD.get(spark_field, "")
        remote_words = item.message or "refused"
        details.append(
            {
                "field": local,
                "spark_field": spark_field,
                "message": f"The MLS refused this value: {remote_words}",
                "remote_message": remote_words,
            }
        )
    return details


def refused_fields(error: BaseException) -> dict[str, list[str]]:
    """The remote's words for each field a refusal names, by Spark name (custom fields by their
    own name); {} when it names none."""
    if not isinstance(error, SparkError):
        return {}
    found: dict[str, list[str]] = {}
    for item in error.field_errors:
        if not item.field:
            continue
        words = (item.message or "").strip() or "not accepted"
        if words not in found.setdefault(item.field, []):
            found[item.field].append(words)
    return found


def accepted_refusals_cleared(
    refused: Mapping[str, list[str]] | None, refused_at: Any, accepted: Mapping[str, Any]
) -> dict[str, Any]:
    """The refusal left once the remote accepted the fields `accepted` (Spark names): theirs go
    (custom fields with ``CustomFields``), and a refusal that named no field goes with any."""
    left = {
        name: messages
        for name, messages in (refused or {}).items()
        if name not in accepted and not ("CustomFields" in accepted and name not in SPARK_TO_FIELD)
    }
    return {"refused_fields": left, "refused_at": refused_at if left else None}


CUSTOM_FIELDS = "custom_fields"


@dataclass(frozen=True)
class PlacedRefusals:
    """A refusal placed on the editor: `by_field` (draft field name -> the remote's messages),
    `elsewhere` ((Spark name, message) of fields the editor does not show), `labels` (a short
    name for each refused field, for badges), and whether the refusal named no field at all."""

    by_field: dict[str, list[str]] = field(default_factory=dict)
    elsewhere: list[tuple[str, str]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    unnamed: bool = False

    def __bool__(self) -> bool:
        return bool(self.by_field or self.elsewhere or self.unnamed)


def place_refusals(
    refused: Mapping[str, list[str]],
    custom_fields: Mapping[str, Any],
    label_of: Callable[[str], str] = str,
    shown: Mapping[str, tuple[str, str]] | None = None,
) -> PlacedRefusals:
    """Map a refusal's Spark names to the draft's fields: standard ones through SPARK_TO_FIELD,
    custom fields (the whole ``CustomFields`` or one by its name) to the custom fields table.
    `label_of` names a draft field for people.

    `shown` is the editor's layout when the MLS lays it out (Spark name -> (editor key, label)):
    a field it shows gets its message there; one it does not show is listed at the top."""
    if not refused:
        return PlacedRefusals(unnamed=True)
    if shown is not None:
        return _place_on_layout(refused, shown)
    custom_names = {
        str(name) for values in custom_fields.values() if isinstance(values, Mapping) for name in values
    }
    by_field: dict[str, list[str]] = {}
    elsewhere: list[tuple[str, str]] = []
    labels: list[str] = []
    for spark_name, messages in refused.items():
        local = SPARK_TO_FIELD.get(spark_name, "")
        if local:
            by_field.setdefault(local, []).extend(messages)
            labels.append(label_of(local))
        elif spark_name == "CustomFields":
            by_field.setdefault(CUSTOM_FIELDS, []).extend(messages)
            labels.append(label_of(CUSTOM_FIELDS))
        elif spark_name in custom_names:
            by_field.setdefault(CUSTOM_FIELDS, []).extend(f"{spark_name}: {m}" for m in messages)
            labels.append(spark_name)
        else:
            elsewhere.extend((spark_name, m) for m in messages)
            labels.append(spark_name)
    return PlacedRefusals(by_field, elsewhere, labels)


def _place_on_layout(
    refused: Mapping[str, list[str]], shown: Mapping[str, tuple[str, str]]
) -> PlacedRefusals:
    by_field: dict[str, list[str]] = {}
    elsewhere: list[tuple[str, str]] = []
    labels: list[str] = []
    for spark_name, messages in refused.items():
        if spark_name in shown:
            key, label = shown[spark_name]
            by_field.setdefault(key, []).extend(messages)
            labels.append(label)
        else:
            elsewhere.extend((spark_name, message) for message in messages)
            labels.append(spark_name)
    return PlacedRefusals(by_field, elsewhere, labels)


def warnings_by_field(warnings: list[FieldError]) -> list[dict[str, Any]]:
    return [
        {
            "field": SPARK_TO_FIELD.get(item.field or "", ""),
            "spark_field": item.field or "",
            "message": item.message or "",
        }
        for item in warnings
    ]
