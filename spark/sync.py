"""Reconcile one draft with the remote MLS: the sync engine.

`push_draft(draft_id)` claims the draft (a lease in `DraftSync`, so one worker at a time),
reads the draft and the mirror of the remote, asks spark/planner.py for the calls that close
the gap, makes them, records each confirmed one at once, and repeats until the plan is empty;
then it marks `change_seq` confirmed. It is idempotent: a second push makes no call.

Uploads go in runs (the plan's consecutive uploads, up to `UPLOAD_RUN`): the run's tickets
first, then all its intents (token, ticket, what is sent) in one transaction, before any bytes
leave. Each upload's confirmation is one statement on its mirror row, written at once. The
remote's order and primary that the uploads make, and the remote ids copied onto the media
rows for people, are written when the run ends; a worker that dies before that leaves a mirror
that knows every confirmed item, and the next push re-applies the order (and heals the copies).

Failures (RELIABILITY.md §1, J5-J9):

- transient (timeouts, connection errors, 5xx, 1510/1515/1516/1023/1024, 1550/429, 1020):
  back-off with full jitter (base 2 s, cap 10 min), Retry-After as a lower bound (and a
  shared pause of every worker), stored in `next_attempt_at`; after 10 attempts the draft
  waits for a person ("needs attention");
- permanent (listing rules, 403, 405, 1017, ...): recorded on the draft or on the item, in
  the remote's words plus ours, and not retried until the draft changes again or a person
  presses retry;
- ambiguous (the write may have been applied although no answer came): creates and uploads
  carry a marker we control and are matched against the remote's list before anything is
  sent again (> 1 candidate: needs attention); other writes are idempotent and re-sent, and
  the remote is read back once a late answer can no longer land (`verify_after`).

The create-listing marker: the create body carries
``CustomFields: {"Listing Drafts Portal": {"Draft Key": "<32 hex>"}}`` (`DraftSync.create_marker`).
After a lost create answer, incomplete listings of the same agent modified since the create
was sent (and not already mapped to another draft) are read with their custom fields, and
the one carrying the key is adopted. Photos and documents carry their `upload_token` as the
remote FileName (``<token hex>.jpg`` / ``.pdf``); photos whose FileName the remote does not
show are matched by Name and Caption among the remote photos we do not know.

Trash: a draft in the trash keeps no incomplete listing in the MLS. Its push deletes the remote
listing (a 404 means already gone) and empties the mirror and the confirmed state, so restoring
the draft creates a fresh listing through the normal path. A delete whose answer was lost is
sent again while the draft stays in the trash; restored meanwhile, the read-back that follows
finds whether the listing is gone and, if it is, waits for a person like any vanished listing.

Promotion: a draft being published or live belongs to the promotion job (drafts.promotion),
which creates the live listing and deletes the incomplete one itself; the engine never claims,
queues or checks such a draft.

Drift (`check_drift`): a periodic read of the remote's ModificationTimestamp; a draft whose
remote changed is compared with the mirror, and a difference the portal did not make pauses
its push until a person chooses "keep portal version" or "accept remote".
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import enum
import functools
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from drafts.fields import SPARK_TO_FIELD
from drafts.models import Draft, DraftEvent, DraftStatus

from . import planner
from .client import (
    CachedTokenStore,
    InMemoryTokenStore,
    ListingRef,
    SparkClient,
    SparkError,
    SparkMethodNotAllowed,
    SparkNotFound,
    SparkRateLimited,
    SparkResult,
    SparkTicketError,
    SparkTokenExpired,
    Ticket,
)
from .filters import Field
from .models import HELD_STATES, DraftSync, ItemKind, RemoteCall, RemoteItem, SyncState, new_marker

logger = logging.getLogger(__name__)

MARKER_GROUP = "Listing Drafts Portal"
MARKER_FIELD = "Draft Key"
MASKED = "********"
# A broker countdown never exceeds this; longer waits live in `next_attempt_at` (J15).
MAX_BROKER_COUNTDOWN = 60
# Waits shorter than this are slept through while holding the lease (a reorder settling).
SHORT_WAIT_SECONDS = 3.0
# Remote listings modified this long before our create was sent cannot be ours.
CREATE_CLOCK_SKEW = dt.timedelta(minutes=5)
# Statuses in which the promotion job owns the remote: the engine stays away.
PROMOTION_OWNED = (DraftStatus.PROMOTING, DraftStatus.LIVE)
REMOVED_NOTE = "Removed from the MLS: the draft is in the trash"
LISTING_GONE = "The incomplete listing is no longer in the MLS."


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


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


class LeaseLost(Exception):
    """Another worker took the draft (our lease expired): stop without recording anything."""


class NotYet(Exception):
    """The remote may still be applying an earlier request: look again at `until`."""

    def __init__(self, until: dt.datetime, reason: str) -> None:
        super().__init__(reason)
        self.until = until
        self.reason = reason


class NeedsAttention(Exception):
    """The engine cannot decide safely (e.g. two remote candidates for one upload)."""


class ListingGone(Exception):
    """The read-back found no remote listing: a person decides (as for drift) whether to
    create it again, rather than the engine re-creating what someone may have deleted."""


# The call log is written in batches (and at the end of every push): a worker killed mid-push
# loses at most this many log lines, never a confirmation (those are written at once).
CALL_LOG_BATCH = 25

# A run of consecutive uploads is prepared together, up to this many: their tickets first, then
# all their intents in one transaction (see `Pusher._op_Upload`).
UPLOAD_RUN = 8
# The rest of a run's tickets are asked for at once when the first took at least this long
# (seconds): against a remote at network distance that saves a round trip each; against one
# that answers at once, the helper threads would only cost CPU.
TICKETS_AT_ONCE_AFTER = 0.015
# One upload of a run: the mirror row, the op, its ticket (None: a base64 photo).
PreparedUpload = tuple[RemoteItem, planner.Upload, Ticket | None]
# What an upload's intent writes on its mirror row.
INTENT_FIELDS = [
    "ticket_token",
    "ticket_uri",
    "ticket_expires_at",
    "ticket_refused",
    "sending",
    "sending_since",
    "upload_token",
    "name",
    "caption",
    "privacy",
    "content_sha256",
    "failed_seq",
    "error_message",
    "error_code",
]

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
)


class _Stop(Exception):
    """A refusal ended the push; it is already recorded."""


# --- The client, shared per process ---------------------------------------------------------

_current: contextvars.ContextVar[Pusher | None] = contextvars.ContextVar("spark_sync_push", default=None)
# Set in the threads that take a push's upload tickets: they log their calls to the push, but
# only the push's own thread (and its database connection) renews the lease.
_ticket_helper: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "spark_sync_ticket_helper", default=False
)
_client_lock = threading.Lock()
_client_cache: dict[tuple, SparkClient] = {}
_limiter_cache: dict[tuple, Any] = {}


class RecordingClient(SparkClient):
    """The Spark client, writing each HTTP exchange of a push to the sync log."""

    def _log(self, method, path, route, status, code, started, request_id, failure) -> None:  # type: ignore[override]
        super()._log(method, path, route, status, code, started, request_id, failure)
        push = _current.get()
        if push is not None:
            push.record_call(
                method=method,
                path=path,
                route=route,
                status=status,
                code=code,
                duration_ms=(time.monotonic() - started) * 1000,
                request_id=request_id,
                failure=failure,
            )


def limiter():
    """The deployment's shared rate limiter (Redis when configured, else a file bucket)."""
    from .ratelimit import limiter_from_settings

    key = (settings.SYNC_REDIS_URL, settings.SPARK_RATE_LIMIT_PER_SECOND, str(settings.VAR_DIR))
    with _client_lock:
        if key not in _limiter_cache:
            _limiter_cache[key] = limiter_from_settings()
        return _limiter_cache[key]


def _hold_every_worker(error: SparkRateLimited, default: float) -> None:
    """The remote asked us to slow down: pause the shared bucket, so every worker waits its
    Retry-After (else `default` seconds). Best effort: the bucket's store may be down too."""
    with contextlib.suppress(Exception):
        limiter().pause(error.retry_after if error.retry_after is not None else default)


def _before_request(method: str, route: str) -> None:
    # Every request of every worker takes a token from the shared bucket; then the lease is
    # renewed, so a worker that waited long cannot send after losing the draft.
    limiter().acquire(timeout=float(setting("SYNC_RATE_WAIT_SECONDS", 60)))
    push = _current.get()
    if push is not None and not _ticket_helper.get():
        push.renew_lease()


def client() -> SparkClient:
    key = (
        settings.SPARK_API_URL,
        settings.SPARK_ACCESS_TOKEN,
        settings.SYNC_REDIS_URL,
        settings.SPARK_CONNECT_TIMEOUT,
        settings.SPARK_READ_TIMEOUT,
    )
    with _client_lock:
        found = _client_cache.get(key)
        if found is None:
            from .tokens import token_store_from_settings

            store = token_store_from_settings()
            if not isinstance(store, InMemoryTokenStore):
                # Shared (Redis): read once every few seconds, not before every request.
                store = CachedTokenStore(store, ttl=float(setting("SYNC_TOKEN_CACHE_SECONDS", 5.0)))
            found = RecordingClient.from_settings(token_store=store, before_request=_before_request)
            _client_cache.clear()
            _client_cache[key] = found
        return found


# --- Reading the draft ----------------------------------------------------------------------


def _photo_model():
    from media_manager.models import Photo

    return Photo


def _document_model():
    from media_manager.models import Document

    return Document


# What every edit of a draft changes, then what the push itself writes on it.
_DRAFT_EDITS = ("change_seq", "version", "status", "deleted_at")
_DRAFT_HEAD = (*_DRAFT_EDITS, "remote_id", "remote_resource_uri", "remote_modified_at")


def remote_file_name(kind: str, upload_token: str) -> str:
    """The FileName we give the remote: our token, so a lost upload can be recognised."""
    return f"{uuid.UUID(str(upload_token)).hex}.{'jpg' if kind == planner.PHOTO else 'pdf'}"


def local_state(draft: Draft, previous: planner.LocalState | None = None) -> planner.LocalState:
    """The draft as the remote should show it. Read `draft` first: the media read after it are
    at least as new, so confirming `draft.change_seq` never claims more than was pushed.

    `previous`: the state this push read last. Every change to the media bumps `change_seq` in
    its own transaction (`Draft.mark_changed`), so while the draft still shows the same
    `change_seq` its photos and documents are the ones read then: they are not read again."""
    from media_manager.models import ProcessingState

    if draft.is_deleted:
        # In the trash: the remote should show nothing, so nothing else needs reading.
        return planner.LocalState(seq=draft.change_seq, fields={}, trashed=True)
    if previous is not None and not previous.trashed and previous.seq == draft.change_seq:
        return planner.LocalState(
            seq=draft.change_seq,
            fields=draft.spark_fields(),
            photos=previous.photos,
            documents=previous.documents,
        )

    # Plain values, not model instances: this runs on every pass of every push.
    photos = tuple(
        planner.LocalItem(
            kind=planner.PHOTO,
            local_id=pk,
            upload_token=str(token),
            name=name,
            caption=caption,
            primary=primary,
            content_hash=sha256,
            uploadable=state == ProcessingState.READY and bool(master),
            content_name=master or "",
            remote_copy=remote_id,
        )
        for pk, token, name, caption, primary, sha256, state, master, remote_id in _photo_model()
        .objects.active()
        .filter(draft_id=draft.pk)
        .order_by("position", "pk")
        .values_list(
            "pk", "upload_token", "name", "caption", "is_primary", "sha256", "state", "master", "remote_id"
        )
    )
    documents = tuple(
        planner.LocalItem(
            kind=planner.DOCUMENT,
            local_id=pk,
            upload_token=str(token),
            name=name,
            privacy=privacy,
            content_hash=sha256,
            uploadable=bool(file),
            content_name=file or "",
            remote_copy=remote_id,
        )
        for pk, token, name, privacy, sha256, file, remote_id in _document_model()
        .objects.active()
        .filter(draft_id=draft.pk)
        .order_by("position", "pk")
        .values_list("pk", "upload_token", "name", "privacy", "sha256", "file", "remote_id")
    )
    return planner.LocalState(
        seq=draft.change_seq, fields=draft.spark_fields(), photos=photos, documents=documents
    )


def mirror_state(draft: Draft, sync: DraftSync, rows: list[RemoteItem] | None = None) -> planner.MirrorState:
    if rows is None:
        rows = list(RemoteItem.objects.filter(draft_id=draft.pk))
    items = tuple(
        planner.MirrorItem(
            kind=row.kind,
            local_id=row.local_id,
            remote_id=row.remote_id,
            sending=row.sending,
            name=row.name,
            caption=row.caption,
            privacy=row.privacy,
            content_hash=row.content_sha256,
            failed_seq=row.failed_seq,
        )
        for row in rows
    )
    return planner.MirrorState(
        remote_id=draft.remote_id,
        create_pending=sync.create_sent_at is not None,
        fields=sync.confirmed_fields or {},
        fields_failed_seq=sync.fields_failed_seq,
        items=items,
        photo_order=tuple(sync.photo_order or ()),
        document_order=tuple(sync.document_order or ()),
        primary_photo=sync.primary_photo,
        verify_after=sync.verify_after,
        order_seen_at={
            planner.PHOTO: sync.photo_order_seen_at,
            planner.DOCUMENT: sync.document_order_seen_at,
        },
        order_pushed_at={
            planner.PHOTO: sync.photo_order_pushed_at,
            planner.DOCUMENT: sync.document_order_pushed_at,
        },
    )


def timing(now: dt.datetime | None = None) -> planner.Timing:
    return planner.Timing(
        now=now or timezone.now(),
        order_settle=float(setting("SYNC_ORDER_SETTLE_SECONDS", 1.0)),
        order_min_interval=float(setting("SYNC_ORDER_MIN_INTERVAL_SECONDS", 10.0)),
    )


# --- Back-off -----------------------------------------------------------------------------


def backoff_seconds(
    attempt: int, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))], never below Retry-After."""
    base = float(setting("SYNC_BACKOFF_BASE_SECONDS", 2.0))
    cap = float(setting("SYNC_BACKOFF_CAP_SECONDS", 600.0))
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    delay = (rng or random).uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return delay


def is_transient(error: BaseException) -> bool:
    if isinstance(error, SparkError):
        # 1020 reaches us only when the client's one refresh did not help; a later attempt
        # (with the token another worker refreshed) may.
        return error.transient or error.ambiguous or isinstance(error, SparkTokenExpired)
    return True  # Redis, database, rate-limit wait, local I/O: all worth another try


def _lease_seconds() -> float:
    configured = setting("SYNC_LEASE_SECONDS", None)
    if configured:
        return float(configured)
    # Outlives one request (connect + read) plus a wait for the shared rate limit.
    return 2 * (settings.SPARK_CONNECT_TIMEOUT + settings.SPARK_READ_TIMEOUT) + 60


def _settle_seconds() -> float:
    return float(setting("SYNC_AMBIGUOUS_SETTLE_SECONDS", 120))


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_is_dead(owner: str) -> bool:
    """A lease held by a process of this machine that no longer exists (SIGKILLed worker)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


# What a row says once nothing is wrong (no attempts, no back-off, no error to show).
_NO_ERROR: dict[str, Any] = {
    "attempts": 0,
    "next_attempt_at": None,
    "blocked_seq": None,
    "error_message": "",
    "error_status": None,
    "error_code": None,
    "error_details": [],
    "error_at": None,
}


# --- The database going away -----------------------------------------------------------------

# A lost connection (server restarted, failover), as opposed to a refused statement.
DATABASE_LOST = (OperationalError, InterfaceError)


def _drop_connection() -> None:
    """Forget a broken connection; the next query opens a new one."""
    with contextlib.suppress(DatabaseError):
        connection.close()


def _once_the_database_is_back(step, *, waits: tuple[float, ...] = (0.5, 1, 2, 4, 8)):
    """Run bookkeeping `step`, trying again on a fresh connection while the database is
    unreachable: a restarted server is back within seconds, and bookkeeping that gives up leaves
    a claim held until its lease expires (minutes). Outside any transaction only."""
    for wait in (*waits, None):
        try:
            return step()
        except DATABASE_LOST:
            if wait is None or connection.in_atomic_block:
                raise
            _drop_connection()
            time.sleep(wait)
    return None


# --- One push -------------------------------------------------------------------------------


@dataclass
class _Context:
    seq: int
    ref: ListingRef | None
    # The ops of the plan after the one running (an upload prepares the next one's ticket).
    upcoming: tuple[planner.Op, ...] = ()


class Pusher:
    """One claim of one draft: the loop of plan, call, record."""

    def __init__(self, draft_id: int, *, owner: str | None = None, budget: float | None = None) -> None:
        self.draft_id = draft_id
        self.owner = owner or _owner_id()
        self.budget = float(budget if budget is not None else setting("SYNC_PUSH_BUDGET_SECONDS", 200))
        self.lease = _lease_seconds()
        self.held = False
        self.purpose = ""
        self.seq: int | None = None
        self.progressed = False
        self.verify_needed = False
        self.renewed_at = 0.0
        self.pending_calls: list[RemoteCall] = []
        self.row: DraftSync | None = None
        # The mirror rows read for the current plan, by (kind, local id).
        self.items: dict[tuple[str, int], RemoteItem] = {}
        # A run of uploads (see `_op_Upload`): the rows whose intent is committed and whose
        # bytes have not left yet; the kinds whose order (and primary) in `self.row` is ahead
        # of the database; the remote ids to copy onto media rows, and those copied already.
        self.prepared: dict[tuple[str, int], RemoteItem] = {}
        self.order_unwritten: set[str] = set()
        self.copies: dict[tuple[str, int], str] = {}
        self.copied: dict[tuple[str, int], str] = {}
        # This pass created the remote listing (and kept `draft` and `self.row` current).
        self.created_now = False

    # -- the claim --
    def claim(self) -> bool:
        now = timezone.now()
        claimable = (
            DraftSync.objects.filter(pk=self.draft_id)
            .exclude(state__in=HELD_STATES)
            # Checked in the claim itself: a promotion that began since we looked wins. As a
            # subquery on draft_id, not a join: with a join Django turns the UPDATE into
            # `pk IN (SELECT ...)`, and PostgreSQL then does not recheck the lease on the row it
            # waited for, so two workers could both take it.
            .exclude(draft_id__in=Draft.objects.filter(status__in=PROMOTION_OWNED).values("pk"))
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        )
        values = {
            "lease_owner": self.owner,
            "lease_expires_at": now + dt.timedelta(seconds=self.lease),
            "state": SyncState.SYNCING,
            "last_attempt_at": now,
        }
        taken = claimable.filter(Q(lease_owner="") | Q(lease_expires_at__isnull=True)).update(**values)
        if not taken:
            # A lease left behind: its worker died (or outlived it), perhaps mid-call.
            taken = claimable.filter(lease_expires_at__lt=now).update(**values)
            if not taken:
                holder = (
                    DraftSync.objects.filter(pk=self.draft_id).values_list("lease_owner", flat=True).first()
                )
                if holder and _owner_is_dead(holder):
                    taken = claimable.filter(lease_owner=holder).update(**values)
            if taken:
                logger.info("draft %s: took over a lease left behind", self.draft_id)
                self._verify_after_takeover(now)
        self.held = taken == 1
        self.renewed_at = time.monotonic()
        return self.held

    def _verify_after_takeover(self, now: dt.datetime) -> None:
        """The worker that left the lease behind may have had a write in flight when it died: an
        update with no intent recorded (fields, a caption, a privacy, the order), which could
        still land and undo a newer value. Read the remote back once it no longer can."""
        settle_at = now + dt.timedelta(seconds=_settle_seconds())
        DraftSync.objects.filter(pk=self.draft_id, lease_owner=self.owner).exclude(
            draft__remote_id=""
        ).filter(Q(verify_after__isnull=True) | Q(verify_after__lt=settle_at)).update(verify_after=settle_at)

    def renew_lease(self, *, force: bool = False) -> None:
        """Extend the claim; LeaseLost if another worker has it. Renewed at most every quarter
        lease: until our lease expires nobody else can take it, so a recent renewal is proof."""
        if not self.held:
            return
        if not force and not self._renewal_due():
            return
        renewed = DraftSync.objects.filter(pk=self.draft_id, lease_owner=self.owner).update(
            lease_expires_at=timezone.now() + dt.timedelta(seconds=self.lease)
        )
        if renewed != 1:
            self.held = False
            raise LeaseLost(f"draft {self.draft_id}: lease lost")
        self.renewed_at = time.monotonic()

    def _renewal_due(self) -> bool:
        return time.monotonic() - self.renewed_at >= self.lease / 4

    def release(self, **values: Any) -> None:
        if not self.held:
            return
        values.setdefault("state", SyncState.PENDING)
        DraftSync.objects.filter(pk=self.draft_id, lease_owner=self.owner).update(
            lease_owner="", lease_expires_at=None, **values
        )
        self.held = False

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """A transaction that records a confirmed call (and the log of the calls made for it),
        only while we still hold the draft."""
        if not self.held:
            raise LeaseLost(f"draft {self.draft_id}: lease lost before recording")
        with transaction.atomic():
            self.renew_lease()
            if self._log_due():
                self.flush_calls()
            yield

    # -- the log --
    def _log_due(self) -> bool:
        return len(self.pending_calls) >= CALL_LOG_BATCH

    def record_call(self, **fields: Any) -> None:
        status = fields["status"]
        failure = fields["failure"]
        if failure is not None and status is None:
            outcome = RemoteCall.Outcome.UNKNOWN
        elif failure is not None or status is None or status >= 400:
            outcome = RemoteCall.Outcome.FAILED
        else:
            outcome = RemoteCall.Outcome.OK
        self.pending_calls.append(
            RemoteCall(
                draft_id=self.draft_id,
                method=fields["method"][:8],
                route=(fields["route"] or "")[:40],
                path=(fields["path"] or "")[:300],
                status=status,
                spark_code=fields["code"],
                duration_ms=round(fields["duration_ms"], 1),
                outcome=outcome,
                purpose=self.purpose[:200],
                message=(failure or "")[:500],
                change_seq=self.seq,
                request_id=(fields["request_id"] or "")[:80],
                worker=self.owner[:120],
            )
        )

    def write_at_once(self, write: Callable[[], Any]) -> None:
        """Record a confirmation that is one statement, atomic by itself: no transaction
        around it (two round trips fewer) while a recent renewal proves the lease."""
        if not self.held:
            raise LeaseLost(f"draft {self.draft_id}: lease lost before recording")
        if self._renewal_due() or self._log_due() or transaction.get_connection().in_atomic_block:
            with self.recording():
                write()
        else:
            write()

    def save_row(self, **values: Any) -> None:
        """Write fields of the held DraftSync row. Only the lease holder writes the mirror's
        fields, so the copy read at the top of the loop stays current: no re-read, no lock."""
        DraftSync.objects.filter(pk=self.draft_id).update(**values)
        for name, value in values.items():
            setattr(self.row, name, value)

    def flush_calls(self) -> None:
        """Write the calls logged since the last flush (with the confirmation they led to)."""
        if not self.pending_calls:
            return
        calls, self.pending_calls = self.pending_calls, []
        if transaction.get_connection().in_atomic_block:
            RemoteCall.objects.bulk_create(calls)  # with the confirmation it led to
            return
        try:
            _once_the_database_is_back(lambda: RemoteCall.objects.bulk_create(calls))
        except DatabaseError:
            # The log is for people; a push must not fail for it.
            logger.warning("draft %s: could not write the sync log", self.draft_id, exc_info=True)

    def annotate_last_call(self, message: str) -> None:
        if self.pending_calls:
            self.pending_calls[-1].message = message[:500]

    # -- the loop --
    def run(self, *, has_work: bool | None = None) -> Outcome:
        """`has_work`: what `_has_work` answered just before (saves asking again)."""
        token = _current.set(self)
        try:
            for _round in range(5):
                outcome = self._run_once(has_work)
                has_work = None
                # An edit committed while we were finishing rang a doorbell we answered
                # "busy": look again now that the claim is released (every edit moves
                # `change_seq` past what we just confirmed).
                if outcome is not Outcome.SYNCED or not self._edited_since_confirmed():
                    return outcome
            return outcome
        finally:
            _current.reset(token)

    def _edited_since_confirmed(self) -> bool:
        return Draft.objects.filter(pk=self.draft_id, change_seq__gt=self.seq or 0).exists()

    def _run_once(self, has_work: bool | None = None) -> Outcome:
        if not (has_work if has_work is not None else _has_work(self.draft_id)):
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
        except BaseException as error:
            if not isinstance(error, Exception):
                self.release()
                raise
            logger.warning("draft %s: push failed: %r", self.draft_id, error)
            # The database may have gone away mid-push (a restart, a failover: then `error` is
            # that, or our connection died meanwhile): record the retry on a fresh connection
            # once it is back, rather than leave the claim held until its lease expires.
            return _once_the_database_is_back(functools.partial(self._finish_transient, error))
        finally:
            self.flush_calls()
            if self.held:
                _once_the_database_is_back(self.release)

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
                sync = self.row = DraftSync.objects.get(pk=self.draft_id)
                if sync.drift_decision:
                    _apply_drift_decision(self, draft, sync)
                    local = None  # accepting the remote version rewrites the draft's media
                    continue
                if not local.trashed:
                    self._note_order(sync, local)
                rows = list(RemoteItem.objects.filter(draft_id=self.draft_id))
                self.items = {(row.kind, row.local_id): row for row in rows if row.local_id is not None}
            mirror = mirror_state(draft, sync, rows)
            now = timezone.now()
            the_plan = planner.plan(local, mirror, timing(now))
            if not the_plan.ops:
                if the_plan.wait_until is not None:
                    delay = (the_plan.wait_until - now).total_seconds()
                    if delay <= SHORT_WAIT_SECONDS and time.monotonic() + delay < deadline:
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
            context = _Context(
                local.seq, ListingRef.for_incomplete(draft.remote_id) if draft.remote_id else None
            )
            try:
                self._run_plan(the_plan, draft, context)
            except BaseException:
                self._settle_run(after_error=True)
                raise
            self._settle_run()

    def _run_plan(self, the_plan: planner.Plan, draft: Draft, context: _Context) -> None:
        for index, op in enumerate(the_plan.ops):
            context.upcoming = the_plan.ops[index + 1 :]
            try:
                self._execute(op, draft, context)
            except SparkError as error:
                if error.ambiguous and isinstance(op, VERIFY_AFTER_AMBIGUOUS):
                    self.verify_needed = True
                if is_transient(error):
                    raise
                self._settle_run()
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
            head = Draft.objects.filter(pk=self.draft_id).values_list(*_DRAFT_HEAD).first()
            if head is None:
                return None
            if head[: len(_DRAFT_EDITS)] == tuple(getattr(known, name) for name in _DRAFT_EDITS):
                for name, value in zip(_DRAFT_HEAD, head, strict=True):
                    setattr(known, name, value)
                return known
        return Draft.objects.select_related("list_agent").filter(pk=self.draft_id).first()

    def _note_order(self, sync: DraftSync, local: planner.LocalState) -> None:
        """Remember when the local order last changed: reorders are coalesced on it."""
        now = timezone.now()
        updates: dict[str, Any] = {}
        for kind, seen_field in (
            (planner.PHOTO, "photo_order_seen"),
            (planner.DOCUMENT, "document_order_seen"),
        ):
            ids = [item.local_id for item in local.items(kind)]
            if ids != (getattr(sync, seen_field) or []):
                updates[seen_field] = ids
                updates[f"{seen_field}_at"] = now
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
            and self.copied.get((item.kind, item.local_id), item.remote_copy) != row.remote_id
        }
        with transaction.atomic():
            if stale:
                self._write_copies(stale)
            DraftSync.objects.filter(pk=self.draft_id, lease_owner=self.owner).update(
                lease_owner="",
                lease_expires_at=None,
                state=SyncState.SYNCED,
                confirmed_seq=seq,
                **_NO_ERROR,
                last_synced_at=now,
            )
        self.held = False

    def _finish_removed(self) -> None:
        """A trashed draft with nothing in the MLS. `confirmed_seq` stays 0 (set with the
        delete): restoring the draft makes it due, and the push creates it afresh."""
        self.release(
            state=SyncState.SYNCED,
            **_NO_ERROR,
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
        _record_event(self.draft_id, f"{LISTING_GONE} The portal waits for a decision")

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
            values["error_message"] = (
                f"The MLS refused {_noun(first)}: {first.error_message}"
                if first is not None
                else "The MLS refused a change"
            )
            values["error_code"] = first.error_code if first is not None else None
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
        _record_event(self.draft_id, f"Sync needs attention: {reason}")

    def _finish_transient(self, error: BaseException) -> Outcome:
        sync = DraftSync.objects.filter(pk=self.draft_id).first()
        if sync is None or not self.held:
            return Outcome.BUSY
        attempts = 0 if self.progressed else sync.attempts
        attempts += 1
        retry_after = error.retry_after if isinstance(error, SparkError) else None
        message = _describe(error)
        details = _field_details(error)
        now = timezone.now()
        if isinstance(error, SparkRateLimited):
            _hold_every_worker(error, backoff_seconds(1))
        if self.verify_needed:
            # A late answer could still land: read the remote back once it no longer can.
            settle_at = now + dt.timedelta(seconds=_settle_seconds())
            verify_after = max(sync.verify_after, settle_at) if sync.verify_after else settle_at
            DraftSync.objects.filter(pk=self.draft_id).update(verify_after=verify_after)
        self.annotate_last_call(message)
        max_attempts = int(setting("SYNC_MAX_ATTEMPTS", 10))
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
            _record_event(self.draft_id, f"Sync gave up after {attempts} attempts: {message}")
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

    def _record_refusal(self, op: planner.Op, error: SparkError, context: _Context) -> None:
        """A permanent refusal: keep it next to what it is about; do not send it again until
        the draft changes (or a person asks to retry)."""
        message = _describe(error)
        self.annotate_last_call(message)
        now = timezone.now()
        seq = context.seq
        local_id = getattr(op, "local_id", None)
        kind = getattr(op, "kind", None)
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
            "error_details": _field_details(error),
            "error_at": now,
        }
        if isinstance(op, planner.CreateListing | planner.UpdateFields):
            values["fields_failed_seq"] = seq
            with self.recording():
                DraftSync.objects.filter(pk=self.draft_id).update(**values)
            _record_event(self.draft_id, values["error_message"])
            return
        # Anything else refused (a reorder, reading the remote): the draft waits for a person
        # or an edit; nothing more is sent now.
        with self.recording():
            DraftSync.objects.filter(pk=self.draft_id).update(**values)
        self._finish_blocked(seq, ("draft",))
        _record_event(self.draft_id, values["error_message"])
        raise _Stop

    # -- the calls --
    def _execute(self, op: planner.Op, draft: Draft, context: _Context) -> None:
        handler = getattr(self, f"_op_{type(op).__name__}")
        self.purpose = _purpose(op)
        handler(op, draft, context)

    def _op_CreateListing(self, op: planner.CreateListing, draft: Draft, context: _Context) -> None:
        # The row read for this plan is current: only the lease holder writes the marker.
        marker = self.row.create_marker or new_marker()
        body = dict(op.fields)
        custom = {group: dict(values) for group, values in (body.get("CustomFields") or {}).items()}
        custom.setdefault(MARKER_GROUP, {})[MARKER_FIELD] = marker
        body["CustomFields"] = custom
        # The intent first: if the answer is lost, the next push looks for the marker.
        with self.recording():
            self.save_row(create_marker=marker, create_sent_at=timezone.now(), create_street=first_line(body))
        try:
            result = client().create_incomplete_listing(body)
        except SparkError as error:
            if not error.ambiguous:
                DraftSync.objects.filter(pk=self.draft_id).update(create_sent_at=None)
            raise
        remote_id = result.resource_id
        if not remote_id:
            raise NeedsAttention("The MLS created the listing but did not say its id.")
        self._adopt_listing(remote_id, dict(op.fields), result.warnings)
        draft.remote_id, draft.remote_resource_uri = remote_id, _incomplete_uri(remote_id)
        self.created_now = True
        _record_event(self.draft_id, f"Created in the MLS as incomplete listing {remote_id}", draft=draft)

    def _adopt_listing(self, remote_id: str, confirmed: dict[str, Any], warnings: list | None = None) -> None:
        with self.recording():
            Draft.objects.filter(pk=self.draft_id).update(
                remote_id=remote_id, remote_resource_uri=_incomplete_uri(remote_id)
            )
            self.save_row(
                create_sent_at=None,
                confirmed_fields=confirmed,
                fields_failed_seq=None,
                remote_warnings=_warnings(warnings or []),
                photo_order=[],
                document_order=[],
                primary_photo="",
            )

    def _op_FindListing(self, op: planner.FindListing, draft: Draft, context: _Context) -> None:
        sync = DraftSync.objects.get(pk=self.draft_id)
        marker, sent_at = sync.create_marker, sync.create_sent_at
        assert sent_at is not None
        api = client()
        agent_id = draft.spark_fields().get("ListAgentId")
        # Narrow by the address the create carried (the searchable field of incomplete
        # listings, SEED-1): a handful of candidates to read, not every listing of the agent.
        street = Field("StreetAddress").eq(sync.create_street) if sync.create_street else None
        recent = []
        for record in _all_incomplete_listings(street):
            fields = record.get("StandardFields") or {}
            modified = _parse_time(fields.get("ModificationTimestamp"))
            if modified is not None and modified < sent_at - CREATE_CLOCK_SKEW:
                continue
            if agent_id and fields.get("ListAgentId") not in (None, agent_id):
                continue
            if record.get("Id"):
                recent.append(str(record["Id"]))
        taken = set(
            Draft.objects.filter(remote_id__in=recent)
            .exclude(pk=self.draft_id)
            .values_list("remote_id", flat=True)
        )
        found: list[SparkResult] = []
        for remote_id in recent:
            if remote_id in taken:
                continue
            full = read_with_retry(api.get_incomplete_listing, remote_id, expand=["CustomFields"])
            if marker and marker in json.dumps(full.first, default=str):
                found.append(full)
        if len(found) > 1:
            raise NeedsAttention(
                f"Creating this draft in the MLS got no answer, and {len(found)} incomplete listings carry "
                "its key. Check the MLS and delete the extra one before retrying."
            )
        if found:
            full = found[0]
            remote_fields = (full.first or {}).get("StandardFields") or {}
            confirmed = {
                name: remote_fields[name]
                for name in draft.spark_fields()
                if name in remote_fields and remote_fields[name] != MASKED and name != "CustomFields"
            }
            self._adopt_listing(str(full.first["Id"]), confirmed)
            _record_event(
                self.draft_id, f"Found the incomplete listing {full.first['Id']} a lost answer created"
            )
            return
        settle_until = sent_at + dt.timedelta(seconds=_settle_seconds())
        if timezone.now() < settle_until:
            raise NotYet(settle_until, "The MLS may still be creating this listing.")
        # No listing carries the key and a late answer can no longer land: create it again.
        with self.recording():
            DraftSync.objects.filter(pk=self.draft_id).update(create_sent_at=None)

    def _op_Verify(self, op: planner.Verify, draft: Draft, context: _Context) -> None:
        try:
            remote = read_remote(context.ref)
        except SparkNotFound as error:
            # A lost delete of a trashed draft that was restored since, or a removal in the MLS.
            if error.route == "incomplete.get":
                raise ListingGone from error
            raise
        with self.recording():
            sync = DraftSync.objects.select_for_update().get(pk=self.draft_id)
            _apply_remote_to_mirror(sync, remote, adopt_duplicates=True)
            sync.verify_after = None
            sync.save()

    def _op_UpdateFields(self, op: planner.UpdateFields, draft: Draft, context: _Context) -> None:
        result = client().update_incomplete_listing(context.ref.id, dict(op.changes))
        with self.recording():
            self.save_row(
                confirmed_fields={**(self.row.confirmed_fields or {}), **op.changes},
                fields_failed_seq=None,
                remote_warnings=_warnings(result.warnings),
                error_details=[],
            )

    def _op_ReconcileItems(self, op: planner.ReconcileItems, draft: Draft, context: _Context) -> None:
        remote = _list_items(op.kind, context.ref)
        now = timezone.now()
        rows = list(RemoteItem.objects.filter(draft_id=self.draft_id, kind=op.kind))
        known = {row.remote_id for row in rows if row.remote_id and not row.replacing}
        unknown = [record for record in remote if str(record.get("Id")) not in known]
        by_id = {str(record.get("Id")): record for record in remote}
        waits: list[dt.datetime] = []
        for row in rows:
            if not row.sending:
                continue
            if row.replacing and row.replacing in by_id:
                # The old picture is still there: the replacement never landed.
                with self.recording():
                    RemoteItem.objects.filter(pk=row.pk).update(
                        sending=False, replacing="", pending_sha256=""
                    )
                continue
            candidates = _candidates(row, unknown)
            if len(candidates) > 1:
                raise NeedsAttention(
                    f"An upload of {_noun(row)} got no answer and the MLS now holds {len(candidates)} "
                    "items that could be it. Remove the extra ones in the MLS, then retry."
                )
            if candidates:
                record = candidates[0]
                unknown.remove(record)
                self._adopt_item(row, record)
                continue
            if row.replacing:
                # The old picture is gone and no new one appeared: upload it afresh.
                with self.recording():
                    RemoteItem.objects.filter(pk=row.pk).update(
                        sending=False, replacing="", remote_id="", pending_sha256=""
                    )
                continue
            settle_until = (row.sending_since or now) + dt.timedelta(seconds=_settle_seconds())
            if row.ticket_usable:
                # The ticket is single-use: sending again with it cannot make a second copy.
                with self.recording():
                    RemoteItem.objects.filter(pk=row.pk).update(sending=False)
            elif now < settle_until:
                waits.append(settle_until)
            else:
                with self.recording():
                    RemoteItem.objects.filter(pk=row.pk).update(
                        sending=False,
                        ticket_token="",
                        ticket_uri="",
                        ticket_expires_at=None,
                        ticket_refused=False,
                    )
        with self.recording():
            _refresh_order(self.draft_id, op.kind, remote)
        if waits:
            raise NotYet(min(waits), "The MLS may still be storing an upload.")

    def _adopt_item(self, row: RemoteItem, record: Mapping[str, Any]) -> None:
        remote_id = str(record["Id"])
        with self.recording():
            RemoteItem.objects.filter(pk=row.pk).update(
                remote_id=remote_id,
                sending=False,
                replacing="",
                content_sha256=row.pending_sha256 or row.content_sha256,
                pending_sha256="",
                name=record.get("Name") or row.name,
                caption=record.get("Caption") if record.get("Caption") is not None else row.caption,
                privacy=record.get("Privacy") or row.privacy,
                ticket_token="",
                ticket_uri="",
                ticket_expires_at=None,
                ticket_refused=False,
                confirmed_at=timezone.now(),
            )
            _set_local_remote_id(row.kind, row.local_id, remote_id)

    def _op_Forget(self, op: planner.Forget, draft: Draft, context: _Context) -> None:
        with self.recording():
            RemoteItem.objects.filter(
                draft_id=self.draft_id, kind=op.kind, local_id=op.local_id, remote_id=""
            ).delete()

    def _op_DeleteListing(self, op: planner.DeleteListing, draft: Draft, context: _Context) -> None:
        # A 404: already gone (a delete whose answer was lost, or removed in the MLS).
        with contextlib.suppress(SparkNotFound):
            client().delete_incomplete_listing(op.remote_id)
        # The confirmation empties the mirror in the same transaction: nothing of the old
        # listing is left to confuse the create that a restore leads to.
        with self.recording():
            Draft.objects.filter(pk=self.draft_id, remote_id=op.remote_id).update(
                remote_id="", remote_resource_uri="", remote_modified_at=None
            )
            RemoteItem.objects.filter(draft_id=self.draft_id).delete()
            _photo_model().objects.filter(draft_id=self.draft_id).exclude(remote_id="").update(remote_id="")
            _document_model().objects.filter(draft_id=self.draft_id).exclude(remote_id="").update(
                remote_id=""
            )
            self.save_row(
                confirmed_seq=0,
                confirmed_fields={},
                fields_failed_seq=None,
                remote_warnings=[],
                # A fresh create gets a fresh key: the deleted listing carried the old one.
                create_marker="",
                create_sent_at=None,
                create_street="",
                photo_order=[],
                document_order=[],
                primary_photo="",
                verify_after=None,
                photo_order_seen=[],
                photo_order_seen_at=None,
                photo_order_pushed_at=None,
                document_order_seen=[],
                document_order_seen_at=None,
                document_order_pushed_at=None,
                remote_checked_at=None,
            )
            DraftEvent.record(draft, None, DraftEvent.Kind.SYNC, note=REMOVED_NOTE)

    def _op_Delete(self, op: planner.Delete, draft: Draft, context: _Context) -> None:
        api = client()
        try:
            if op.kind == planner.PHOTO:
                api.delete_photo(context.ref, op.remote_id)
            else:
                api.delete_document(context.ref, op.remote_id)
        except SparkNotFound:
            pass  # already gone: a delete whose answer was lost, or removed in the MLS
        with self.recording():
            RemoteItem.objects.filter(draft_id=self.draft_id, kind=op.kind, remote_id=op.remote_id).delete()
            order_field = planner.ORDER_FIELDS[op.kind]
            changes: dict[str, Any] = {
                order_field: [rid for rid in getattr(self.row, order_field) if rid != op.remote_id]
            }
            if op.kind == planner.PHOTO and self.row.primary_photo == op.remote_id:
                changes["primary_photo"] = ""  # the remote picks another; unknown until set
            self.save_row(**changes)
            if op.local_id is not None:
                _set_local_remote_id(op.kind, op.local_id, "")

    def _op_Upload(self, op: planner.Upload, draft: Draft, context: _Context) -> None:
        """Send one upload of a run (the plan's consecutive uploads, up to UPLOAD_RUN).

        The run's tickets are taken first and all its intents committed in one transaction
        (the intent of an upload whose bytes then never leave is simply withdrawn, or settled
        by the remote's list after a crash: its single-use ticket cannot make a second copy).
        Each upload's confirmation is recorded at once, as one statement on its mirror row. The
        remote's order (and primary) grows in `self.row` and reaches the database, with the
        remote ids copied onto the media rows, when the run ends; a crash before that leaves a
        mirror that knows every item but not their order, which the next push re-applies."""
        api = client()
        key = (op.kind, op.local_id)
        row = self.prepared.get(key)
        ticket = row.usable_ticket(op.kind) if row is not None else None
        if (
            row is None
            or str(row.upload_token) != op.upload_token
            # Its ticket ran out while the run's earlier uploads were sent: a new one, recorded.
            or (ticket is None and row.ticket_token)
        ):
            run = self._prepare_run(op, context)
            with self.recording():
                self._write_run_end()
                self._write_intents(run)
            row = self.prepared[key]
            ticket = row.usable_ticket(op.kind)
        content = _read_content(op.kind, op.local_id, op.content_name)
        file_name = remote_file_name(op.kind, op.upload_token)
        del self.prepared[key]  # from here on the bytes may have left
        try:
            if op.kind == planner.PHOTO and ticket is not None:
                result = api.upload_photo_with_ticket(
                    ticket,
                    content,
                    name=op.name,
                    caption=op.caption or None,
                    primary=True if op.primary else None,
                    file_name=file_name,
                )
            elif op.kind == planner.PHOTO:
                result = api.upload_photo(
                    context.ref, content, file_name=file_name, name=op.name, caption=op.caption or None
                )
            else:
                assert ticket is not None
                result = api.upload_document_with_ticket(
                    ticket, content, name=op.name, privacy=op.privacy, file_name=file_name
                )
        except SparkTicketError:
            # The ticket was refused: used (perhaps by an earlier send that did land) or expired.
            # Settle by the remote's list, not by a blind new upload.
            self.write_at_once(lambda: RemoteItem.objects.filter(pk=row.pk).update(ticket_refused=True))
            return
        except SparkError as error:
            if not error.ambiguous:
                RemoteItem.objects.filter(pk=row.pk).update(sending=False)
            raise
        remote_id = result.resource_id
        if not remote_id:
            return  # stays `sending`: the next step reads the list and adopts it
        confirmed = {
            "remote_id": remote_id,
            "sending": False,
            "ticket_token": "",
            "ticket_uri": "",
            "ticket_expires_at": None,
            "ticket_refused": False,
            "confirmed_at": timezone.now(),
        }
        self.write_at_once(lambda: RemoteItem.objects.filter(pk=row.pk).update(**confirmed))
        for name, value in confirmed.items():
            setattr(row, name, value)
        # The remote puts a new item last; the first photo of a listing becomes its primary
        # (spark-api.md §7.6).
        order_field = planner.ORDER_FIELDS[op.kind]
        order = list(getattr(self.row, order_field) or [])
        setattr(self.row, order_field, [*order, remote_id])
        if op.kind == planner.PHOTO and (op.primary or not order):
            self.row.primary_photo = remote_id
        self.order_unwritten.add(op.kind)
        self.copies[key] = remote_id
        following = context.upcoming[0] if context.upcoming else None
        if type(following) is not planner.Upload:
            # The run ends here (a next upload's preparation would carry this with its intents).
            with self.recording():
                self._write_run_end()

    def _prepare_run(self, op: planner.Upload, context: _Context) -> list[PreparedUpload]:
        """`op` and the uploads right after it in the plan (up to UPLOAD_RUN), each with its
        ticket: a kept one still usable, else a new one. The first new ticket is asked for on
        its own (a refusal there is the run's error; no ticket means the remote takes photos by
        base64 POST, one per run), then the rest: all at once when the first was slow to come
        (`TICKETS_AT_ONCE_AFTER`). A ticket refused for a later upload ends the run there (that
        upload meets the refusal itself)."""
        candidates: list[tuple[RemoteItem, planner.Upload, Ticket | None]] = []
        for upload in (op, *context.upcoming[: UPLOAD_RUN - 1]):
            if type(upload) is not planner.Upload:
                break
            row = self.items.get((upload.kind, upload.local_id)) or RemoteItem(
                draft_id=self.draft_id, kind=upload.kind, local_id=upload.local_id
            )
            candidates.append((row, upload, row.usable_ticket(upload.kind)))
        wanted = [index for index, (_row, _upload, kept) in enumerate(candidates) if kept is None]
        taken: dict[int, Ticket | SparkError | None] = {}
        if wanted:
            first, rest = wanted[0], wanted[1:]
            kind = candidates[first][1].kind
            started = time.monotonic()
            # For the run's own first upload a refusal is raised, as for a single upload.
            taken[first] = (
                upload_ticket(kind, context.ref) if first == 0 else _ticket_or_error(kind, context.ref)
            )
            at_once = time.monotonic() - started >= TICKETS_AT_ONCE_AFTER
            if isinstance(taken[first], Ticket) and rest:
                kinds = [candidates[index][1].kind for index in rest]
                taken |= self._take_tickets(rest, kinds, context, at_once=at_once)
        run: list[PreparedUpload] = []
        for index, (row, upload, kept) in enumerate(candidates):
            if kept is None and index not in taken:
                break  # not asked for: an earlier ticket ended the run
            ticket = kept if kept is not None else taken[index]
            if isinstance(ticket, SparkRateLimited):
                _hold_every_worker(ticket, backoff_seconds(1))  # the run's uploads wait too
            if isinstance(ticket, SparkError):
                break
            if ticket is None and run:
                break  # a base64 photo starts a run of its own
            run.append((row, upload, ticket))
            if ticket is None:
                break
        return run

    def _take_tickets(
        self, indexes: list[int], kinds: list[str], context: _Context, *, at_once: bool
    ) -> dict[int, Ticket | SparkError | None]:
        """New tickets for several uploads: by index, a ticket, None (no photo tickets) or the
        SparkError the remote answered. `at_once`: all in flight together, from helper threads
        (each call still takes its token from the shared rate limit and goes to the sync log)."""
        if not at_once or len(indexes) <= 1:
            taken: dict[int, Ticket | SparkError | None] = {}
            for index, kind in zip(indexes, kinds, strict=True):
                taken[index] = _ticket_or_error(kind, context.ref)
                if not isinstance(taken[index], Ticket):
                    break  # the run ends there: no use asking for more
            return taken
        futures = {
            index: _ticket_threads().submit(
                contextvars.copy_context().run, _ticket_or_error, kind, context.ref, helper=True
            )
            for index, kind in zip(indexes, kinds, strict=True)
        }
        return {index: future.result() for index, future in futures.items()}

    def _write_intents(self, run: list[PreparedUpload]) -> None:
        """Mark the run's uploads as possibly sent (in the caller's transaction): from here on
        a lost answer is looked for in the remote's list before anything is sent again."""
        now = timezone.now()
        for row, op, ticket in run:
            if ticket is not None and ticket.token != row.ticket_token:
                row.keep_ticket(ticket)
            row.sending = True
            row.sending_since = now
            row.upload_token = op.upload_token
            row.name, row.caption, row.privacy = op.name, op.caption, op.privacy
            row.content_sha256 = op.content_hash
            row.failed_seq, row.error_message, row.error_code = None, "", None
        new = [row for row, _op, _ticket in run if row.pk is None]
        known = [row for row, _op, _ticket in run if row.pk is not None]
        if new:
            RemoteItem.objects.bulk_create(new)
        if known:
            RemoteItem.objects.bulk_update(known, INTENT_FIELDS)
        for row, op, _ticket in run:
            self.items[(op.kind, op.local_id)] = row
            self.prepared[(op.kind, op.local_id)] = row

    def _write_run_end(self) -> None:
        """The order (and primary) the run's confirmed uploads made, and their remote ids
        copied onto the media rows (in the caller's transaction)."""
        changes = {
            planner.ORDER_FIELDS[kind]: getattr(self.row, planner.ORDER_FIELDS[kind])
            for kind in self.order_unwritten
        }
        if planner.PHOTO in self.order_unwritten:
            changes["primary_photo"] = self.row.primary_photo
        if changes:
            DraftSync.objects.filter(pk=self.draft_id).update(**changes)
        self.order_unwritten.clear()
        self._write_copies(self.copies)
        self.copies = {}

    def _write_copies(self, copies: Mapping[tuple[str, int], str]) -> None:
        """Copy remote ids onto media rows: one statement per kind, from the mirror rows."""
        for kind, model in ((planner.PHOTO, _photo_model()), (planner.DOCUMENT, _document_model())):
            ids = [local_id for (k, local_id) in copies if k == kind]
            if ids:
                mirror = RemoteItem.objects.filter(draft_id=self.draft_id, kind=kind, local_id=OuterRef("pk"))
                model.objects.filter(pk__in=ids).update(remote_id=Subquery(mirror.values("remote_id")[:1]))
        self.copied.update(copies)

    def _settle_run(self, *, after_error: bool = False) -> None:
        """End a run of uploads cut short (an error, a refusal, a replan): write what it
        confirmed, and withdraw the intents of uploads whose bytes never left (they keep their
        tickets). After an error, a failure here is left to the next push, which re-applies
        the order and settles the intents by the remote's list."""
        unsent = [row.pk for row in self.prepared.values()]
        self.prepared = {}
        if not (unsent or self.order_unwritten or self.copies):
            return
        try:
            with self.recording():
                self._write_run_end()
                if unsent:
                    RemoteItem.objects.filter(pk__in=unsent).update(sending=False)
        except (LeaseLost, DatabaseError):
            if not after_error:
                raise
            logger.warning("draft %s: could not record an upload run's end", self.draft_id, exc_info=True)
        finally:
            self.order_unwritten.clear()
            self.copies = {}

    def _op_Replace(self, op: planner.Replace, draft: Draft, context: _Context) -> None:
        content = _read_content(op.kind, op.local_id, op.content_name)
        with self.recording():
            RemoteItem.objects.filter(draft_id=self.draft_id, kind=op.kind, local_id=op.local_id).update(
                sending=True,
                sending_since=timezone.now(),
                replacing=op.remote_id,
                pending_sha256=op.content_hash,
            )
        try:
            result = client().replace_photo(
                context.ref,
                op.remote_id,
                content,
                file_name=remote_file_name(op.kind, op.upload_token),
                name=op.name,
                caption=op.caption,
            )
        except SparkError as error:
            if not error.ambiguous:
                RemoteItem.objects.filter(draft_id=self.draft_id, kind=op.kind, local_id=op.local_id).update(
                    sending=False, replacing="", pending_sha256=""
                )
            raise
        new_id = result.resource_id or op.remote_id
        with self.recording():
            RemoteItem.objects.filter(draft_id=self.draft_id, kind=op.kind, local_id=op.local_id).update(
                remote_id=new_id,
                sending=False,
                replacing="",
                content_sha256=op.content_hash,
                pending_sha256="",
                name=op.name,
                caption=op.caption,
                confirmed_at=timezone.now(),
            )
            changes: dict[str, Any] = {
                "photo_order": [new_id if rid == op.remote_id else rid for rid in self.row.photo_order]
            }
            if self.row.primary_photo == op.remote_id:
                changes["primary_photo"] = new_id
            self.save_row(**changes)
            _set_local_remote_id(op.kind, op.local_id, new_id)

    def _op_UpdatePhoto(self, op: planner.UpdatePhoto, draft: Draft, context: _Context) -> None:
        client().update_photo(context.ref, op.remote_id, name=op.name, caption=op.caption)
        changes: dict[str, Any] = {"confirmed_at": timezone.now()}
        if op.name is not None:
            changes["name"] = op.name
        if op.caption is not None:
            changes["caption"] = op.caption
        with self.recording():
            RemoteItem.objects.filter(draft_id=self.draft_id, kind=op.kind, local_id=op.local_id).update(
                **changes
            )

    def _op_SetPrimary(self, op: planner.SetPrimary, draft: Draft, context: _Context) -> None:
        client().update_photo(context.ref, op.remote_id, primary=True)
        with self.recording():
            self.save_row(primary_photo=op.remote_id)

    def _op_RenameDocument(self, op: planner.RenameDocument, draft: Draft, context: _Context) -> None:
        client().rename_document(context.ref, op.remote_id, op.name)
        with self.recording():
            RemoteItem.objects.filter(draft_id=self.draft_id, kind=op.kind, local_id=op.local_id).update(
                name=op.name, confirmed_at=timezone.now()
            )

    def _op_SetPrivacy(self, op: planner.SetPrivacy, draft: Draft, context: _Context) -> None:
        client().set_document_privacy(context.ref, op.remote_id, op.privacy)  # type: ignore[arg-type]
        with self.recording():
            RemoteItem.objects.filter(draft_id=self.draft_id, kind=op.kind, local_id=op.local_id).update(
                privacy=op.privacy, confirmed_at=timezone.now()
            )

    def _op_Reorder(self, op: planner.Reorder, draft: Draft, context: _Context) -> None:
        api = client()
        if op.kind == planner.PHOTO:
            api.reorder_photos(context.ref, list(op.remote_ids))
        else:
            api.reorder_documents(context.ref, list(op.remote_ids))
        order_field = planner.ORDER_FIELDS[op.kind]
        with self.recording():
            self.save_row(**{order_field: list(op.remote_ids), f"{order_field}_pushed_at": timezone.now()})


# --- Helpers of the push ----------------------------------------------------------------------


def _incomplete_uri(remote_id: str) -> str:
    return f"/v1/listings/incomplete/{remote_id}"


def upload_ticket(kind: str, ref: ListingRef | None) -> Ticket | None:
    """A new single-use upload ticket for a photo or document of listing `ref`; None where the
    remote has no photo tickets (the photo then goes by base64 POST). Documents have no other
    way in (spark-api.md §7.7), so that refusal is raised."""
    api = client()
    try:
        return api.create_photo_ticket(ref) if kind == planner.PHOTO else api.create_document_ticket(ref)
    except (SparkNotFound, SparkMethodNotAllowed):
        if kind == planner.DOCUMENT:
            raise
        return None


_ticket_pool: tuple[int, ThreadPoolExecutor] | None = None


def _ticket_threads() -> ThreadPoolExecutor:
    """This process's threads for upload tickets (made after a fork, never inherited)."""
    global _ticket_pool
    with _client_lock:
        if _ticket_pool is None or _ticket_pool[0] != os.getpid():
            workers = max(1, int(setting("SYNC_TICKET_CONCURRENCY", 4)))
            _ticket_pool = (os.getpid(), ThreadPoolExecutor(workers, thread_name_prefix="spark-tickets"))
        return _ticket_pool[1]


def _ticket_or_error(
    kind: str, ref: ListingRef | None, *, helper: bool = False
) -> Ticket | SparkError | None:
    if helper:
        _ticket_helper.set(True)  # in this call's own copy of the push's context
    try:
        return upload_ticket(kind, ref)
    except SparkError as error:
        return error


def _work_row(draft_id: int) -> dict[str, Any] | None:
    return (
        DraftSync.objects.filter(pk=draft_id)
        .values(
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
        .first()
    )


def _has_work(draft_id: int, row: dict[str, Any] | None = None) -> bool:
    """Whether a push has anything to do (`row`: a `_work_row` just read, else read now)."""
    if row is None:
        row = _work_row(draft_id)
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


def removal_due(now: dt.datetime | None = None):
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


def due_for_sweep(now: dt.datetime | None = None):
    """What the sweep queues: `due()` plus trashed drafts still in the MLS, never a draft the
    promotion job owns."""
    now = now or timezone.now()
    return (DraftSync.objects.due(now) | removal_due(now)).exclude(draft__status__in=PROMOTION_OWNED)


def _requeue_at(draft_id: int, when: dt.datetime) -> None:
    """Ring again at `when` if that is soon; later ones are the sweep's job (no long countdowns)."""
    delay = (when - timezone.now()).total_seconds()
    if delay > MAX_BROKER_COUNTDOWN:
        return
    from .enqueue import publish_from_worker

    publish_from_worker(draft_id, countdown=max(0.0, delay))


def read_with_retry(read, *args: Any, attempts: int = 3, **kwargs: Any):
    """An idempotent read, tried again at once (short jittered pause) on a transient failure:
    a lookup of many reads must not cost a whole back-off attempt per fault."""
    for attempt in range(1, attempts + 1):
        try:
            return read(*args, **kwargs)
        except SparkError as error:
            if not is_transient(error) or attempt == attempts:
                raise
            wait = error.retry_after
            if isinstance(error, SparkRateLimited):
                _hold_every_worker(error, 1.0)
            if wait is not None and wait > 5:
                raise  # a long wait belongs to the back-off, not to a sleeping worker
            time.sleep(wait if wait is not None else random.uniform(0, 0.5 * attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _all_incomplete_listings(filter: Any, **query: Any) -> Iterator[dict[str, Any]]:
    """Every page of GET /v1/listings/incomplete, each page read with retries."""
    page = 1
    while True:
        result = read_with_retry(
            client().list_incomplete_listings, filter=filter, limit=25, page=page, pagination=True, **query
        )
        yield from (record for record in result.results if isinstance(record, dict))
        if not result.results or result.pagination is None or result.pagination.is_last_page or page >= 4000:
            return
        page += 1


def first_line(body: Mapping[str, Any]) -> str:
    """The first address line the remote derives from these fields (its StreetAddress)."""
    parts = [
        body.get(name)
        for name in ("StreetNumber", "StreetDirPrefix", "StreetName", "StreetSuffix", "StreetDirSuffix")
    ]
    line = " ".join(str(part) for part in parts if part not in (None, ""))
    extra = body.get("StreetAdditionalInfo")
    return f"{line} {extra}".strip() if extra else line


def _record_event(draft_id: int, note: str, *, draft: Draft | None = None) -> None:
    if draft is None:
        draft = Draft.objects.filter(pk=draft_id).first()
    if draft is not None:
        with contextlib.suppress(DatabaseError):
            DraftEvent.record(draft, None, DraftEvent.Kind.SYNC, note=note)


def _describe(error: BaseException) -> str:
    if isinstance(error, SparkError):
        parts = []
        if error.status is not None:
            parts.append(f"HTTP {error.status}")
        if error.code is not None:
            parts.append(f"code {error.code}")
        head = " ".join(parts)
        return f"{head}: {error.message}" if head else error.message
    return f"{type(error).__name__}: {error}"[:500]


def _refusal_text(op: planner.Op, error: SparkError) -> str:
    what = {
        planner.CreateListing: "creating this draft",
        planner.DeleteListing: "removing this draft (in the trash) from the MLS",
        planner.UpdateFields: "the changed fields",
        planner.Reorder: "the new order",
        planner.FindListing: "looking up this draft",
        planner.Verify: "reading this draft back",
        planner.ReconcileItems: "reading the photos or documents",
    }.get(type(op), "a change")
    return f"The MLS refused {what}: {_describe(error)}"[:2000]


def _field_details(error: BaseException) -> list[dict[str, Any]]:
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


def _warnings(warnings: list) -> list[dict[str, Any]]:
    return [
        {
            "field": SPARK_TO_FIELD.get(item.field or "", ""),
            "spark_field": item.field or "",
            "message": item.message or "",
        }
        for item in warnings
    ]


def _purpose(op: planner.Op) -> str:
    name = type(op).__name__
    local_id = getattr(op, "local_id", None)
    kind = getattr(op, "kind", None)
    if kind and local_id is not None:
        return f"{name} {kind} {local_id}"
    if kind:
        return f"{name} {kind}s"
    if isinstance(op, planner.UpdateFields):
        return f"{name} {', '.join(sorted(op.changes))}"[:200]
    return name


def _noun(row: Any) -> str:
    kind = getattr(row, "kind", "item")
    name = getattr(row, "name", "")
    return f"{kind} “{name}”" if name else f"{kind} {getattr(row, 'local_id', '')}".strip()


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    moment = parse_datetime(value)
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment, dt.UTC)
    return moment


def _read_content(kind: str, local_id: int, name: str = "") -> bytes:
    """The stored bytes of an item. `name` is the file read together with the hash the op
    records (so the bytes sent are the bytes recorded); without it, looked up now."""
    if not name and kind == planner.PHOTO:
        name = _photo_model().objects.values_list("master", flat=True).get(pk=local_id)
    elif not name:
        name = _document_model().objects.values_list("file", flat=True).get(pk=local_id)
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def _set_local_remote_id(kind: str, local_id: int | None, remote_id: str) -> None:
    """Copy the confirmed remote id onto the media row, for people (the mirror is the record)."""
    if local_id is None:
        return
    model = _photo_model() if kind == planner.PHOTO else _document_model()
    model.objects.filter(pk=local_id).update(remote_id=remote_id)


def _list_items(kind: str, ref: ListingRef) -> list[dict[str, Any]]:
    api = client()
    result = read_with_retry(api.list_photos if kind == planner.PHOTO else api.list_documents, ref)
    return [record for record in result.results if isinstance(record, dict) and record.get("Id")]


def _candidates(row: RemoteItem, unknown: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Remote items that may be `row`'s lost upload: by our token in any of its attributes
    (FileName, Uri), else by what we sent (Name and Caption; Name for documents)."""
    token = row.upload_token.hex if row.upload_token else ""
    if token:
        by_token = [record for record in unknown if token in json.dumps(record, default=str)]
        if by_token:
            return by_token
    if row.kind == ItemKind.PHOTO:
        return [
            record
            for record in unknown
            if record.get("Name") == row.name and (record.get("Caption") or "") == (row.caption or "")
        ]
    return [record for record in unknown if record.get("Name") == row.name]


def _refresh_order(draft_id: int, kind: str, remote: list[dict[str, Any]]) -> None:
    """Take the remote's order (and primary) as the mirror's, for the items we know."""
    known = set(
        RemoteItem.objects.filter(draft_id=draft_id, kind=kind)
        .exclude(remote_id="")
        .values_list("remote_id", flat=True)
    )
    order = [str(record["Id"]) for record in remote if str(record["Id"]) in known]
    if kind == planner.PHOTO:
        primary = next((str(r["Id"]) for r in remote if r.get("Primary") and str(r["Id"]) in known), "")
        DraftSync.objects.filter(pk=draft_id).update(photo_order=order, primary_photo=primary)
    else:
        DraftSync.objects.filter(pk=draft_id).update(document_order=order)


# --- Reading the remote back ----------------------------------------------------------------


@dataclass
class RemoteSnapshot:
    fields: dict[str, Any]
    photos: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    modified_at: dt.datetime | None


def read_remote(ref: ListingRef) -> RemoteSnapshot:
    api = client()
    listing = read_with_retry(api.get_incomplete_listing, ref.id)
    fields = dict(((listing.first or {}).get("StandardFields")) or {})
    return RemoteSnapshot(
        fields=fields,
        photos=_list_items(planner.PHOTO, ref),
        documents=_list_items(planner.DOCUMENT, ref),
        modified_at=_parse_time(fields.get("ModificationTimestamp")),
    )


def _remote_field_values(sync: DraftSync, remote: RemoteSnapshot) -> dict[str, Any]:
    """The remote's values of the fields we push (masked and custom fields left out)."""
    return {
        name: remote.fields[name]
        for name in (sync.confirmed_fields or {})
        if name != "CustomFields" and name in remote.fields and remote.fields[name] != MASKED
    }


def differences(sync: DraftSync, remote: RemoteSnapshot) -> dict[str, Any]:
    """Where the remote differs from what it last confirmed to us."""
    found: dict[str, Any] = {}
    confirmed = sync.confirmed_fields or {}
    fields = {
        name: {"portal": confirmed.get(name), "remote": value}
        for name, value in _remote_field_values(sync, remote).items()
        if not planner.same_value(confirmed.get(name), value)
    }
    if fields:
        found["fields"] = fields
    rows = {
        row.remote_id: row for row in RemoteItem.objects.filter(draft_id=sync.draft_id).exclude(remote_id="")
    }
    for kind, records, order in (
        (planner.PHOTO, remote.photos, sync.photo_order),
        (planner.DOCUMENT, remote.documents, sync.document_order),
    ):
        mine = {rid for rid, row in rows.items() if row.kind == kind}
        remote_ids = [str(record["Id"]) for record in records]
        changes: list[dict[str, Any]] = []
        for rid in sorted(mine - set(remote_ids)):
            changes.append({"id": rid, "change": "deleted in the MLS", "name": rows[rid].name})
        for record in records:
            rid = str(record["Id"])
            row = rows.get(rid)
            if row is None or row.kind != kind:
                changes.append({"id": rid, "change": "added in the MLS", "name": record.get("Name", "")})
                continue
            for attribute, mine_value in (
                ("Name", row.name),
                ("Caption", row.caption),
                ("Privacy", row.privacy),
            ):
                if attribute == "Caption" and kind == planner.DOCUMENT:
                    continue
                if attribute == "Privacy" and kind == planner.PHOTO:
                    continue
                theirs = record.get(attribute)
                if theirs is not None and (theirs or "") != (mine_value or ""):
                    changes.append(
                        {
                            "id": rid,
                            "change": f"{attribute.lower()} changed",
                            "portal": mine_value,
                            "remote": theirs,
                        }
                    )
        if [rid for rid in remote_ids if rid in mine] != [rid for rid in order if rid in set(remote_ids)]:
            changes.append({"id": "", "change": "order changed in the MLS"})
        if kind == planner.PHOTO:
            primary = next((str(r["Id"]) for r in records if r.get("Primary")), "")
            if sync.primary_photo and primary and primary != sync.primary_photo:
                changes.append({"id": primary, "change": "primary photo changed in the MLS"})
        if changes:
            found[f"{kind}s"] = changes
    return found


def _apply_remote_to_mirror(sync: DraftSync, remote: RemoteSnapshot, *, adopt_duplicates: bool) -> None:
    """Make the mirror say what the remote really holds, so the planner closes the gap.

    With `adopt_duplicates`, remote items we do not know whose Name (and Caption) equal an
    item we do know are taken for copies our own lost requests made, and deleted next.
    """
    sync.confirmed_fields = {**(sync.confirmed_fields or {}), **_remote_field_values(sync, remote)}
    for kind, records in ((planner.PHOTO, remote.photos), (planner.DOCUMENT, remote.documents)):
        rows = list(RemoteItem.objects.filter(draft_id=sync.draft_id, kind=kind))
        by_remote = {row.remote_id: row for row in rows if row.remote_id}
        present = {str(record["Id"]): record for record in records}
        for rid, row in by_remote.items():
            if rid not in present and not row.sending:
                # Gone from the remote: the planner uploads it again (or forgets it).
                RemoteItem.objects.filter(pk=row.pk).update(remote_id="", content_sha256="")
                _set_local_remote_id(kind, row.local_id, "")
            elif rid in present:
                record = present[rid]
                RemoteItem.objects.filter(pk=row.pk).update(
                    name=record.get("Name", row.name) or "",
                    caption=(record.get("Caption") if record.get("Caption") is not None else row.caption)
                    if kind == planner.PHOTO
                    else row.caption,
                    privacy=record.get("Privacy", row.privacy) or ""
                    if kind == planner.DOCUMENT
                    else row.privacy,
                )
        known_texts = {(row.name, row.caption if kind == planner.PHOTO else "") for row in by_remote.values()}
        orphans = []
        for rid, record in present.items():
            if rid in by_remote:
                continue
            text = (record.get("Name") or "", (record.get("Caption") or "") if kind == planner.PHOTO else "")
            if not adopt_duplicates or text in known_texts:
                orphans.append(rid)
        for rid in orphans:
            RemoteItem.objects.get_or_create(draft_id=sync.draft_id, kind=kind, local_id=None, remote_id=rid)
        known = set(by_remote) | set(orphans)
        order = [rid for rid in present if rid in known]
        if kind == planner.PHOTO:
            sync.photo_order = order
            sync.primary_photo = next(
                (rid for rid, r in present.items() if r.get("Primary") and rid in known), ""
            )
        else:
            sync.document_order = order


# --- The public entry points ------------------------------------------------------------------


def push_draft(draft_id: int, *, budget: float | None = None) -> Outcome:
    """Reconcile draft `draft_id` with the remote. Idempotent; safe under duplicate delivery:
    a second worker finds the claim taken and returns BUSY (the holder loops until done)."""
    row = _work_row(draft_id)
    if row is None:
        # The draft's first push (or it is gone).
        try:
            DraftSync.ensure(draft_id)
        except IntegrityError:
            return Outcome.GONE
        row = _work_row(draft_id)
        if row is None:
            return Outcome.GONE
    has_work = _has_work(draft_id, row)
    if row["draft__deleted_at"] is not None and not has_work:
        return Outcome.GONE
    return Pusher(draft_id, budget=budget).run(has_work=has_work)


def sweep(now: dt.datetime | None = None, *, limit: int = 500) -> int:
    """Queue every draft that needs a push and that no live worker holds; release dead claims.

    Runs from Celery beat every few seconds: it finds what a lost message, a dead worker or a
    broker outage left behind (at-least-once), and what back-off made wait.
    """
    from .enqueue import publish_from_worker

    now = now or timezone.now()
    missing = list(Draft.objects.active().filter(sync__isnull=True).values_list("pk", flat=True)[:1000])
    if missing:
        DraftSync.objects.bulk_create([DraftSync(draft_id=pk) for pk in missing], ignore_conflicts=True)
    DraftSync.objects.filter(lease_expires_at__lt=now).exclude(lease_owner="").update(
        lease_owner="", lease_expires_at=None, state=SyncState.PENDING
    )
    requeue_after = dt.timedelta(seconds=float(setting("SYNC_REQUEUE_AFTER_SECONDS", 30)))
    due = list(
        due_for_sweep(now)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - requeue_after))
        .order_by(F("next_attempt_at").asc(nulls_first=True))
        .values_list("draft_id", flat=True)[:limit]
    )
    published = []
    for draft_id in due:
        try:
            publish_from_worker(draft_id, countdown=0, mark=False)
        except Exception:
            logger.warning(
                "sweep: the broker refused; %d drafts wait for the next sweep", len(due) - len(published)
            )
            break
        published.append(draft_id)
    if published:
        DraftSync.objects.filter(pk__in=published).update(enqueued_at=now)
    return len(published)


def request_retry(draft: Draft, *, by) -> bool:
    """A person asks to try again: re-queue once (a second click while pending does nothing)."""
    cleared = dict(state=SyncState.PENDING, fields_failed_seq=None, enqueued_at=timezone.now(), **_NO_ERROR)
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
        DraftEvent.record(draft, by, DraftEvent.Kind.SYNC, note="Sync retry requested")
        draft_id = draft.pk
        transaction.on_commit(lambda: _ring(draft_id))
    return True


def _ring(draft_id: int) -> None:
    from .enqueue import ring

    ring(draft_id)


# --- Drift ----------------------------------------------------------------------------------


def check_drift(*, limit: int = 200) -> int:
    """Compare synced drafts whose remote changed since we last looked; flag what the portal
    did not make. Returns how many drafts were flagged."""
    interval = dt.timedelta(seconds=float(setting("SYNC_DRIFT_INTERVAL_SECONDS", 300)))
    now = timezone.now()
    # The call log is for people looking back a few weeks, not an archive.
    keep = dt.timedelta(days=float(setting("SYNC_CALL_LOG_DAYS", 30)))
    old_calls = RemoteCall.objects.filter(at__lt=now - keep).values_list("pk", flat=True)[:5000]
    RemoteCall.objects.filter(pk__in=list(old_calls)).delete()
    candidates = list(
        DraftSync.objects.filter(
            state=SyncState.SYNCED,
            lease_owner="",
            verify_after__isnull=True,
            confirmed_seq__gte=F("draft__change_seq"),
            draft__deleted_at__isnull=True,
        )
        .exclude(draft__remote_id="")
        # Publishing deletes the incomplete listing: its absence then is not drift.
        .exclude(draft__status__in=PROMOTION_OWNED)
        .filter(Q(remote_checked_at__isnull=True) | Q(remote_checked_at__lt=now - interval))
        .select_related("draft")
        .order_by(F("remote_checked_at").asc(nulls_first=True))[:limit]
    )
    if not candidates:
        return 0
    stamps: dict[str, dt.datetime | None] = {}
    for record in _all_incomplete_listings(None, select=["ModificationTimestamp"]):
        fields = record.get("StandardFields") or {}
        stamps[str(record.get("Id"))] = _parse_time(fields.get("ModificationTimestamp"))
    flagged = 0
    for sync in candidates:
        draft = sync.draft
        remote_stamp = stamps.get(draft.remote_id, "missing")
        if (
            remote_stamp != "missing"
            and remote_stamp is not None
            and draft.remote_modified_at == remote_stamp
        ):
            DraftSync.objects.filter(pk=sync.pk).update(remote_checked_at=now)
            continue
        if _compare_one(draft.pk, gone=remote_stamp == "missing"):
            flagged += 1
    return flagged


def _compare_one(draft_id: int, *, gone: bool) -> bool:
    pusher = Pusher(draft_id)
    if not pusher.claim():
        return False
    token = _current.set(pusher)
    try:
        pusher.purpose = "Drift check"
        draft = Draft.objects.get(pk=draft_id)
        sync = DraftSync.objects.get(pk=draft_id)
        if draft.is_deleted or not draft.remote_id:
            # Trashed (its listing is being removed) since the candidates were read.
            pusher.release(state=SyncState.SYNCED)
            return False
        if sync.confirmed_seq < draft.change_seq:
            pusher.release(state=SyncState.PENDING)
            return False
        try:
            remote = None if gone else read_remote(ListingRef.for_incomplete(draft.remote_id))
        except SparkNotFound:
            remote = None
        now = timezone.now()
        if remote is None:
            found: dict[str, Any] = {"listing": LISTING_GONE}
        else:
            found = differences(sync, remote)
        if not found:
            Draft.objects.filter(pk=draft_id).update(
                remote_modified_at=remote.modified_at if remote else None
            )
            pusher.release(state=SyncState.SYNCED, remote_checked_at=now)
            return False
        pusher.release(
            state=SyncState.DRIFT, drift_detected_at=now, drift_remote=found, remote_checked_at=now
        )
        _record_event(draft_id, "Changed in the MLS by someone else: the portal waits for a decision")
        return True
    except SparkError as error:
        logger.warning("drift check of draft %s failed: %s", draft_id, error)
        pusher.release(state=SyncState.SYNCED, remote_checked_at=timezone.now())
        return False
    finally:
        _current.reset(token)
        pusher.flush_calls()
        if pusher.held:
            pusher.release(state=SyncState.SYNCED)


def resolve_drift(draft: Draft, *, keep: str, by) -> bool:
    """A person decides (request side: records the decision, never calls the remote).

    `keep="portal"` pushes the portal's version over the remote's; `keep="remote"` takes the
    remote's field values (and photo names/captions, document names/privacy, deletions) into
    the draft. The worker reads the remote, applies the decision and resumes the push."""
    if keep not in ("portal", "remote"):
        raise ValueError(keep)
    with transaction.atomic():
        decided = DraftSync.objects.filter(pk=draft.pk, state=SyncState.DRIFT).update(
            state=SyncState.PENDING,
            drift_decision=keep,
            drift_decided_by=by,
            # The mirror is about to be re-read: the whole draft is looked at again.
            confirmed_seq=0,
            attempts=0,
            next_attempt_at=None,
        )
        if not decided:
            return False
        DraftEvent.record(
            draft,
            by,
            DraftEvent.Kind.SYNC,
            note="Chose to keep the portal version over the MLS changes"
            if keep == "portal"
            else "Chose to accept the MLS changes into the portal",
        )
        draft_id = draft.pk
        transaction.on_commit(lambda: _ring(draft_id))
    return True


def _apply_drift_decision(pusher: Pusher, draft: Draft, sync: DraftSync) -> None:
    """Worker side of `resolve_drift`: read the remote, make the mirror say what it holds (and,
    to accept it, write it into the draft); the plan that follows closes the remaining gap."""
    pusher.purpose = "Drift: read the MLS version"
    try:
        remote = read_remote(ListingRef.for_incomplete(draft.remote_id)) if draft.remote_id else None
    except SparkNotFound:
        remote = None
    with pusher.recording():
        sync = DraftSync.objects.select_for_update().get(pk=draft.pk)
        decision = sync.drift_decision
        if remote is None:
            # The remote listing is gone: create it again from the portal.
            Draft.objects.filter(pk=draft.pk).update(remote_id="", remote_resource_uri="")
            RemoteItem.objects.filter(draft_id=draft.pk).delete()
            sync.confirmed_fields, sync.photo_order, sync.document_order = {}, [], []
            sync.primary_photo = ""
        elif decision == "remote":
            _accept_remote(draft, sync, remote, by=sync.drift_decided_by)
            _apply_remote_to_mirror(sync, remote, adopt_duplicates=False)
        else:
            _apply_remote_to_mirror(sync, remote, adopt_duplicates=False)
        sync.drift_decision = ""
        sync.drift_detected_at = None
        sync.drift_remote = {}
        sync.save()
        DraftEvent.record(
            draft,
            None,
            DraftEvent.Kind.SYNC,
            note="Accepted the MLS changes into the portal"
            if remote is not None and decision == "remote"
            else "Kept the portal version over the MLS changes",
        )


def _accept_remote(draft: Draft, sync: DraftSync, remote: RemoteSnapshot, *, by) -> None:
    """Write the remote's values into the draft, as an edit by `by` (history kept)."""
    from media_manager.models import Document, Photo

    values = _remote_field_values(sync, remote)
    updates: dict[str, Any] = {}
    for spark_name, value in values.items():
        local = SPARK_TO_FIELD.get(spark_name)
        if local is None:
            continue
        model_field = Draft._meta.get_field(local)
        try:
            cleaned = (
                model_field.to_python(value) if value is not None else (None if model_field.null else "")
            )
        except (TypeError, ValueError, ValidationError):
            logger.warning("draft %s: cannot take the MLS value of %s", draft.pk, spark_name)
            continue
        if getattr(draft, local) != cleaned:
            updates[local] = cleaned
            DraftEvent.record(
                draft,
                by,
                DraftEvent.Kind.FIELD_CHANGED,
                field=local,
                old=getattr(draft, local),
                new=cleaned,
                note="Accepted from the MLS",
            )
    if updates:
        Draft.objects.filter(pk=draft.pk).update(
            **updates,
            version=F("version") + 1,
            change_seq=F("change_seq") + 1,
            updated_by=by,
            updated_at=timezone.now(),
        )
    rows = {row.remote_id: row for row in RemoteItem.objects.filter(draft_id=draft.pk).exclude(remote_id="")}
    photos = {str(r["Id"]): r for r in remote.photos}
    documents = {str(r["Id"]): r for r in remote.documents}
    gone_photos = []
    for rid, row in rows.items():
        if row.local_id is None:
            continue
        if row.kind == planner.PHOTO:
            record = photos.get(rid)
            if record is None:
                gone_photos.append(row.local_id)
                continue
            photo = Photo.objects.filter(pk=row.local_id, draft=draft).first()
            if photo is not None and (
                photo.name != record.get("Name") or photo.caption != (record.get("Caption") or "")
            ):
                photo.update_text(
                    name=record.get("Name") or photo.name, caption=record.get("Caption") or "", by=by
                )
        else:
            record = documents.get(rid)
            document = Document.objects.filter(pk=row.local_id, draft=draft).first()
            if document is None:
                continue
            if record is None:
                Document.trash_many(draft, [document.pk], by=by)
            elif document.name != record.get("Name") or document.privacy != record.get("Privacy"):
                document.update(
                    name=record.get("Name") or document.name,
                    privacy=record.get("Privacy") or document.privacy,
                    by=by,
                )
    if gone_photos:
        Photo.trash_many(draft, gone_photos, by=by)
