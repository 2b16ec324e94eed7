"""What a failure of the MLS means for the portal: worth another try or not, how long to wait,
and how to say it to people (in the remote's words plus ours)."""

from __future__ import annotations

import random
from typing import Any

from django.conf import settings

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
    return f"{type(error).__name__}: {error}"[:500]


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


def warnings_by_field(warnings: list[FieldError]) -> list[dict[str, Any]]:
    return [
        {
            "field": SPARK_TO_FIELD.get(item.field or "", ""),
            "spark_field": item.field or "",
            "message": item.message or "",
        }
        for item in warnings
    ]
