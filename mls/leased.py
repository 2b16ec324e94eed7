"""The leased job: one worker at a time on one draft's row, while it talks to the MLS.

The push (a `DraftSync` row) and publishing (a `Promotion` row) both claim their row with a
lease in the database, renew it before every request to the MLS, record each confirmed result
only while they still hold it, keep a log of every call, and wait for the database to come
back rather than leave a claim held until its lease expires. Why a lease in the database:
docs/decisions.md.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, models, router, transaction
from django.db.models import Q
from django.utils import timezone

from drafts.models import Draft, DraftEvent
from listings_portal.compiled_write import insert_rows, run_update
from spark.transport import Exchange

from .models import (
    HELD_STATES,
    PROMOTION_OWNED,
    DraftSync,
    Promotion,
    PromotionState,
    RemoteCall,
    RemoteItem,
    SyncState,
)

logger = logging.getLogger(__name__)

# A lost connection (server restarted, failover), as opposed to a refused statement.
DATABASE_LOST = (OperationalError, InterfaceError)
# Waits (seconds) between tries of bookkeeping while the database is unreachable.
DATABASE_BACK_WAITS = (0.5, 1, 2, 4, 8)
# What the claim's UPDATE is compiled with (`LeasedJob.claim`), never written: a draft id no
# draft has, an owner no worker is, and times no lease has.
_CLAIM_STAND_INS: dict[str, Any] = {
    "draft": -2_000_000_301,
    "owner": "stand-in owner of a compiled claim",
    "now": dt.datetime(1901, 1, 1, 0, 0, 1, 301, tzinfo=dt.UTC),
    "expires": dt.datetime(1901, 1, 1, 0, 0, 2, 302, tzinfo=dt.UTC),
}
# The derived lease outlives one request (connect + read) twice plus this wait for the rate limit.
LEASE_RATE_WAIT_SECONDS = 60


class LeaseLost(Exception):
    """Another worker took the row (our lease expired): stop without recording anything."""


def lease_seconds() -> float:
    if settings.SYNC_LEASE_SECONDS:
        return float(settings.SYNC_LEASE_SECONDS)
    return 2 * (settings.SPARK_CONNECT_TIMEOUT + settings.SPARK_READ_TIMEOUT) + LEASE_RATE_WAIT_SECONDS


def settle_seconds() -> float:
    """How long a request whose answer was lost may still land at the MLS."""
    return float(settings.SYNC_AMBIGUOUS_SETTLE_SECONDS)


def new_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
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


# --- The database going away -----------------------------------------------------------------


def drop_connection() -> None:
    """Forget a broken connection; the next query opens a new one."""
    with contextlib.suppress(DatabaseError):
        connection.close()


def once_the_database_is_back[T](
    step: Callable[[], T], *, waits: tuple[float, ...] = DATABASE_BACK_WAITS
) -> T:
    """Run bookkeeping `step`, trying again on a fresh connection while the database is
    unreachable: a restarted server is back within seconds, and bookkeeping that gives up leaves
    a claim held until its lease expires (minutes). Outside any transaction only."""
    for wait in waits:
        try:
            return step()
        except DATABASE_LOST:
            if connection.in_atomic_block:
                raise
            drop_connection()
            time.sleep(wait)
    return step()


# --- The job the current thread works for ----------------------------------------------------

_current: contextvars.ContextVar[LeasedJob | None] = contextvars.ContextVar("mls_leased_job", default=None)
# Set in helper threads of a job (upload tickets): they log their calls to the job, but only
# the job's own thread (and its database connection) renews the lease.
_in_helper_thread: contextvars.ContextVar[bool] = contextvars.ContextVar("mls_helper_thread", default=False)


def mark_helper_thread() -> None:
    """Call in a helper thread running in a copy of the job's context."""
    _in_helper_thread.set(True)


def renew_current_lease() -> None:
    """Before a request to the MLS: a worker that waited long must not send after losing the row."""
    job = _current.get()
    if job is not None and not _in_helper_thread.get():
        job.renew_lease()


def log_exchange(exchange: Exchange) -> None:
    """After a request to the MLS: into the call log of the job it was made for."""
    job = _current.get()
    if job is not None:
        job.record_exchange(exchange)


class LeasedJob:
    """One claim of one row whose primary key is the draft id.

    Subclasses name the `model`, what rows may be claimed (`claimable`) and what the claim
    writes besides the lease (`claim_values`)."""

    model: ClassVar[type[models.Model]]
    # Call log lines kept in memory before they are written with the next confirmation.
    call_log_batch: ClassVar[int] = 1
    # What the sync log shows before the purpose of each call of this job.
    purpose_prefix: ClassVar[str] = ""
    # What a release writes when the caller says nothing else.
    released_values: ClassVar[dict[str, Any]] = {}

    def __init__(self, draft_id: int, *, owner: str | None = None, budget: float | None = None) -> None:
        self.draft_id = draft_id
        self.owner = owner or new_owner_id()
        self.budget = float(budget if budget is not None else settings.SYNC_PUSH_BUDGET_SECONDS)
        self.lease = lease_seconds()
        self.held = False
        self.renewed_at = 0.0
        self.purpose = ""
        self.seq: int | None = None
        self.pending_calls: list[RemoteCall] = []

    # -- the claim --
    def claimable(self, now: dt.datetime, *, draft_id: int) -> models.QuerySet[models.Model]:
        raise NotImplementedError

    def claim_values(self, now: dt.datetime) -> dict[str, Any]:
        return {}

    def after_takeover(self, now: dt.datetime) -> None:
        """The claim took a lease another worker left behind."""

    def rows(self) -> models.QuerySet[models.Model]:
        return self.model._default_manager.filter(pk=self.draft_id)

    def claim(self) -> bool:
        now = timezone.now()
        expires = now + dt.timedelta(seconds=self.lease)
        # A row nobody holds: every claim but a takeover. Its SQL is compiled once per connection.
        taken = run_update(
            ("mls.leased claim", type(self)),
            router.db_for_write(self.model),
            self._unheld_claim,
            _CLAIM_STAND_INS,
            {"draft": self.draft_id, "owner": self.owner, "now": now, "expires": expires},
        )
        if not taken:
            claimable = self.claimable(now, draft_id=self.draft_id)
            values = {"lease_owner": self.owner, "lease_expires_at": expires, **self.claim_values(now)}
            # A lease left behind: its worker died (or outlived it), perhaps mid-call.
            taken = claimable.filter(lease_expires_at__lt=now).update(**values)
            if not taken:
                holder = self.rows().values_list("lease_owner", flat=True).first()
                if holder and owner_is_dead(holder):
                    taken = claimable.filter(lease_owner=holder).update(**values)
            if taken:
                logger.info("draft %s: took over a lease left behind", self.draft_id)
                self.after_takeover(now)
        self.held = taken == 1
        self.renewed_at = time.monotonic()
        return self.held

    def _unheld_claim(
        self, values: Mapping[str, Any]
    ) -> tuple[models.QuerySet[models.Model], dict[str, Any]]:
        """The claim of `values["draft"]`'s row while nobody holds it: the rows and what it writes."""
        unheld = self.claimable(values["now"], draft_id=values["draft"]).filter(
            Q(lease_owner="") | Q(lease_expires_at__isnull=True)
        )
        return unheld, {
            "lease_owner": values["owner"],
            "lease_expires_at": values["expires"],
            **self.claim_values(values["now"]),
        }

    def renew_lease(self, *, force: bool = False) -> None:
        """Extend the claim; LeaseLost if another worker has it. Renewed at most every quarter
        lease: until our lease expires nobody else can take it, so a recent renewal is proof."""
        if not self.held:
            return
        if not force and not self.renewal_due():
            return
        renewed = (
            self.rows()
            .filter(lease_owner=self.owner)
            .update(lease_expires_at=timezone.now() + dt.timedelta(seconds=self.lease))
        )
        if renewed != 1:
            self.held = False
            raise LeaseLost(f"draft {self.draft_id}: lease lost")
        self.renewed_at = time.monotonic()

    def renewal_due(self) -> bool:
        return time.monotonic() - self.renewed_at >= self.lease / 4

    def release(self, **values: Any) -> None:
        if not self.held:
            return
        self.flush_calls()
        self.rows().filter(lease_owner=self.owner).update(
            lease_owner="", lease_expires_at=None, **{**self.released_values, **values}
        )
        self.held = False

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """A transaction that records a confirmed result (and the log of the calls made for
        it), only while we still hold the row."""
        if not self.held:
            raise LeaseLost(f"draft {self.draft_id}: lease lost before recording")
        with transaction.atomic():
            self.renew_lease()
            if self.log_due():
                self.flush_calls()
            yield

    def write_at_once(self, write: Callable[[], Any]) -> None:
        """Record a confirmation that is one statement, atomic by itself: no transaction
        around it (two round trips fewer) while a recent renewal proves the lease."""
        if not self.held:
            raise LeaseLost(f"draft {self.draft_id}: lease lost before recording")
        if self.renewal_due() or self.log_due() or transaction.get_connection().in_atomic_block:
            with self.recording():
                write()
        else:
            write()

    @contextlib.contextmanager
    def as_current(self) -> Iterator[None]:
        """The requests to the MLS made meanwhile in this context renew this job's lease and go
        to its log (see `renew_current_lease` and `log_exchange`, the client's hooks)."""
        token = _current.set(self)
        try:
            yield
        finally:
            _current.reset(token)

    # -- the call log --
    def log_due(self) -> bool:
        return len(self.pending_calls) >= self.call_log_batch

    def record_exchange(self, exchange: Exchange) -> None:
        if exchange.failure is not None and exchange.status is None:
            outcome = RemoteCall.Outcome.UNKNOWN
        elif exchange.failure is not None or exchange.status is None or exchange.status >= 400:
            outcome = RemoteCall.Outcome.FAILED
        else:
            outcome = RemoteCall.Outcome.OK
        self.pending_calls.append(
            RemoteCall(
                draft_id=self.draft_id,
                method=exchange.method[:8],
                route=(exchange.route or "")[:40],
                path=(exchange.path or "")[:300],
                status=exchange.status,
                spark_code=exchange.code,
                duration_ms=round(exchange.duration_ms, 1),
                outcome=outcome,
                purpose=f"{self.purpose_prefix}{self.purpose}"[:200],
                message=(exchange.failure or "")[:500],
                change_seq=self.seq,
                request_id=(exchange.request_id or "")[:80],
                worker=self.owner[:120],
            )
        )

    def flush_calls(self) -> None:
        """Write the calls logged since the last flush (with the confirmation they led to)."""
        if not self.pending_calls:
            return
        calls, self.pending_calls = self.pending_calls, []
        alias = router.db_for_write(RemoteCall)
        if transaction.get_connection(alias).in_atomic_block:
            insert_rows(calls, alias, keys=False)  # with the confirmation it led to
            return
        try:
            once_the_database_is_back(lambda: insert_rows(calls, alias, keys=False))
        except DatabaseError:
            # The log is for people; a job must not fail for it.
            logger.warning("draft %s: could not write the call log", self.draft_id, exc_info=True)

    def annotate_last_call(self, message: str) -> None:
        if self.pending_calls:
            self.pending_calls[-1].message = message[:500]

    def record_event(self, note: str, *, draft: Draft | None = None) -> None:
        """A line in the draft's history (best effort: the history is for people)."""
        if draft is None:
            draft = Draft.objects.filter(pk=self.draft_id).first()
        if draft is not None:
            with contextlib.suppress(DatabaseError):
                DraftEvent.record(draft, None, DraftEvent.Kind.SYNC, note=note)


class SyncLease(LeasedJob):
    """The claim of a draft's `DraftSync` row: the push and the drift check."""

    model = DraftSync
    # The call log is written in batches (and at the end of every push): a worker killed mid-push
    # loses at most this many log lines, never a confirmation (those are written at once).
    call_log_batch = 25
    released_values = {"state": SyncState.PENDING}

    def __init__(self, draft_id: int, *, owner: str | None = None, budget: float | None = None) -> None:
        super().__init__(draft_id, owner=owner, budget=budget)
        # The held row as read for the current plan, and its mirror rows by (kind, local id).
        self._row: DraftSync | None = None
        self.items: dict[tuple[str, int], RemoteItem] = {}

    @property
    def row(self) -> DraftSync:
        """The held row as read for the current plan (read at the top of each pass)."""
        if self._row is None:
            raise RuntimeError(f"draft {self.draft_id}: no sync row read yet")
        return self._row

    @row.setter
    def row(self, row: DraftSync) -> None:
        self._row = row

    def save_row(self, **values: Any) -> None:
        """Write fields of the held DraftSync row. Only the lease holder writes the mirror's
        fields, so the copy read at the top of the loop stays current: no re-read, no lock."""
        DraftSync.objects.filter(pk=self.draft_id).update(**values)
        for name, value in values.items():
            setattr(self.row, name, value)

    def claimable(self, now: dt.datetime, *, draft_id: int) -> models.QuerySet[DraftSync]:
        return (
            DraftSync.objects.filter(pk=draft_id)
            .exclude(state__in=HELD_STATES)
            # Checked in the claim itself: a promotion that began since we looked wins. As a
            # subquery on draft_id, not a join: with a join Django turns the UPDATE into
            # `pk IN (SELECT ...)`, and PostgreSQL then does not recheck the lease on the row it
            # waited for, so two workers could both take it.
            .exclude(draft_id__in=Draft.objects.filter(status__in=PROMOTION_OWNED).values("pk"))
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        )

    def claim_values(self, now: dt.datetime) -> dict[str, Any]:
        return {"state": SyncState.SYNCING, "last_attempt_at": now}

    def after_takeover(self, now: dt.datetime) -> None:
        """The worker that left the lease behind may have had a write in flight when it died: an
        update with no intent recorded (fields, a caption, a privacy, the order), which could
        still land and undo a newer value. Read the remote back once it no longer can."""
        settle_at = now + dt.timedelta(seconds=settle_seconds())
        DraftSync.objects.filter(pk=self.draft_id, lease_owner=self.owner).exclude(
            draft__remote_id=""
        ).filter(Q(verify_after__isnull=True) | Q(verify_after__lt=settle_at)).update(verify_after=settle_at)


class PublishingLease(LeasedJob):
    """The claim of a draft's `Promotion` row: the publishing job."""

    model = Promotion
    purpose_prefix = "Publish: "

    def claimable(self, now: dt.datetime, *, draft_id: int) -> models.QuerySet[Promotion]:
        return Promotion.objects.filter(
            pk=draft_id, state__in=(PromotionState.RUNNING, PromotionState.WAITING)
        ).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))

    def claim_values(self, now: dt.datetime) -> dict[str, Any]:
        return {"state": PromotionState.RUNNING}
