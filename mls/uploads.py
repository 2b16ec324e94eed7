"""The upload run: the plan's consecutive uploads, sent as one run.

The run's tickets are taken first and all its intents (token, ticket, what is sent) committed
in one transaction, before any bytes leave; each upload's confirmation is then one statement
on its mirror row, written at once. The order and primary the uploads make, and the remote ids
copied onto the media rows for people, are written when the run ends: a worker that dies
before that leaves a mirror that knows every confirmed item, and the next push re-applies the
order (and heals the copies).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import DatabaseError, router
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from listings_portal.compiled_write import insert_rows, run_update
from media_manager.models import Document, Photo
from spark.client import ListingRef, Ticket
from spark.errors import SparkError, SparkRateLimited, SparkTicketError

from . import planner
from .failures import backoff_seconds
from .leased import LeaseLost, SyncLease, mark_helper_thread
from .models import DraftSync, RemoteItem
from .remote import client, hold_every_worker, upload_ticket
from .state import read_content, remote_file_name

logger = logging.getLogger(__name__)

# A run of consecutive uploads is prepared together, up to this many.
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


_ticket_lock = threading.Lock()
_ticket_pool: tuple[int, ThreadPoolExecutor] | None = None


def _ticket_threads() -> ThreadPoolExecutor:
    """This process's threads for upload tickets (made after a fork, never inherited)."""
    global _ticket_pool
    with _ticket_lock:
        if _ticket_pool is None or _ticket_pool[0] != os.getpid():
            workers = max(1, int(settings.SYNC_TICKET_CONCURRENCY))
            _ticket_pool = (os.getpid(), ThreadPoolExecutor(workers, thread_name_prefix="spark-tickets"))
        return _ticket_pool[1]


def _ticket_or_error(kind: str, ref: ListingRef, *, helper: bool = False) -> Ticket | SparkError | None:
    if helper:
        mark_helper_thread()  # in this call's own copy of the job's context
    try:
        return upload_ticket(kind, ref)
    except SparkError as error:
        return error


# What the confirmation's UPDATE is compiled with (`_confirmed_upload`), never written.
_CONFIRM_STAND_INS: dict[str, Any] = {
    "item": -2_000_000_501,
    "remote_id": "stand-in remote id of a compiled confirmation",
    "now": dt.datetime(1901, 1, 1, 0, 0, 5, 503, tzinfo=dt.UTC),
}


def _confirmed_upload(values: Mapping[str, Any]) -> tuple[QuerySet[RemoteItem], dict[str, Any]]:
    """A mirror row whose upload the remote confirmed as `values["remote_id"]`: its ticket spent."""
    return RemoteItem.objects.filter(pk=values["item"]), {
        "remote_id": values["remote_id"],
        "sending": False,
        "ticket_token": "",
        "ticket_uri": "",
        "ticket_expires_at": None,
        "ticket_refused": False,
        "confirmed_at": values["now"],
    }


# What a single remote id's copy onto its media row is compiled with (`_copied_remote_id`).
_COPY_STAND_INS: dict[str, Any] = {
    "item": -2_000_000_601,
    "remote_id": "stand-in remote id of a compiled copy",
}


def _copied_remote_id(
    model: type[Photo | Document], values: Mapping[str, Any]
) -> tuple[QuerySet[Photo] | QuerySet[Document], dict[str, Any]]:
    """A media row given the remote id its upload was confirmed as."""
    return model.objects.filter(pk=values["item"]), {"remote_id": values["remote_id"]}


class UploadRun:
    """The uploads of one push (`job`) in runs: what is prepared, confirmed and still to write."""

    def __init__(self, job: SyncLease) -> None:
        self.job = job
        # The rows whose intent is committed and whose bytes have not left yet; the kinds whose
        # order (and primary) in `job.row` is ahead of the database; the remote ids to copy onto
        # media rows, and those copied already.
        self.prepared: dict[tuple[str, int], RemoteItem] = {}
        self.order_unwritten: set[str] = set()
        self.copies: dict[tuple[str, int], str] = {}
        self.copied: dict[tuple[str, int], str] = {}

    def send(self, op: planner.Upload, ref: ListingRef, upcoming: Sequence[planner.Op]) -> None:
        """Send one upload, first preparing its run (this op and the uploads `upcoming` right
        after it) unless it is already prepared."""
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
            run = self.prepare(op, ref, upcoming)
            with self.job.recording():
                self.write_end()
                self.write_intents(run)
            row = self.prepared[key]
            ticket = row.usable_ticket(op.kind)
        content = read_content(op.kind, op.local_id, op.content_name)
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
                    ref, content, file_name=file_name, name=op.name, caption=op.caption or None
                )
            else:
                assert ticket is not None
                result = api.upload_document_with_ticket(
                    ticket,
                    content,
                    name=op.name,
                    privacy=planner.document_privacy(op.privacy),
                    file_name=file_name,
                )
        except SparkTicketError:
            # The ticket was refused: used (perhaps by an earlier send that did land) or expired.
            # Settle by the remote's list, not by a blind new upload.
            self.job.write_at_once(lambda: RemoteItem.objects.filter(pk=row.pk).update(ticket_refused=True))
            return
        except SparkError as error:
            if not error.ambiguous:
                RemoteItem.objects.filter(pk=row.pk).update(sending=False)
            raise
        remote_id = result.resource_id
        if not remote_id:
            return  # stays `sending`: the next step reads the list and adopts it
        confirmation = {"item": row.pk, "remote_id": remote_id, "now": timezone.now()}
        self.job.write_at_once(
            lambda: run_update(
                "mls.uploads confirm",
                router.db_for_write(RemoteItem),
                _confirmed_upload,
                _CONFIRM_STAND_INS,
                confirmation,
            )
        )
        for name, value in _confirmed_upload(confirmation)[1].items():
            setattr(row, name, value)
        # The remote puts a new item last; the first photo of a listing becomes its primary
        # (docs/spark-protocol.md#photos).
        order_field = planner.ORDER_FIELDS[op.kind]
        order = list(getattr(self.job.row, order_field) or [])
        setattr(self.job.row, order_field, [*order, remote_id])
        if op.kind == planner.PHOTO and (op.primary or not order):
            self.job.row.primary_photo = remote_id
        self.order_unwritten.add(op.kind)
        self.copies[key] = remote_id
        following = upcoming[0] if upcoming else None
        if type(following) is not planner.Upload:
            # The run ends here (a next upload's preparation would carry this with its intents).
            with self.job.recording():
                self.write_end()

    def prepare(
        self, op: planner.Upload, ref: ListingRef, upcoming: Sequence[planner.Op]
    ) -> list[PreparedUpload]:
        """`op` and the uploads right after it in the plan (up to UPLOAD_RUN), each with its
        ticket: a kept one still usable, else a new one. The first new ticket is asked for on
        its own (a refusal there is the run's error; no ticket means the remote takes photos by
        base64 POST, one per run), then the rest: all at once when the first was slow to come
        (`TICKETS_AT_ONCE_AFTER`). A ticket refused for a later upload ends the run there (that
        upload meets the refusal itself)."""
        candidates: list[tuple[RemoteItem, planner.Upload, Ticket | None]] = []
        for upload in (op, *upcoming[: UPLOAD_RUN - 1]):
            if type(upload) is not planner.Upload:
                break
            row = self.job.items.get((upload.kind, upload.local_id)) or RemoteItem(
                draft_id=self.job.draft_id, kind=upload.kind, local_id=upload.local_id
            )
            candidates.append((row, upload, row.usable_ticket(upload.kind)))
        wanted = [index for index, (_row, _upload, kept) in enumerate(candidates) if kept is None]
        taken: dict[int, Ticket | SparkError | None] = {}
        if wanted:
            first, rest = wanted[0], wanted[1:]
            kind = candidates[first][1].kind
            started = time.monotonic()
            # For the run's own first upload a refusal is raised, as for a single upload.
            taken[first] = upload_ticket(kind, ref) if first == 0 else _ticket_or_error(kind, ref)
            at_once = time.monotonic() - started >= TICKETS_AT_ONCE_AFTER
            if isinstance(taken[first], Ticket) and rest:
                kinds = [candidates[index][1].kind for index in rest]
                taken |= self._take_tickets(rest, kinds, ref, at_once=at_once)
        run: list[PreparedUpload] = []
        for index, (row, upload, kept) in enumerate(candidates):
            if kept is None and index not in taken:
                break  # not asked for: an earlier ticket ended the run
            ticket = kept if kept is not None else taken[index]
            if isinstance(ticket, SparkRateLimited):
                hold_every_worker(ticket, backoff_seconds(1))  # the run's uploads wait too
            if isinstance(ticket, SparkError):
                break
            if ticket is None and run:
                break  # a base64 photo starts a run of its own
            run.append((row, upload, ticket))
            if ticket is None:
                break
        return run

    def _take_tickets(
        self, indexes: list[int], kinds: list[str], ref: ListingRef, *, at_once: bool
    ) -> dict[int, Ticket | SparkError | None]:
        """New tickets for several uploads: by index, a ticket, None (no photo tickets) or the
        SparkError the remote answered. `at_once`: all in flight together, from helper threads
        (each call still takes its token from the shared rate limit and goes to the sync log)."""
        if not at_once or len(indexes) <= 1:
            taken: dict[int, Ticket | SparkError | None] = {}
            for index, kind in zip(indexes, kinds, strict=True):
                taken[index] = _ticket_or_error(kind, ref)
                if not isinstance(taken[index], Ticket):
                    break  # the run ends there: no use asking for more
            return taken
        futures = {
            index: _ticket_threads().submit(
                contextvars.copy_context().run, _ticket_or_error, kind, ref, helper=True
            )
            for index, kind in zip(indexes, kinds, strict=True)
        }
        return {index: future.result() for index, future in futures.items()}

    def write_intents(self, run: list[PreparedUpload]) -> None:
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
            insert_rows(new, router.db_for_write(RemoteItem), keys=True)
        if known:
            RemoteItem.objects.bulk_update(known, INTENT_FIELDS)
        for row, op, _ticket in run:
            self.job.items[(op.kind, op.local_id)] = row
            self.prepared[(op.kind, op.local_id)] = row

    def write_end(self) -> None:
        """The order (and primary) the run's confirmed uploads made, and their remote ids
        copied onto the media rows (in the caller's transaction)."""
        changes = {
            planner.ORDER_FIELDS[kind]: getattr(self.job.row, planner.ORDER_FIELDS[kind])
            for kind in self.order_unwritten
        }
        if planner.PHOTO in self.order_unwritten:
            changes["primary_photo"] = self.job.row.primary_photo
        if changes:
            DraftSync.objects.filter(pk=self.job.draft_id).update(**changes)
        self.order_unwritten.clear()
        self.write_copies(self.copies)
        self.copies = {}

    def write_copies(self, copies: Mapping[tuple[str, int], str]) -> None:
        """Copy remote ids onto media rows: one statement per kind, from the mirror rows."""
        for kind, model in ((planner.PHOTO, Photo), (planner.DOCUMENT, Document)):
            ids = [local_id for (k, local_id) in copies if k == kind]
            if len(ids) == 1:
                # One item (a photo's push): its id as it is, without the subquery's compilation,
                # the UPDATE compiled once per connection.
                run_update(
                    ("mls.uploads copy", model),
                    router.db_for_write(model),
                    functools.partial(_copied_remote_id, model),
                    _COPY_STAND_INS,
                    {"item": ids[0], "remote_id": copies[kind, ids[0]]},
                )
            elif ids:
                mirror = RemoteItem.objects.filter(
                    draft_id=self.job.draft_id, kind=kind, local_id=OuterRef("pk")
                )
                model.objects.filter(pk__in=ids).update(remote_id=Subquery(mirror.values("remote_id")[:1]))
        self.copied.update(copies)

    def settle(self, *, after_error: bool = False) -> None:
        """End a run of uploads cut short (an error, a refusal, a replan): write what it
        confirmed, and withdraw the intents of uploads whose bytes never left (they keep their
        tickets). After an error, a failure here is left to the next push, which re-applies
        the order and settles the intents by the remote's list."""
        unsent = [row.pk for row in self.prepared.values()]
        self.prepared = {}
        if not (unsent or self.order_unwritten or self.copies):
            return
        try:
            with self.job.recording():
                self.write_end()
                if unsent:
                    RemoteItem.objects.filter(pk__in=unsent).update(sending=False)
        except (LeaseLost, DatabaseError):
            if not after_error:
                raise
            logger.warning("draft %s: could not record an upload run's end", self.job.draft_id, exc_info=True)
        finally:
            self.order_unwritten.clear()
            self.copies = {}
