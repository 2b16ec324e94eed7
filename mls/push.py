"""The push: reconcile one draft with the remote MLS.

`push_draft(draft_id)` claims the draft (mls/leased.py), reads the draft and the mirror of
the remote (mls/state.py), asks the planner for the calls that close the gap, makes them,
records each confirmed one at once, and repeats until the plan is empty; then it marks
`change_seq` confirmed. Idempotent: a second push makes no call. Failures are transient
(back-off), permanent (shown on the draft until it changes) or ambiguous (looked for in the
remote before anything is sent again): docs/decisions.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import logging
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, router, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from drafts.models import Draft, DraftEvent
from listings_portal.compiled_write import run_update
from spark.client import ListingRef
from spark.errors import SparkError, SparkRateLimited

from . import enqueue, planner, reads
from .drift import LISTING_GONE, apply_drift_decision
from .failures import backoff_seconds, describe, field_details, is_transient, refused_fields
from .leased import LeaseLost, once_the_database_is_back, settle_seconds
from .models import (
    HELD_STATES,
    PROMOTION_OWNED,
    DraftSync,
    DraftSyncQuerySet,
    RemoteItem,
    RemotePart,
    SyncState,
)
from .operations import ListingGone, NeedsAttention, NotYet, PushCalls, PushContext, item_noun
from .part_operations import PartNotYet
from .part_records import refusal_words
from .remote import (
    hold_every_worker,
)
from .state import (
    edits_fingerprint,
    local_state,
    mirror_state,
    timing,
)

logger = logging.getLogger(__name__)


SHORT_WAIT_SECONDS = 3.0


class Outcome(enum.StrEnum):
    SYNCED = "synced"
    NOTHING = "nothing"  # nothing to push
    BUSY = "busy"  # another worker holds the draft
    WAITING = "waiting"  # come back later (settling, read-back due)
    RETRY = "retry"  # transient failure, back-off set
    FAILED = "failed"  # refused by the remote; waits for an edit or a retry
    ATTENTION = "attention"
    PAUSED = "paused"  # drift or attention: waits for a person
    REQUEUED = "requeued"  # time budget spent; queued again
    GONE = "gone"  # no such draft, or in the trash


# Idempotent writes whose late arrival could undo a newer one: read the remote back after them.
# (Creates and uploads carry their own markers; a late item delete repeats a delete. A lost
# listing delete is sent again while the draft is in the trash; restored meanwhile, the
# read-back tells whether the listing is still there.)
VERIFY_AFTER_AMBIGUOUS = (
    planner.DeleteListing,
    planner.UpdateFields,
    planner.Reorder,
    planner.UpdatePhoto,
    planner.SetPrimary,
    planner.RenameDocument,
    planner.SetPrivacy,
    planner.UpdatePart,
    planner.ReorderParts,
)

# Ops about one record of a listing part: a refusal is kept on that record.
PART_OPS = (planner.CreatePart, planner.UpdatePart, planner.ReadPartGroup, planner.DeletePart)


class _Stop(Exception):
    """A refusal ended the push; it is already recorded."""


# What every edit of a draft changes, then what the push itself writes on it.
_DRAFT_EDITS = ("change_seq", "version", "status", "deleted_at")


_DRAFT_HEAD = (*_DRAFT_EDITS, "remote_id", "remote_resource_uri", "remote_modified_at")


# What a row says once nothing is wrong (no attempts, no back-off, no error to show).
NO_ERROR: dict[str, Any] = {
    "attempts": 0,
    "next_attempt_at": None,
    "blocked_seq": None,
    "error_message": "",
    "error_status": None,
    "error_code": None,
    "error_details": [],
    "error_at": None,
}


# Every field the remote confirmed: no refusal of them is left to show.
NO_REFUSAL: dict[str, Any] = {"refused_fields": {}, "refused_at": None}


# What the finish's UPDATE is compiled with (`_synced_release`), never written.
_FINISH_STAND_INS: dict[str, Any] = {
    "draft": -2_000_000_401,
    "owner": "stand-in owner of a compiled finish",
    "seq": 2_000_000_402,
    "now": dt.datetime(1901, 1, 1, 0, 0, 4, 403, tzinfo=dt.UTC),
}


def _synced_release(values: Mapping[str, Any]) -> tuple[QuerySet[DraftSync], dict[str, Any]]:
    """The release of a draft the remote confirmed up to `values["seq"]`, if we still hold it."""
    held = DraftSync.objects.filter(pk=values["draft"], lease_owner=values["owner"])
    return held, {
        "lease_owner": "",
        "lease_expires_at": None,
        "state": SyncState.SYNCED,
        "confirmed_seq": values["seq"],
        **NO_ERROR,
        **NO_REFUSAL,
        "last_synced_at": values["now"],
    }


class Pusher(PushCalls):
    """One claim of one draft: the loop of plan, call, record."""

    def run(self, *, has_work: bool | None = None) -> Outcome:
        """`has_work`: what `needs_push` answered just before (saves asking again)."""
        with self.as_current():
            for _round in range(5):
                outcome = self._run_once(has_work)
                has_work = None
                # An edit committed while we were finishing rang a doorbell we answered
                # "busy": look again now that the claim is released (every edit moves
                # `change_seq` past what we just confirmed).
                if outcome is not Outcome.SYNCED or not self._edited_since_confirmed():
                    return outcome
            return outcome

    def _edited_since_confirmed(self) -> bool:
        return bool(
            reads.values_of("edited since", Draft, _edited_since, draft=self.draft_id, seq=self.seq or 0)
        )

    def _run_once(self, has_work: bool | None = None) -> Outcome:
        if not (has_work if has_work is not None else needs_push(self.draft_id)):
            return Outcome.NOTHING
        if not self.claim():
            return Outcome.NOTHING if _promotion_owns(self.draft_id) else Outcome.BUSY
        try:
            return self._loop()
        except LeaseLost:
            logger.warning("draft %s: lost the lease mid-push; another worker continues", self.draft_id)
            return Outcome.BUSY
        except _Stop:
            return Outcome.FAILED
        except NeedsAttention as problem:
            self._finish_attention(str(problem))
            return Outcome.ATTENTION
        except ListingGone:
            self._finish_gone()
            return Outcome.PAUSED
        except NotYet as wait:
            self._finish_waiting(wait.until, wait.reason)
            return Outcome.WAITING
        except PartNotYet as wait:
            self._finish_waiting(wait.until, str(wait))
            return Outcome.WAITING
        except BaseException as error:
            if not isinstance(error, Exception):
                self.release()
                raise
            logger.warning(
                "draft %s: push failed: %r", self.draft_id, error, exc_info=not isinstance(error, SparkError)
            )
            # The database may have gone away mid-push (a restart, a failover: then `error` is
            # that, or our connection died meanwhile): record the retry on a fresh connection
            # once it is back, rather than leave the claim held until its lease expires.
            return once_the_database_is_back(functools.partial(self._finish_transient, error))
        finally:
            self.flush_calls()
            if self.held:
                once_the_database_is_back(self.release)

    def _loop(self) -> Outcome:
        deadline = time.monotonic() + self.budget
        replans = 0
        local: planner.LocalState | None = None
        draft: Draft | None = None
        rows: list[RemoteItem] = []
        self.created_now = False
        while True:
            if time.monotonic() > deadline or replans > 2000:
                self._finish_requeue()
                return Outcome.REQUEUED
            replans += 1
            self.renew_lease()
            if self.created_now and draft is not None and local is not None:
                # The pass that created the listing wrote all it changed into `draft` and
                # `self.row` too, and a create touches no mirror row: plan its uploads from
                # there. (An edit made meanwhile is read by the next pass, as always.)
                self.created_now = False
                sync = self.row
            else:
                draft = self._read_draft(draft)
                if draft is None:
                    self.release(state=SyncState.PENDING)
                    return Outcome.GONE
                if draft.status in PROMOTION_OWNED:
                    # Publishing began since the claim: the promotion job owns the remote now.
                    self.release(state=SyncState.PENDING)
                    return Outcome.NOTHING
                local = local_state(draft, local)
                self.seq = local.seq
                sync = self.row = reads.sync_row(self.draft_id)
                if sync.drift_decision:
                    apply_drift_decision(self, draft, sync)
                    local = None  # accepting the remote version rewrites the draft's media
                    continue
                if not local.trashed:
                    self._note_changes(sync, local)
                rows = reads.mirror_items(self.draft_id)
                self.items = {(row.kind, row.local_id): row for row in rows if row.local_id is not None}
            mirror = mirror_state(draft, sync, rows)
            now = timezone.now()
            the_plan = planner.plan(local, mirror, timing(now))
            if not the_plan.ops:
                if the_plan.wait_until is not None:
                    delay = (the_plan.wait_until - now).total_seconds()
                    # Edits held for a burst release the draft rather than sleep on it: a busy
                    # office's autosaves would keep every worker process asleep. (A save meanwhile
                    # waits for the queued push, which sees it and holds again while it settles.)
                    short = delay <= SHORT_WAIT_SECONDS and not the_plan.edits_held
                    if short and time.monotonic() + delay < deadline:
                        time.sleep(max(0.05, min(delay, 0.5)))
                        continue
                    self._finish_waiting(the_plan.wait_until, "")
                    return Outcome.WAITING
                if the_plan.blocked:
                    self._finish_blocked(local.seq, the_plan.blocked)
                    return Outcome.FAILED
                if local.trashed:
                    self._finish_removed()
                    return Outcome.GONE
                self._finish_synced(local)
                return Outcome.SYNCED
            context = PushContext(
                local.seq, ListingRef.for_incomplete(draft.remote_id) if draft.remote_id else None
            )
            try:
                self._run_plan(the_plan, draft, context)
            except BaseException:
                self.uploads.settle(after_error=True)
                raise
            self.uploads.settle()

    def _run_plan(self, the_plan: planner.Plan, draft: Draft, context: PushContext) -> None:
        for index, op in enumerate(the_plan.ops):
            context.upcoming = the_plan.ops[index + 1 :]
            try:
                self._execute(op, draft, context)
            except SparkError as error:
                if error.ambiguous and isinstance(op, VERIFY_AFTER_AMBIGUOUS):
                    self.verify_needed = True
                if is_transient(error):
                    raise
                self.uploads.settle()
                self._record_refusal(op, error, context)
                return
            self.progressed = True
            if op.replan_after:
                return

    def _read_draft(self, known: Draft | None) -> Draft | None:
        """The draft for this pass. Every edit bumps its `version` or `change_seq` (a status
        change, the trash too), so while those read as before, the instance `known` is still
        the draft: reuse it, with the remote id (which the push itself writes) read afresh. A
        narrow read instead of the whole row and its agent, on every pass after the first."""
        if known is not None:
            found = reads.values_of("draft head", Draft, _draft_head, draft=self.draft_id)
            if not found:
                return None
            head = found[0]
            if head[: len(_DRAFT_EDITS)] == tuple(getattr(known, name) for name in _DRAFT_EDITS):
                for name, value in zip(_DRAFT_HEAD, head, strict=True):
                    setattr(known, name, value)
                return known
        return reads.draft_with_agent(self.draft_id)

    def _note_changes(self, sync: DraftSync, local: planner.LocalState) -> None:
        """Remember when the local order, and the draft's fields or media records, last changed:
        reorders and edits are coalesced on them (planner `Timing`). One statement for both."""
        now = timezone.now()
        updates = {**_order_seen(sync, local, now), **_edits_seen(sync, local, now)}
        if updates:
            DraftSync.objects.filter(pk=self.draft_id, lease_owner=self.owner).update(**updates)
            for name, value in updates.items():
                setattr(sync, name, value)

    # -- endings --
    def _finish_synced(self, local: planner.LocalState) -> None:
        now = timezone.now()
        seq = local.seq
        # Remote ids not yet copied onto the media rows (an upload run a crash cut short).
        stale = {
            (item.kind, item.local_id): row.remote_id
            for item in (*local.photos, *local.documents)
            if (row := self.items.get((item.kind, item.local_id))) is not None
            and row.remote_id
            and self.uploads.copied.get((item.kind, item.local_id), item.remote_copy) != row.remote_id
        }
        finish = {"draft": self.draft_id, "owner": self.owner, "seq": seq, "now": now}
        # One UPDATE is atomic by itself: a transaction only when the copies go with it (two
        # round trips fewer on every push that had none left to copy).
        with transaction.atomic() if stale else contextlib.nullcontext():
            if stale:
                self.uploads.write_copies(stale)
            run_update(
                "mls.push finish synced",
                router.db_for_write(DraftSync),
                _synced_release,
                _FINISH_STAND_INS,
                finish,
            )
        self.held = False

    def _finish_removed(self) -> None:
        """A trashed draft with nothing in the MLS. `confirmed_seq` stays 0 (set with the
        delete): restoring the draft makes it due, and the push creates it afresh."""
        self.release(
            state=SyncState.SYNCED,
            **NO_ERROR,
        )

    def _finish_gone(self) -> None:
        now = timezone.now()
        self.release(
            state=SyncState.DRIFT,
            drift_detected_at=now,
            drift_remote={"listing": LISTING_GONE},
            remote_checked_at=now,
            # The read-back was of the listing that is gone.
            verify_after=None,
            next_attempt_at=None,
        )
        self.record_event(f"{LISTING_GONE} The portal waits for a decision")

    def _finish_blocked(self, seq: int, blocked: tuple[str, ...]) -> None:
        sync = DraftSync.objects.get(pk=self.draft_id)
        values: dict[str, Any] = {
            "state": SyncState.FAILED,
            "blocked_seq": seq,
            "attempts": 0,
            "next_attempt_at": None,
        }
        # Keep a refusal of the listing or its fields; else name the first refused item (an
        # older "will retry" message must not linger on a refused draft).
        if not sync.error_message.startswith("The MLS refused"):
            refused = RemoteItem.objects.filter(draft_id=self.draft_id, failed_seq__gte=seq).exclude(
                error_message=""
            )
            first = refused.first()
            part = (
                RemotePart.objects.filter(draft_id=self.draft_id, failed_seq__gte=seq)
                .exclude(error_message="")
                .first()
            )
            if first is not None:
                values["error_message"] = f"The MLS refused {item_noun(first)}: {first.error_message}"
            elif part is not None:
                # The part's message names it: "Room 2 (Kitchen): Room Level is not one of ...".
                values["error_message"] = f"The MLS refused {part.error_message}"
            else:
                values["error_message"] = "The MLS refused a change"
            refusal = first or part
            values["error_code"] = refusal.error_code if refusal is not None else None
            values["error_at"] = timezone.now()
        self.release(**values)

    def _finish_waiting(self, until: dt.datetime, reason: str) -> None:
        self.release(state=SyncState.PENDING, next_attempt_at=until)
        _requeue_at(self.draft_id, until)

    def _finish_requeue(self) -> None:
        self.release(state=SyncState.PENDING, next_attempt_at=None)
        _requeue_at(self.draft_id, timezone.now())

    def _finish_attention(self, reason: str) -> None:
        self.release(
            state=SyncState.ATTENTION,
            error_message=reason[:2000],
            error_at=timezone.now(),
            next_attempt_at=None,
        )
        self.record_event(f"Sync needs attention: {reason}")

    def _finish_transient(self, error: BaseException) -> Outcome:
        sync = DraftSync.objects.filter(pk=self.draft_id).first()
        if sync is None or not self.held:
            return Outcome.BUSY
        attempts = 0 if self.progressed else sync.attempts
        attempts += 1
        retry_after = error.retry_after if isinstance(error, SparkError) else None
        message = describe(error)
        details = field_details(error)
        now = timezone.now()
        if isinstance(error, SparkRateLimited):
            hold_every_worker(error, backoff_seconds(1))
        if self.verify_needed:
            # A late answer could still land: read the remote back once it no longer can.
            settle_at = now + dt.timedelta(seconds=settle_seconds())
            verify_after = max(sync.verify_after, settle_at) if sync.verify_after else settle_at
            DraftSync.objects.filter(pk=self.draft_id).update(verify_after=verify_after)
        self.annotate_last_call(message)
        max_attempts = int(settings.SYNC_MAX_ATTEMPTS)
        if attempts >= max_attempts:
            self.release(
                state=SyncState.ATTENTION,
                attempts=attempts,
                next_attempt_at=None,
                error_message=f"Gave up after {attempts} attempts. Last error: {message}"[:2000],
                error_status=getattr(error, "status", None),
                error_code=getattr(error, "code", None),
                error_details=details,
                error_at=now,
            )
            self.record_event(f"Sync gave up after {attempts} attempts: {message}")
            return Outcome.ATTENTION
        delay = backoff_seconds(attempts, retry_after)
        when = now + dt.timedelta(seconds=delay)
        self.release(
            state=SyncState.RETRYING,
            attempts=attempts,
            next_attempt_at=when,
            error_message=f"Will retry: {message}"[:2000],
            error_status=getattr(error, "status", None),
            error_code=getattr(error, "code", None),
            error_details=details,
            error_at=now,
        )
        _requeue_at(self.draft_id, when)
        return Outcome.RETRY

    def _record_refusal(self, op: planner.Op, error: SparkError, context: PushContext) -> None:
        """A permanent refusal: keep it next to what it is about; do not send it again until
        the draft changes (or a person asks to retry)."""
        message = describe(error)
        self.annotate_last_call(message)
        now = timezone.now()
        seq = context.seq
        local_id = getattr(op, "local_id", None)
        kind = getattr(op, "kind", None)
        if isinstance(op, PART_OPS):
            self._record_part_refusal(op, error, seq)
            return
        if isinstance(op, planner.Delete) and local_id is None:
            # A duplicate the remote will not let us delete: keep it out of the way, shown.
            with self.recording():
                RemoteItem.objects.filter(draft_id=self.draft_id, kind=kind, remote_id=op.remote_id).update(
                    failed_seq=seq, error_message=error.message[:2000], error_code=error.code, error_at=now
                )
            return
        if kind is not None and local_id is not None:
            with self.recording():
                RemoteItem.objects.filter(draft_id=self.draft_id, kind=kind, local_id=local_id).update(
                    failed_seq=seq,
                    error_message=error.message[:2000],
                    error_code=error.code,
                    error_at=now,
                    sending=False,
                )
            return
        values: dict[str, Any] = {
            "error_message": _refusal_text(op, error),
            "error_status": error.status,
            "error_code": error.code,
            "error_details": field_details(error),
            "error_at": now,
        }
        if isinstance(op, planner.CreateListing | planner.UpdateFields):
            values["fields_failed_seq"] = seq
            # Kept past the next edit, until a push of the fields is accepted (operations.py).
            values["refused_fields"] = refused_fields(error)
            values["refused_at"] = now
            with self.recording():
                DraftSync.objects.filter(pk=self.draft_id).update(**values)
            self.record_event(values["error_message"])
            return
        # Anything else refused (a reorder, reading the remote): the draft waits for a person
        # or an edit; nothing more is sent now.
        with self.recording():
            DraftSync.objects.filter(pk=self.draft_id).update(**values)
        self._finish_blocked(seq, ("draft",))
        self.record_event(values["error_message"])
        raise _Stop

    def _record_part_refusal(
        self,
        op: planner.CreatePart | planner.UpdatePart | planner.ReadPartGroup | planner.DeletePart,
        error: SparkError,
        seq: int,
    ) -> None:
        """Kept on the part's record, named as people know the part; other parts and kinds
        go on."""
        label = getattr(op, "label", "") or f"{op.kind} {op.local_id}"
        words = refusal_words(error.message, [item.message or "" for item in error.field_errors])
        values: dict[str, Any] = {
            "failed_seq": seq,
            "error_message": f"{label}: {words}"[:2000],
            "error_code": error.code,
            "error_at": timezone.now(),
            "sending": False,
        }
        with self.recording():
            if isinstance(op, planner.DeletePart) and op.local_id is None:
                # A copy the remote will not let us delete: kept out of the way, shown.
                copies = RemotePart.objects.filter(draft_id=self.draft_id, kind=op.kind)
                copies.filter(remote_id=op.remote_id).update(**values)
            else:
                RemotePart.objects.update_or_create(
                    draft_id=self.draft_id,
                    kind=op.kind,
                    local_id=op.local_id,
                    variant=op.variant,
                    defaults={**values, "label": label[:200]},
                )

    # -- the calls --


def _edited_since(draft: int, seq: int) -> QuerySet[Draft, tuple[Any, ...]]:
    return Draft.objects.filter(pk=draft, change_seq__gt=seq).values_list("pk")[:1]


def _draft_head(draft: int) -> QuerySet[Draft, tuple[Any, ...]]:
    return Draft.objects.filter(pk=draft).values_list(*_DRAFT_HEAD)[:1]


# What `needs_push` judges by: the sync row and the draft's head.
_WORK_ROW = (
    "confirmed_seq",
    "verify_after",
    "state",
    "blocked_seq",
    "create_sent_at",
    "draft__change_seq",
    "draft__deleted_at",
    "draft__status",
    "draft__remote_id",
)


def _work_row(draft: int) -> QuerySet[DraftSync, tuple[Any, ...]]:
    return DraftSync.objects.filter(pk=draft).values_list(*_WORK_ROW)[:1]


def _order_seen(sync: DraftSync, local: planner.LocalState, now: dt.datetime) -> dict[str, Any]:
    """What to write on `sync` when the local order of photos or documents changed."""
    updates: dict[str, Any] = {}
    for kind, seen_field in (
        (planner.PHOTO, "photo_order_seen"),
        (planner.DOCUMENT, "document_order_seen"),
    ):
        ids = [item.local_id for item in local.items(kind)]
        if ids != (getattr(sync, seen_field) or []):
            updates[seen_field] = ids
            updates[f"{seen_field}_at"] = now
    return updates


def _edits_seen(sync: DraftSync, local: planner.LocalState, now: dt.datetime) -> dict[str, Any]:
    """What to write on `sync` when the draft's fields or media records changed."""
    seen = edits_fingerprint(local)
    return {} if seen == sync.edits_seen else {"edits_seen": seen, "edits_seen_at": now}


def work_row(draft_id: int) -> Mapping[str, Any] | None:
    found = reads.values_of("work row", DraftSync, _work_row, draft=draft_id)
    return dict(zip(_WORK_ROW, found[0], strict=True)) if found else None


def needs_push(draft_id: int, row: Mapping[str, Any] | None = None) -> bool:
    """Whether a push has anything to do (`row`: a `work_row` just read, else read now)."""
    if row is None:
        row = work_row(draft_id)
    if row is None:
        return (
            Draft.objects.filter(pk=draft_id, deleted_at__isnull=True)
            .exclude(status__in=PROMOTION_OWNED)
            .exists()
        )
    if row["draft__status"] in PROMOTION_OWNED or row["state"] in HELD_STATES:
        return False
    seq = row["draft__change_seq"]
    if row["state"] == SyncState.FAILED and row["blocked_seq"] is not None and row["blocked_seq"] >= seq:
        return False
    if row["draft__deleted_at"] is not None:
        # In the trash: work only while a remote listing (or a create that may have made one) is left.
        return bool(row["draft__remote_id"]) or row["create_sent_at"] is not None
    return seq > row["confirmed_seq"] or row["verify_after"] is not None


def _promotion_owns(draft_id: int) -> bool:
    return Draft.objects.filter(pk=draft_id, status__in=PROMOTION_OWNED).exists()


def removal_due(now: dt.datetime | None = None) -> DraftSyncQuerySet:
    """Trashed drafts whose remote listing is still to delete (DraftSync.objects.due() leaves
    the trash out), under the same holds, leases and back-off as `due()`."""
    now = now or timezone.now()
    return (
        DraftSync.objects.filter(draft__deleted_at__isnull=False)
        .filter(~Q(draft__remote_id="") | Q(create_sent_at__isnull=False))
        .exclude(state__in=HELD_STATES)
        .exclude(state=SyncState.FAILED, blocked_seq__gte=F("draft__change_seq"))
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    )


def due_for_sweep(now: dt.datetime | None = None) -> DraftSyncQuerySet:
    """What the sweep queues: `due()` plus trashed drafts still in the MLS, never a draft the
    promotion job owns."""
    now = now or timezone.now()
    return (DraftSync.objects.due(now) | removal_due(now)).exclude(draft__status__in=PROMOTION_OWNED)


def _requeue_at(draft_id: int, when: dt.datetime) -> None:
    """Ring again at `when` if that is soon; later ones are the sweep's job (no long countdowns)."""
    delay = (when - timezone.now()).total_seconds()
    if delay > enqueue.MAX_BROKER_COUNTDOWN:
        return
    enqueue.publish_from_worker(draft_id, countdown=max(0.0, delay))


def _refusal_text(op: planner.Op, error: SparkError) -> str:
    what = {
        planner.CreateListing: "creating this draft",
        planner.DeleteListing: "removing this draft (in the trash) from the MLS",
        planner.UpdateFields: "the changed fields",
        planner.Reorder: "the new order",
        planner.FindListing: "looking up this draft",
        planner.Verify: "reading this draft back",
        planner.ReconcileItems: "reading the photos or documents",
        planner.ReconcileParts: "reading the rooms, units, tours or videos",
        planner.ReorderParts: "the new order of the rooms, units, tours or videos",
    }.get(type(op), "a change")
    # People read this (lists, badges): the remote's words, not its status and code, which
    # stay in error_status/error_code and the call log.
    return f"The MLS refused {what}: {error.message}"[:2000]


def push_draft(draft_id: int, *, budget: float | None = None) -> Outcome:
    """Reconcile draft `draft_id` with the remote. Idempotent; safe under duplicate delivery:
    a second worker finds the claim taken and returns BUSY (the holder loops until done)."""
    row = work_row(draft_id)
    if row is None:
        # The draft's first push (or it is gone).
        try:
            DraftSync.ensure(draft_id)
        except IntegrityError:
            return Outcome.GONE
        row = work_row(draft_id)
        if row is None:
            return Outcome.GONE
    has_work = needs_push(draft_id, row)
    if row["draft__deleted_at"] is not None and not has_work:
        return Outcome.GONE
    return Pusher(draft_id, budget=budget).run(has_work=has_work)


def sweep(now: dt.datetime | None = None, *, limit: int = 500) -> int:
    """Queue every draft that needs a push and that no live worker holds; release dead claims.

    Runs from Celery beat every few seconds: it finds what a lost message, a dead worker or a
    broker outage left behind (at-least-once), and what back-off made wait.
    """
    now = now or timezone.now()
    missing = list(Draft.objects.active().filter(sync__isnull=True).values_list("pk", flat=True)[:1000])
    if missing:
        DraftSync.objects.bulk_create([DraftSync(draft_id=pk) for pk in missing], ignore_conflicts=True)
    DraftSync.objects.filter(lease_expires_at__lt=now).exclude(lease_owner="").update(
        lease_owner="", lease_expires_at=None, state=SyncState.PENDING
    )
    requeue_after = dt.timedelta(seconds=float(settings.SYNC_REQUEUE_AFTER_SECONDS))
    due = list(
        due_for_sweep(now)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - requeue_after))
        .order_by(F("next_attempt_at").asc(nulls_first=True))
        .values_list("draft_id", flat=True)[:limit]
    )
    published: list[int] = []
    for draft_id in due:
        try:
            enqueue.publish_from_worker(draft_id, countdown=0, mark=False)
        except Exception:
            logger.warning(
                "sweep: the broker refused; %d drafts wait for the next sweep", len(due) - len(published)
            )
            break
        published.append(draft_id)
    if published:
        DraftSync.objects.filter(pk__in=published).update(enqueued_at=now)
    return len(published)


def request_retry(draft: Draft, *, by: User) -> bool:
    """A person asks to try again: re-queue once (a second click while pending does nothing)."""
    cleared = dict(state=SyncState.PENDING, fields_failed_seq=None, enqueued_at=timezone.now(), **NO_ERROR)
    with transaction.atomic():
        DraftSync.ensure(draft.pk)
        changed = DraftSync.objects.filter(
            pk=draft.pk, state__in=[SyncState.FAILED, SyncState.ATTENTION, SyncState.RETRYING]
        ).update(**cleared)
        if not changed:
            return False
        RemoteItem.objects.filter(draft_id=draft.pk, failed_seq__isnull=False).update(
            failed_seq=None, error_message="", error_code=None, error_at=None
        )
        RemotePart.objects.filter(draft_id=draft.pk, failed_seq__isnull=False).update(
            failed_seq=None, error_message="", error_code=None, error_at=None
        )
        DraftEvent.record(draft, by, DraftEvent.Kind.SYNC, note="Sync retry requested")
        draft_id = draft.pk
        transaction.on_commit(lambda: enqueue.ring(draft_id))
    return True
