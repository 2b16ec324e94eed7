"""Pushing open houses of live listings to the listing's open-houses service.

`push_open_house(id)` claims the row for a while (`lease_until`), compares what must be pushed
(`change_seq`) with what the MLS confirmed (`confirmed_seq`) and makes the one call that closes
the gap: POST a new one, PUT an edit, DELETE a cancelled one (our reading of the service:
docs/spark-protocol.md#open-houses). Idempotent: a second push makes no call. A POST whose
answer was lost is settled before anything is sent again: once a late arrival can no longer
land, the listing's open houses are read and the one with the same Date and StartTime adopted.
Transient failures back off (the sweep picks them up); refusals wait for an edit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from spark.errors import SparkError, SparkNotFound

from . import enqueue
from .failures import backoff_seconds, is_transient
from .leased import settle_seconds
from .models import OpenHouse, OpenHouseState
from .remote import client

logger = logging.getLogger(__name__)

DATE_FORMAT = "%m/%d/%Y"
TIME_FORMAT = "%I:%M %p"
# The MLS's attribute -> what people call it on the form.
FIELD_WORDS = {"Date": "date", "StartTime": "start time", "EndTime": "end time", "Comments": "comments"}


def remote_body(open_house: OpenHouse) -> dict[str, Any]:
    return {
        "Date": open_house.date.strftime(DATE_FORMAT),
        "StartTime": open_house.start.strftime(TIME_FORMAT),
        "EndTime": open_house.end.strftime(TIME_FORMAT),
        "Comments": open_house.comments,
    }


def _date_key(value: Any) -> dt.date | None:
    for pattern in (DATE_FORMAT, "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(str(value).strip(), pattern).date()
        except ValueError:
            continue
    return None


def _time_key(value: Any) -> dt.time | None:
    for pattern in (TIME_FORMAT, "%I:%M%p", "%H:%M", "%H:%M:%S"):
        try:
            return dt.datetime.strptime(str(value).strip().upper(), pattern).time()
        except ValueError:
            continue
    return None


def _same_slot(record: dict[str, Any], body: dict[str, Any]) -> bool:
    start = _time_key(body.get("StartTime"))
    return (
        _date_key(record.get("Date")) == _date_key(body.get("Date"))
        and start is not None
        and _time_key(record.get("StartTime")) == start
    )


def refusal_message(error: SparkError) -> str:
    """The MLS's refusal in plain words naming the field (no status codes)."""
    named = [item for item in error.field_errors if item.field]
    if named:
        return " ".join(
            f"The MLS refused the {FIELD_WORDS.get(field, field)}: {item.message or 'not accepted'}."
            for item in named
            if (field := item.field or "")
        )
    return f"The MLS refused this open house: {error.message}."


class _Push:
    def __init__(self, open_house: OpenHouse) -> None:
        self.row = open_house
        self.seq = open_house.change_seq
        self.listing_id = open_house.draft.live_listing_id

    def save(self, **values: Any) -> None:
        OpenHouse.objects.filter(pk=self.row.pk).update(**values)
        for name, value in values.items():
            setattr(self.row, name, value)

    def run(self) -> str:
        row = self.row
        api = client()
        if row.sending_since is not None and not row.remote_id:
            settled_at = row.sending_since + dt.timedelta(seconds=settle_seconds())
            if timezone.now() < settled_at:
                self.save(next_attempt_at=settled_at)
                return "waiting"
            self._adopt_lost_create()
            if row.remote_id and not row.cancelled and row.sent_body == remote_body(row):
                self._confirm()  # the lost POST carried the open house as it is now
                return "adopted"
        if row.cancelled:
            if row.remote_id:
                # A 404: gone already (a delete whose answer was lost, or removed in the MLS).
                with contextlib.suppress(SparkNotFound):
                    api.delete_open_house(self.listing_id, row.remote_id)
            self._confirm(remote_id="")
            return "deleted"
        body = remote_body(row)
        if not row.remote_id:
            # Written before the POST: if its answer is lost, the next push looks before sending.
            self.save(sending_since=timezone.now(), sent_body=body)
            result = api.create_open_house(self.listing_id, body)
            if not result.resource_id:
                raise SparkError("The MLS created the open house but did not say its id.", transient=True)
            self._confirm(remote_id=result.resource_id)
            return "created"
        api.update_open_house(self.listing_id, row.remote_id, body)
        self._confirm()
        return "updated"

    def _adopt_lost_create(self) -> None:
        """The one the lost POST made, if the listing has it (never one another row holds)."""
        row = self.row
        taken = set(
            OpenHouse.objects.filter(draft_id=row.draft_id)
            .exclude(pk=row.pk)
            .exclude(remote_id="")
            .values_list("remote_id", flat=True)
        )
        found = [
            str(record["Id"])
            for record in client().list_open_houses(self.listing_id).results
            if isinstance(record, dict)
            and record.get("Id")
            and str(record["Id"]) not in taken
            and _same_slot(record, row.sent_body or {})
        ]
        self.save(remote_id=found[0] if found else "", sending_since=None)
        if found:
            logger.info("open house %s: adopted %s, which a lost answer created", row.pk, found[0])

    def _confirm(self, **values: Any) -> None:
        self.save(
            **values,
            confirmed_seq=self.seq,
            sending_since=None,
            state=OpenHouseState.SYNCED,
            attempts=0,
            next_attempt_at=None,
            failed_seq=None,
            error_message="",
        )

    def failed(self, error: BaseException) -> str:
        if self.row.sending_since is not None and not (isinstance(error, SparkError) and error.ambiguous):
            # The create was answered (or never left): nothing to look for before the next one.
            self.save(sending_since=None)
        if isinstance(error, SparkError) and not is_transient(error):
            self.save(state=OpenHouseState.FAILED, failed_seq=self.seq, error_message=refusal_message(error))
            return "failed"
        attempts = self.row.attempts + 1
        retry_after = error.retry_after if isinstance(error, SparkError) else None
        if attempts >= int(settings.SYNC_MAX_ATTEMPTS):
            self.save(
                state=OpenHouseState.FAILED,
                failed_seq=self.seq,
                attempts=attempts,
                next_attempt_at=None,
                error_message=(
                    f"The MLS did not answer after {attempts} tries. Change it or cancel it to try again."
                ),
            )
            return "failed"
        self.save(
            state=OpenHouseState.RETRYING,
            attempts=attempts,
            next_attempt_at=timezone.now() + dt.timedelta(seconds=backoff_seconds(attempts, retry_after)),
            error_message="The MLS did not answer; the portal tries again by itself.",
        )
        return "retry"


def push_open_house(open_house_id: int) -> str:
    """Make the one call that brings the MLS up to the open house. Idempotent; a second worker
    finds the claim taken and returns "busy"."""
    now = timezone.now()
    lease = dt.timedelta(seconds=max(float(settings.SYNC_LEASE_SECONDS), 60.0))
    claimed = (
        OpenHouse.objects.filter(pk=open_house_id)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + lease)
    )
    if not claimed:
        return "busy" if OpenHouse.objects.filter(pk=open_house_id).exists() else "gone"
    try:
        outcome = _push_once(open_house_id, timezone.now())
        # An edit made during the push rang while we held the claim: look again before leaving.
        for _round in range(4):
            if outcome not in ("created", "adopted", "updated", "deleted"):
                break
            again = _push_once(open_house_id, timezone.now())
            if again == "nothing":
                break
            outcome = again
        return outcome
    finally:
        OpenHouse.objects.filter(pk=open_house_id).update(lease_until=None)


def _push_once(open_house_id: int, now: dt.datetime) -> str:
    row = OpenHouse.objects.select_related("draft").get(pk=open_house_id)
    if row.confirmed_seq >= row.change_seq or not row.draft.live_listing_id:
        return "nothing"
    if row.state == OpenHouseState.FAILED and (row.failed_seq or 0) >= row.change_seq:
        return "failed"
    if row.next_attempt_at is not None and row.next_attempt_at > now:
        return "waiting"
    push = _Push(row)
    try:
        return push.run()
    except Exception as error:
        logger.warning("open house %s: push failed: %r", open_house_id, error)
        return push.failed(error)


def sweep(now: dt.datetime | None = None, *, limit: int = 200) -> int:
    """Queue every open house with an unconfirmed change no worker holds (lost messages, back-off
    that ran out); beat runs it with the drafts' sweep."""
    now = now or timezone.now()
    requeue_after = dt.timedelta(seconds=float(settings.SYNC_REQUEUE_AFTER_SECONDS))
    due = list(
        OpenHouse.objects.due(now)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - requeue_after))
        .values_list("pk", flat=True)[:limit]
    )
    queued: list[int] = []
    for pk in due:
        try:
            enqueue.publish_open_house(pk)
        except Exception:
            logger.warning("open houses sweep: the broker refused; %d wait", len(due) - len(queued))
            break
        queued.append(pk)
    if queued:
        OpenHouse.objects.filter(pk__in=queued).update(enqueued_at=now)
    return len(queued)
