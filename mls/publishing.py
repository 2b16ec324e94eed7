"""Publishing an approved draft as a live listing: the publishing job.

The Spark pages document no single "promote" call; this is our reading of them, kept in one
place so it can change when the real behaviour is confirmed (docs/decisions.md): VALIDATE
(`POST /v1/listings/validation`), CREATE (`POST /v1/listings`), PHOTOS and DOCUMENTS (uploads,
names, order, primary, privacy), PARTS (rooms, units, virtual tours, videos and their order:
mls/publishing_parts.py), VERIFY (read back and compare; a difference sends the job
back to the step that puts it right), CLEANUP (delete the incomplete listing), DONE.

`Promotion` records where the job stands, each result written before the next call, so a
crash or a remote failure resumes where it stopped. The job holds its row with the same lease
as the push (mls/leased.py). Transient errors back off up to `PROMOTION_MAX_ATTEMPTS`;
permanent ones fail the job with the remote's words, and a reviewer's retry resumes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.models import User
from drafts.models import Draft, DraftStatus, TransitionNotAllowed
from media_manager.models import Photo, ProcessingState
from spark.client import ListingRef
from spark.errors import SparkError, SparkNotFound, SparkRateLimited, SparkTicketError
from spark.filters import Field

from . import planner
from .enqueue import MAX_BROKER_COUNTDOWN, PROMOTE_DRAFT_TASK
from .failures import backoff_seconds, describe, field_details, is_transient, warnings_by_field
from .leased import DATABASE_LOST, LeaseLost, PublishingLease, once_the_database_is_back, settle_seconds
from .models import DraftSync, ItemKind, Promotion, PromotionItem, PromotionState, PromotionStep
from .part_operations import PartNotYet
from .publishing_parts import PartRefused, compare_parts, publish_parts
from .remote import client, hold_every_worker, parse_time, read_with_retry, upload_ticket
from .state import MASKED, first_line, local_state, read_content, remote_file_name, upload_candidates

logger = logging.getLogger(__name__)

PROMOTION_ORDER: tuple[str, ...] = tuple(PromotionStep.values)
# Verify rounds that found a difference before the job gives up (each round repairs).
MAX_VERIFY_ROUNDS = 3
# Listings created this long before our create was sent cannot be ours (clock skew).
CREATE_CLOCK_SKEW = dt.timedelta(minutes=5)
# While a photo is still being processed, look again after this long.
PROCESSING_WAIT = dt.timedelta(seconds=3)


class NotYet(Exception):
    """Nothing to do until `until` (an answer that may still land, a photo being processed)."""

    def __init__(self, until: dt.datetime, reason: str) -> None:
        super().__init__(reason)
        self.until = until
        self.reason = reason


class Refused(Exception):
    """The job cannot go on without a person: the message says why, in plain words."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


def max_attempts() -> int:
    return int(settings.PROMOTION_MAX_ATTEMPTS)


# --- Starting ---------------------------------------------------------------------------------


def start(draft: Draft, *, by: User) -> Promotion:
    """approved / publishing failed -> promoting, and the job queued after commit.

    A retry after a failure keeps what the live listing already confirmed: the job resumes.
    Raises TransitionNotAllowed (the draft's message) when the draft cannot be published.
    """
    with transaction.atomic():
        draft.begin_promotion(by=by)
        job, created = Promotion.objects.select_for_update().get_or_create(
            draft_id=draft.pk, defaults={"started_by": by}
        )
        if not created:
            job.state = PromotionState.RUNNING
            job.attempts = 0
            job.next_attempt_at = None
            job.error_message = ""
            job.error_details = []
            job.verify_rounds = 0
            job.finished_at = None
            # Validation again: the draft may have changed since the failure.
            job.step = PromotionStep.VALIDATE
            job.started_by = by
            job.save()
        transaction.on_commit(lambda: enqueue(draft.pk))
    return job


def enqueue(draft_id: int, countdown: float | None = None) -> None:
    """Send the job to a worker; a lost message is harmless (the sweep finds the job)."""
    try:
        options: dict[str, Any] = {"retry": False}
        if countdown:
            options["countdown"] = min(countdown, MAX_BROKER_COUNTDOWN)
        current_app.tasks[PROMOTE_DRAFT_TASK].apply_async((draft_id,), **options)
    except Exception:  # the broker is down: the sweep (beat) picks the job up later
        logger.warning("draft %s: could not queue publishing; the sweep will", draft_id, exc_info=True)


def sweep(now: dt.datetime | None = None, *, limit: int = 100) -> int:
    """Queue every job that is due (released, backed off, or whose worker died)."""
    ids = list(Promotion.objects.due(now).values_list("draft_id", flat=True)[:limit])
    for draft_id in ids:
        enqueue(draft_id)
    return len(ids)


# --- Pre-flight -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preflight:
    ok: bool
    message: str
    details: tuple[dict[str, Any], ...] = ()

    def errors_by_field(self) -> dict[str, str]:
        return {d["field"]: d["message"] for d in self.details if d.get("field")}


def preflight(draft: Draft) -> Preflight:
    """Ask the MLS whether this draft would be accepted as a listing; nothing is stored."""
    try:
        result = client().validate_listing(listing_body(draft))
    except SparkError as error:
        if is_transient(error):
            return Preflight(
                False,
                f"The MLS did not answer the check ({describe(error)}). Nothing was sent; "
                "try again in a minute.",
            )
        details = tuple(field_details(error))
        return Preflight(False, f"The MLS would refuse this listing: {describe(error)}", details)
    warnings = tuple(warnings_by_field(result.warnings))
    if warnings:
        return Preflight(True, "The MLS accepts this listing, with warnings.", warnings)
    return Preflight(True, "The MLS accepts this listing: no fatal errors.")


def listing_body(draft: Draft) -> dict[str, Any]:
    """The live listing's fields: the incomplete listing's body, as the draft holds it."""
    return draft.spark_fields()


# --- The job ------------------------------------------------------------------------------------


class Publisher(PublishingLease):
    """One claim of one promotion job: the loop of steps, each result recorded at once."""

    def __init__(self, draft_id: int, *, owner: str | None = None, budget: float | None = None) -> None:
        super().__init__(draft_id, owner=owner, budget=budget)
        self._job: Promotion | None = None

    @property
    def job(self) -> Promotion:
        """The job's row as read at the top of the current step."""
        if self._job is None:
            raise RuntimeError(f"draft {self.draft_id}: no promotion row read yet")
        return self._job

    @job.setter
    def job(self, job: Promotion) -> None:
        self._job = job

    def save_job(self, **values: Any) -> None:
        with self.recording():
            Promotion.objects.filter(pk=self.draft_id).update(**values)
        for name, value in values.items():
            setattr(self.job, name, value)

    def note(self, step: str, text: str) -> None:
        """A line in the job's progress log and in the draft's history."""
        entry = {"step": step, "at": timezone.now().isoformat(), "note": text}
        self.save_job(log=[*(self.job.log or []), entry])
        self.record_event(f"Publishing: {text}")

    def run(self) -> str:
        if not self.claim():
            return "busy"
        with self.as_current():
            try:
                return self._loop()
            except LeaseLost:
                return "lease lost"
            except DATABASE_LOST as error:
                # The database went away mid-step: every step is idempotent against what was
                # recorded, so release the job (below, once the database is back) for the sweep.
                logger.warning(
                    "draft %s: publishing interrupted, database unreachable: %r", self.draft_id, error
                )
                return "database lost"
            finally:
                once_the_database_is_back(self.flush_calls)
                once_the_database_is_back(self.release)

    def _loop(self) -> str:
        started = time.monotonic()
        while True:
            self.job = Promotion.objects.get(pk=self.draft_id)
            draft = Draft.objects.select_related("list_agent").get(pk=self.draft_id)
            if draft.status != DraftStatus.PROMOTING:
                # Nobody asked for this any more (a reviewer sent it back): stop quietly.
                self.release(state=PromotionState.FAILED, error_message="Publishing stopped: not requested.")
                return "stopped"
            if self.job.step == PromotionStep.DONE:
                self._finish_live(draft)
                return "live"
            if time.monotonic() - started > self.budget:
                self.release(state=PromotionState.RUNNING)
                enqueue(self.draft_id)
                return "continued"
            step = self.job.step
            self.purpose = PromotionStep(step).label.lower()
            try:
                getattr(self, f"_step_{step}")(draft)
            except (NotYet, PartNotYet) as wait:
                self.release(
                    state=PromotionState.WAITING, next_attempt_at=wait.until, error_message=str(wait)
                )
                enqueue(self.draft_id, countdown=(wait.until - timezone.now()).total_seconds())
                return "waiting"
            except Refused as refused:
                self._fail(draft, refused.message, refused.details)
                return "failed"
            except PartRefused as refused:
                self._fail(draft, f"The MLS refused {refused}"[:1000])
                return "failed"
            except LeaseLost:
                raise
            except SparkTicketError as error:
                return self._back_off(draft, error)
            except SparkError as error:
                if is_transient(error):
                    return self._back_off(draft, error)
                self._fail(draft, self._refusal(step, error), field_details(error))
                return "failed"
            except (DatabaseError, OSError) as error:
                return self._back_off(draft, error)

    def _refusal(self, step: str, error: SparkError) -> str:
        return f"The MLS refused “{PromotionStep(step).label.lower()}”: {describe(error)}"[:1000]

    def _back_off(self, draft: Draft, error: BaseException) -> str:
        attempts = (self.job.attempts or 0) + 1
        described = describe(error)
        if attempts >= max_attempts():
            self._fail(
                draft,
                f"The MLS kept failing ({attempts} attempts at "
                f"“{PromotionStep(self.job.step).label.lower()}”); last: {described}. "
                "Nothing already published is lost: retry to resume.",
            )
            return "failed"
        retry_after = error.retry_after if isinstance(error, SparkError) else None
        if isinstance(error, SparkRateLimited):
            hold_every_worker(error, 1.0)
        delay = backoff_seconds(attempts, retry_after)
        until = timezone.now() + dt.timedelta(seconds=delay)
        self.release(
            state=PromotionState.WAITING,
            attempts=attempts,
            next_attempt_at=until,
            error_message=f"Retrying after: {described}",
            error_at=timezone.now(),
        )
        enqueue(self.draft_id, countdown=delay)
        return "retrying"

    def _fail(self, draft: Draft, message: str, details: list[dict[str, Any]] | None = None) -> None:
        with self.recording():
            Promotion.objects.filter(pk=self.draft_id).update(
                state=PromotionState.FAILED,
                error_message=message,
                error_details=details or [],
                error_at=timezone.now(),
                finished_at=timezone.now(),
            )
            with contextlib.suppress(TransitionNotAllowed):
                draft.mark_promotion_failed(message)
        self.release(state=PromotionState.FAILED)

    def _finish_live(self, draft: Draft) -> None:
        with self.recording():
            draft.mark_live(self.job.listing_id)
            Promotion.objects.filter(pk=self.draft_id).update(
                state=PromotionState.DONE, finished_at=timezone.now(), error_message="", next_attempt_at=None
            )
        self.release(state=PromotionState.DONE)

    def _advance(self, step: str, note: str | None = None) -> None:
        if note:
            self.note(self.job.step, note)
        self.save_job(step=step, attempts=0, error_message="")

    @property
    def ref(self) -> ListingRef:
        return ListingRef.for_listing(self.job.listing_id)

    # -- 1. validate --
    def _step_validate(self, draft: Draft) -> None:
        result = client().validate_listing(listing_body(draft))
        warnings = warnings_by_field(result.warnings)
        note = "the MLS found no fatal errors"
        if warnings:
            note += f" ({len(warnings)} warning{'s' if len(warnings) != 1 else ''})"
        self._advance(PromotionStep.CREATE, note)

    # -- 2. create --
    def _step_create(self, draft: Draft) -> None:
        api = client()
        body = listing_body(draft)
        if self.job.listing_id:
            # Resuming (a retry after the draft changed): bring the listing's fields up to date.
            changes = planner.changed_fields(body, self.job.confirmed_fields or {})
            if changes:
                api.update_listing(self.job.listing_id, changes)
                self.save_job(confirmed_fields={**(self.job.confirmed_fields or {}), **changes})
                self.note(
                    PromotionStep.CREATE, f"updated {len(changes)} field(s) of listing {self.job.listing_id}"
                )
            self._advance(PromotionStep.PHOTOS)
            return
        if self.job.create_sent_at is not None:
            found = self._find_lost_listing(draft, body)
            if found:
                self.save_job(listing_id=found, confirmed_fields=body, create_sent_at=None)
                self._advance(
                    PromotionStep.PHOTOS, f"found listing {found}, created by a create whose answer was lost"
                )
                return
            settle_until = self.job.create_sent_at + dt.timedelta(seconds=settle_seconds())
            if timezone.now() < settle_until:
                raise NotYet(settle_until, "The MLS may still be creating this listing.")
            self.save_job(create_sent_at=None)  # nothing landed and nothing late can land
        # The intent first: if the answer is lost, the next round looks before creating again.
        self.save_job(create_sent_at=timezone.now())
        try:
            result = api.create_listing(body)
        except SparkError as error:
            if not error.ambiguous:
                self.save_job(create_sent_at=None)
            raise
        listing_id = result.resource_id
        if not listing_id:
            raise Refused(
                "The MLS created the listing but did not say its id. Check the MLS before retrying."
            )
        self.save_job(listing_id=listing_id, confirmed_fields=body, create_sent_at=None)
        self._advance(PromotionStep.PHOTOS, f"created listing {listing_id}")

    def _find_lost_listing(self, draft: Draft, body: Mapping[str, Any]) -> str:
        """The listing a lost create made: same agent and address, modified since we sent it,
        and not another draft's. More than one: a person must look."""
        api = client()
        street = first_line(body)
        query = Field("StreetNumber").eq(str(body["StreetNumber"])) if body.get("StreetNumber") else None
        result = read_with_retry(api.search_listings, filter=query, limit=25)
        sent_at = self.job.create_sent_at
        taken = set(
            Promotion.objects.exclude(pk=self.draft_id)
            .exclude(listing_id="")
            .values_list("listing_id", flat=True)
        )
        found = []
        for record in result.results:
            if not isinstance(record, dict) or str(record.get("Id")) in taken:
                continue
            fields = record.get("StandardFields") or {}
            modified = parse_time(fields.get("ModificationTimestamp"))
            if modified is not None and sent_at is not None and modified < sent_at - CREATE_CLOCK_SKEW:
                continue
            same = all(
                planner.same_value(fields.get(name), body.get(name))
                for name in ("ListAgentId", "City", "PostalCode", "ListPrice", "PropertyType")
                if body.get(name) is not None and name in fields
            )
            if same and first_line(fields) == street:
                found.append(str(record["Id"]))
        if len(found) > 1:
            raise Refused(
                f"Creating the listing got no answer, and the MLS now holds {len(found)} listings "
                "that could be it. Remove the extra ones in the MLS, then retry."
            )
        return found[0] if found else ""

    # -- 3 and 4. photos, documents --
    def _step_photos(self, draft: Draft) -> None:
        self._publish_items(draft, planner.PHOTO)
        self._advance(PromotionStep.DOCUMENTS, f"{len(self.job.photo_order)} photo(s) in order")

    def _step_documents(self, draft: Draft) -> None:
        self._publish_items(draft, planner.DOCUMENT)
        self._advance(PromotionStep.PARTS, f"{len(self.job.document_order)} document(s) in order")

    def _step_parts(self, draft: Draft) -> None:
        count = publish_parts(self, draft)
        self._advance(PromotionStep.VERIFY, f"{count} room, unit, tour and video record(s) in order")

    def _publish_items(self, draft: Draft, kind: str) -> None:
        local = local_state(draft).items(kind)
        if kind == planner.PHOTO:
            self._check_photos_ready(draft, local)
        items = {
            row.local_id: row for row in PromotionItem.objects.filter(promotion_id=self.draft_id, kind=kind)
        }
        self._settle_lost_uploads(kind, items)
        wanted = {item.local_id: item for item in local}
        # Items that left the draft (or whose picture changed) are deleted first.
        for local_id, row in list(items.items()):
            gone = local_id not in wanted
            changed = not gone and row.remote_id and row.content_sha256 != wanted[local_id].content_hash
            if gone or changed:
                self.purpose = f"remove {kind} {local_id}"
                if row.remote_id:
                    self._delete_remote(kind, row.remote_id)
                with self.recording():
                    row.delete()
                del items[local_id]
        for item in local:
            uploaded = items.get(item.local_id)
            if uploaded is None or not uploaded.remote_id:
                self.purpose = f"upload {kind} {item.local_id}"
                items[item.local_id] = self._upload(kind, item, uploaded)
        for item in local:
            self._update_item(kind, item, items[item.local_id])
        self._apply_order(kind, [items[item.local_id].remote_id for item in local], local, items)

    def _check_photos_ready(self, draft: Draft, local: tuple[planner.LocalItem, ...]) -> None:
        waiting = [item for item in local if not item.uploadable]
        if not waiting:
            return
        states = dict(Photo.objects.filter(pk__in=[i.local_id for i in waiting]).values_list("pk", "state"))
        failed = [item for item in waiting if states.get(item.local_id) == ProcessingState.REJECTED]
        if failed:
            raise Refused(
                f"The photo “{failed[0].name}” could not be processed. "
                "Replace or delete it, then publish again."
            )
        raise NotYet(timezone.now() + PROCESSING_WAIT, "Waiting for photos to finish processing.")

    def _settle_lost_uploads(self, kind: str, items: dict[int, PromotionItem]) -> None:
        """Uploads sent without an answer: adopt what landed, else re-use the ticket or wait."""
        sending = [row for row in items.values() if row.sending]
        if not sending:
            return
        remote = read_with_retry(
            client().list_photos if kind == planner.PHOTO else client().list_documents, self.ref
        ).results
        known = {row.remote_id for row in items.values() if row.remote_id}
        unknown = [r for r in remote if isinstance(r, dict) and r.get("Id") and str(r["Id"]) not in known]
        now = timezone.now()
        waits: list[dt.datetime] = []
        for row in sending:
            candidates = upload_candidates(row, unknown)  # by our token, else by name (and caption)
            if candidates:
                # Uploads go one at a time, so the first match is this one; a second copy (if
                # any) is removed by the verify step.
                record = candidates[0]
                unknown.remove(record)
                with self.recording():
                    PromotionItem.objects.filter(pk=row.pk).update(
                        remote_id=str(record["Id"]), sending=False, ticket_token="", confirmed_at=now
                    )
                row.remote_id, row.sending = str(record["Id"]), False
                continue
            settle_until = (row.sending_since or now) + dt.timedelta(seconds=settle_seconds())
            if row.ticket_usable:
                with self.recording():
                    PromotionItem.objects.filter(pk=row.pk).update(sending=False)
                row.sending = False
            elif now < settle_until:
                waits.append(settle_until)
            else:
                with self.recording():
                    PromotionItem.objects.filter(pk=row.pk).update(
                        sending=False, ticket_token="", ticket_uri=""
                    )
                row.sending, row.ticket_token = False, ""
        if waits:
            raise NotYet(min(waits), "The MLS may still be storing an upload.")

    def _upload(self, kind: str, item: planner.LocalItem, row: PromotionItem | None) -> PromotionItem:
        api = client()
        if row is None:
            row = PromotionItem(promotion_id=self.draft_id, kind=kind, local_id=item.local_id)
        if not row.upload_token:
            row.upload_token = uuid.uuid4()
        content = read_content(kind, item.local_id)
        ticket = row.usable_ticket(kind)
        if ticket is None:
            ticket = upload_ticket(kind, self.ref)  # None: no tickets here, the base64 POST
            if ticket is not None:
                row.keep_ticket(ticket)
        # The intent (and the ticket) committed before the bytes leave.
        row.sending, row.sending_since = True, timezone.now()
        row.name, row.caption, row.privacy, row.content_sha256 = (
            item.name,
            item.caption,
            item.privacy,
            item.content_hash,
        )
        with self.recording():
            row.save()
        file_name = remote_file_name(kind, str(row.upload_token))
        try:
            if kind == planner.PHOTO and ticket is not None:
                result = api.upload_photo_with_ticket(
                    ticket, content, name=item.name, caption=item.caption or None, file_name=file_name
                )
            elif kind == planner.PHOTO:
                result = api.upload_photo(
                    self.ref, content, file_name=file_name, name=item.name, caption=item.caption or None
                )
            else:
                assert ticket is not None
                result = api.upload_document_with_ticket(
                    ticket,
                    content,
                    name=item.name,
                    privacy=planner.document_privacy(item.privacy),
                    file_name=file_name,
                )
        except SparkTicketError:
            # Used (perhaps by a send that did land) or expired: settle by the remote's list.
            # The next round reads the list first; the refusal counts as an attempt, so a
            # remote that refuses every ticket ends the job instead of looping.
            with self.recording():
                PromotionItem.objects.filter(pk=row.pk).update(ticket_refused=True)
            raise
        except SparkError as error:
            if not error.ambiguous:
                PromotionItem.objects.filter(pk=row.pk).update(sending=False)
            raise
        remote_id = result.resource_id
        if not remote_id:
            raise NotYet(timezone.now(), "The MLS stored an upload without saying its id; reading its list.")
        with self.recording():
            PromotionItem.objects.filter(pk=row.pk).update(
                remote_id=remote_id,
                sending=False,
                ticket_token="",
                ticket_uri="",
                confirmed_at=timezone.now(),
            )
        row.remote_id, row.sending = remote_id, False
        return row

    def _update_item(self, kind: str, item: planner.LocalItem, row: PromotionItem) -> None:
        api = client()
        self.purpose = f"update {kind} {item.local_id}"
        changes: dict[str, Any] = {}
        if kind == planner.PHOTO:
            if (row.name, row.caption) != (item.name, item.caption):
                api.update_photo(self.ref, row.remote_id, name=item.name, caption=item.caption)
                changes.update(name=item.name, caption=item.caption)
        else:
            if row.name != item.name:
                api.rename_document(self.ref, row.remote_id, item.name)
                changes["name"] = item.name
            if item.privacy and row.privacy != item.privacy:
                api.set_document_privacy(self.ref, row.remote_id, planner.document_privacy(item.privacy))
                changes["privacy"] = item.privacy
        if changes:
            with self.recording():
                PromotionItem.objects.filter(pk=row.pk).update(**changes)
            for name, value in changes.items():
                setattr(row, name, value)

    def _apply_order(
        self,
        kind: str,
        wanted: list[str],
        local: tuple[planner.LocalItem, ...],
        items: dict[int, PromotionItem],
    ) -> None:
        api = client()
        order_field = planner.ORDER_FIELDS[kind]
        if list(getattr(self.job, order_field) or []) != wanted and len(wanted) > 1:
            self.purpose = f"order the {kind}s"
            (api.reorder_photos if kind == planner.PHOTO else api.reorder_documents)(self.ref, wanted)
        if list(getattr(self.job, order_field) or []) != wanted:
            self.save_job(**{order_field: wanted})
        if kind == planner.PHOTO and wanted:
            primary = next((items[i.local_id].remote_id for i in local if i.primary), wanted[0])
            if self.job.primary_photo != primary:
                self.purpose = "set the primary photo"
                api.update_photo(self.ref, primary, primary=True)
                self.save_job(primary_photo=primary)

    def _delete_remote(self, kind: str, remote_id: str) -> None:
        api = client()
        with contextlib.suppress(SparkNotFound):  # already gone: a delete whose answer was lost
            if kind == planner.PHOTO:
                api.delete_photo(self.ref, remote_id)
            else:
                api.delete_document(self.ref, remote_id)

    # -- 5. verify --
    def _step_verify(self, draft: Draft) -> None:
        api = client()
        listing = read_with_retry(api.get_listing, self.job.listing_id)
        record = listing.first or {}
        fields = record.get("StandardFields") or {}
        photos = read_with_retry(api.list_photos, self.ref).results
        documents = read_with_retry(api.list_documents, self.ref).results
        problems, back_to = self._compare(draft, fields, photos, documents)
        if not problems:
            number = fields.get("ListingId") or record.get("ListingId") or ""
            self.save_job(listing_number=str(number or "")[:40])
            self._advance(PromotionStep.CLEANUP, "the live listing matches the draft")
            return
        rounds = self.job.verify_rounds + 1
        if rounds > MAX_VERIFY_ROUNDS:
            raise Refused(
                "The live listing still differs from the draft after repairs: " + "; ".join(problems[:5])
            )
        self.note(PromotionStep.VERIFY, "repairing: " + "; ".join(problems[:5]))
        self.save_job(verify_rounds=rounds, step=back_to)

    def _compare(
        self, draft: Draft, fields: Mapping[str, Any], photos: list[Any], documents: list[Any]
    ) -> tuple[list[str], str]:
        """What differs between the live listing and the draft, repaired or forgotten so the
        step it sends the job back to puts it right; and that step (the earliest needed)."""
        problems: list[str] = []
        back_to: list[str] = []
        body = listing_body(draft)
        stale = [
            name
            for name, value in body.items()
            if name not in ("CustomFields", "ListAgentId")
            and value is not None
            and name in fields
            and fields[name] != MASKED
            and not planner.same_value(fields[name], value)
        ]
        if stale:
            problems.append(f"fields differ: {', '.join(sorted(stale)[:5])}")
            confirmed = {k: v for k, v in (self.job.confirmed_fields or {}).items() if k not in stale}
            self.save_job(confirmed_fields=confirmed)
            back_to.append(PromotionStep.CREATE)
        for kind, records, step in (
            (planner.PHOTO, photos, PromotionStep.PHOTOS),
            (planner.DOCUMENT, documents, PromotionStep.DOCUMENTS),
        ):
            found = self._compare_items(kind, [r for r in records if isinstance(r, dict) and r.get("Id")])
            if found:
                problems.extend(found)
                back_to.append(step)
        parts = compare_parts(self, draft)
        if parts:
            problems.extend(parts)
            back_to.append(PromotionStep.PARTS)
        first = min(back_to, key=PROMOTION_ORDER.index) if back_to else PromotionStep.CLEANUP
        return problems, first

    def _compare_items(self, kind: str, records: list[dict[str, Any]]) -> list[str]:
        problems: list[str] = []
        order_field = planner.ORDER_FIELDS[kind]
        rows = {
            row.remote_id: row
            for row in PromotionItem.objects.filter(promotion_id=self.draft_id, kind=kind).exclude(
                remote_id=""
            )
        }
        remote_ids = [str(r["Id"]) for r in records]
        for extra in [rid for rid in remote_ids if rid not in rows]:
            # A lost upload that landed twice, or an item the draft no longer has.
            self.purpose = f"remove extra {kind} {extra}"
            self._delete_remote(kind, extra)
            problems.append(f"removed an extra {kind}")
        missing = [rid for rid in rows if rid not in remote_ids]
        if missing:
            with self.recording():
                PromotionItem.objects.filter(
                    promotion_id=self.draft_id, kind=kind, remote_id__in=missing
                ).delete()
            problems.append(f"{len(missing)} {kind}(s) missing")
        ours = [rid for rid in remote_ids if rid in rows]
        if missing or ours != list(getattr(self.job, order_field) or []):
            if not missing:
                problems.append(f"{kind} order differs")
            self.save_job(**{order_field: []})
        if kind == planner.PHOTO:
            primary = next((str(r["Id"]) for r in records if r.get("Primary")), "")
            if primary != self.job.primary_photo:
                problems.append("primary photo differs")
                self.save_job(primary_photo="")
            for record in records:
                row = rows.get(str(record["Id"]))
                if row is not None and (record.get("Name"), record.get("Caption") or "") != (
                    row.name,
                    row.caption,
                ):
                    problems.append(f"name or caption of photo {row.name} differs")
                    with self.recording():
                        PromotionItem.objects.filter(pk=row.pk).update(
                            name=str(record.get("Name") or ""), caption=str(record.get("Caption") or "")
                        )
        else:
            for record in records:
                row = rows.get(str(record["Id"]))
                if row is None:
                    continue
                if (record.get("Privacy") and record["Privacy"] != row.privacy) or (
                    record.get("Name") is not None and record["Name"] != row.name
                ):
                    problems.append(f"document {row.name} differs")
                    with self.recording():
                        PromotionItem.objects.filter(pk=row.pk).update(
                            privacy=record.get("Privacy") or "", name=str(record.get("Name") or "")
                        )
        return problems

    # -- 6. cleanup --
    def _step_cleanup(self, draft: Draft) -> None:
        remote_id = draft.remote_id
        if remote_id:
            sync_row = DraftSync.objects.filter(pk=self.draft_id).first()
            if sync_row is not None and sync_row.lease_is_live:
                raise NotYet(timezone.now() + dt.timedelta(seconds=2), "Waiting for a sync push to finish.")
            self.purpose = "remove the incomplete listing"
            with contextlib.suppress(SparkNotFound):
                client().delete_incomplete_listing(remote_id)
            with self.recording():
                Draft.objects.filter(pk=self.draft_id).update(remote_id="", remote_resource_uri="")
            self._advance(PromotionStep.DONE, f"removed incomplete listing {remote_id}")
            return
        self._advance(PromotionStep.DONE)


def run(draft_id: int, *, budget: float | None = None) -> str:
    """Work on the draft's promotion job until it is live, fails, waits or runs out of budget."""
    return Publisher(draft_id, budget=budget).run()


def live_listing(draft: Draft) -> dict[str, Any]:
    """The live listing as the MLS shows it now, with its photos, documents, rooms, units,
    virtual tours and videos (for its page)."""
    api = client()
    result = read_with_retry(
        api.get_listing,
        draft.live_listing_id,
        expand=["Photos", "Documents", "Rooms", "Units", "VirtualTours", "Videos"],
    )
    return dict(result.first or {})


__all__ = [
    "ItemKind",
    "NotYet",
    "Preflight",
    "Publisher",
    "Refused",
    "enqueue",
    "listing_body",
    "live_listing",
    "preflight",
    "run",
    "start",
    "sweep",
]
