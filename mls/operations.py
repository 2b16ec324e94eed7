"""What each op of a plan sends to the MLS and records once it is confirmed.

`PushCalls` is the push's claim (mls/leased.py) with one handler per planner op; the loop
that plans and calls them is `mls/push.py`. Creates and uploads carry a marker we control
(the create's Draft Key custom field, the upload's token as FileName), so an answer that was
lost is looked for in the remote before anything is sent again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from drafts.models import Draft, DraftEvent
from media_manager.models import Document, Photo
from spark.client import ListingRef
from spark.errors import SparkError, SparkNotFound
from spark.filters import Field
from spark.responses import SparkResult

from . import planner
from .failures import accepted_refusals_cleared, warnings_by_field
from .leased import settle_seconds
from .models import DraftSync, RemoteItem, RemotePart, new_marker
from .part_operations import PartCalls
from .remote import all_incomplete_listings, client, list_items, parse_time, read_with_retry
from .state import (
    MASKED,
    apply_remote_to_mirror,
    first_line,
    read_content,
    read_remote,
    refresh_order,
    remote_file_name,
    set_local_remote_id,
    upload_candidates,
)
from .uploads import UploadRun

MARKER_GROUP = "Listing Drafts Portal"


MARKER_FIELD = "Draft Key"


# Waits shorter than this are slept through while holding the lease (a reorder settling).

# Remote listings modified this long before our create was sent cannot be ours.
CREATE_CLOCK_SKEW = dt.timedelta(minutes=5)

REMOVED_NOTE = "Removed from the MLS: the draft is in the trash"


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


@dataclass
class PushContext:
    seq: int
    ref: ListingRef | None
    # The ops of the plan after the one running (an upload prepares the next one's ticket).
    upcoming: Sequence[planner.Op] = ()

    @property
    def listing(self) -> ListingRef:
        """The remote listing the op works on: the planner plans no other op than a create (or
        the lookup after a lost one) before the listing exists."""
        if self.ref is None:
            raise RuntimeError("This op needs the remote listing, and the draft has none yet.")
        return self.ref


class PushCalls(PartCalls):
    """The claim of one draft, with what each op of a plan sends and records."""

    def __init__(self, draft_id: int, *, owner: str | None = None, budget: float | None = None) -> None:
        super().__init__(draft_id, owner=owner, budget=budget)
        self.progressed = False
        self.verify_needed = False
        # This pass created the remote listing (and kept `draft` and `self.row` current).
        self.created_now = False
        self.uploads = UploadRun(self)

    # -- the loop --

    def _execute(self, op: planner.Op, draft: Draft, context: PushContext) -> None:
        handler = getattr(self, f"_op_{type(op).__name__}")
        self.purpose = _purpose(op)
        handler(op, draft, context)

    def _op_CreateListing(self, op: planner.CreateListing, draft: Draft, context: PushContext) -> None:
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
        self._adopt_listing(remote_id, dict(op.fields), warnings_by_field(result.warnings))
        draft.remote_id, draft.remote_resource_uri = remote_id, _incomplete_uri(remote_id)
        self.created_now = True
        self.record_event(f"Created in the MLS as incomplete listing {remote_id}", draft=draft)

    def _adopt_listing(
        self, remote_id: str, confirmed: dict[str, Any], warnings: list[dict[str, Any]] | None = None
    ) -> None:
        """`warnings`: the create's warnings, by field (`warnings_by_field`)."""
        with self.recording():
            Draft.objects.filter(pk=self.draft_id).update(
                remote_id=remote_id, remote_resource_uri=_incomplete_uri(remote_id)
            )
            self.save_row(
                create_sent_at=None,
                confirmed_fields=confirmed,
                fields_failed_seq=None,
                refused_fields={},
                refused_at=None,
                remote_warnings=warnings or [],
                photo_order=[],
                document_order=[],
                part_order={},
                primary_photo="",
            )

    def _op_FindListing(self, op: planner.FindListing, draft: Draft, context: PushContext) -> None:
        sync = DraftSync.objects.get(pk=self.draft_id)
        marker, sent_at = sync.create_marker, sync.create_sent_at
        assert sent_at is not None
        api = client()
        agent_id = draft.spark_fields().get("ListAgentId")
        # Narrow by the address the create carried (searchable on incomplete listings:
        # docs/spark-protocol.md#filter-syntax): a handful of candidates, not every listing.
        street = Field("StreetAddress").eq(sync.create_street) if sync.create_street else None
        recent = []
        for record in all_incomplete_listings(street):
            fields = record.get("StandardFields") or {}
            modified = parse_time(fields.get("ModificationTimestamp"))
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
            self.record_event(f"Found the incomplete listing {full.first['Id']} a lost answer created")
            return
        settle_until = sent_at + dt.timedelta(seconds=settle_seconds())
        if timezone.now() < settle_until:
            raise NotYet(settle_until, "The MLS may still be creating this listing.")
        # No listing carries the key and a late answer can no longer land: create it again.
        with self.recording():
            DraftSync.objects.filter(pk=self.draft_id).update(create_sent_at=None)

    def _op_Verify(self, op: planner.Verify, draft: Draft, context: PushContext) -> None:
        try:
            remote = read_remote(context.listing)
        except SparkNotFound as error:
            # A lost delete of a trashed draft that was restored since, or a removal in the MLS.
            if error.route == "incomplete.get":
                raise ListingGone from error
            raise
        with self.recording():
            sync = DraftSync.objects.select_for_update().get(pk=self.draft_id)
            apply_remote_to_mirror(sync, remote, adopt_duplicates=True)
            sync.save()
        # Then the parts (their own lists), and only then is the read-back done.
        self.row = DraftSync.objects.get(pk=self.draft_id)
        self.refresh_parts(context.listing)
        with self.recording():
            self.save_row(verify_after=None)

    def _op_UpdateFields(self, op: planner.UpdateFields, draft: Draft, context: PushContext) -> None:
        result = client().update_incomplete_listing(context.listing.id, dict(op.changes))
        with self.recording():
            self.save_row(
                confirmed_fields={**(self.row.confirmed_fields or {}), **op.changes},
                edits_pushed_at=timezone.now(),
                fields_failed_seq=None,
                remote_warnings=warnings_by_field(result.warnings),
                error_details=[],
                **accepted_refusals_cleared(self.row.refused_fields, self.row.refused_at, op.changes),
            )

    def _op_ReconcileItems(self, op: planner.ReconcileItems, draft: Draft, context: PushContext) -> None:
        remote = list_items(op.kind, context.listing)
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
            candidates = upload_candidates(row, unknown)
            if len(candidates) > 1:
                raise NeedsAttention(
                    f"An upload of {item_noun(row)} got no answer and the MLS now holds {len(candidates)} "
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
            settle_until = (row.sending_since or now) + dt.timedelta(seconds=settle_seconds())
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
            refresh_order(self.draft_id, op.kind, remote)
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
            set_local_remote_id(row.kind, row.local_id, remote_id)

    def _op_Forget(self, op: planner.Forget, draft: Draft, context: PushContext) -> None:
        with self.recording():
            RemoteItem.objects.filter(
                draft_id=self.draft_id, kind=op.kind, local_id=op.local_id, remote_id=""
            ).delete()

    def _op_DeleteListing(self, op: planner.DeleteListing, draft: Draft, context: PushContext) -> None:
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
            RemotePart.objects.filter(draft_id=self.draft_id).delete()
            Photo.objects.filter(draft_id=self.draft_id).exclude(remote_id="").update(remote_id="")
            Document.objects.filter(draft_id=self.draft_id).exclude(remote_id="").update(remote_id="")
            self.save_row(
                confirmed_seq=0,
                confirmed_fields={},
                fields_failed_seq=None,
                refused_fields={},
                refused_at=None,
                remote_warnings=[],
                # A fresh create gets a fresh key: the deleted listing carried the old one.
                create_marker="",
                create_sent_at=None,
                create_street="",
                photo_order=[],
                document_order=[],
                part_order={},
                primary_photo="",
                verify_after=None,
                photo_order_seen=[],
                photo_order_seen_at=None,
                photo_order_pushed_at=None,
                document_order_seen=[],
                document_order_seen_at=None,
                document_order_pushed_at=None,
                edits_seen="",
                edits_seen_at=None,
                edits_pushed_at=None,
                remote_checked_at=None,
            )
            DraftEvent.record(draft, None, DraftEvent.Kind.SYNC, note=REMOVED_NOTE)

    def _op_Delete(self, op: planner.Delete, draft: Draft, context: PushContext) -> None:
        api = client()
        try:
            if op.kind == planner.PHOTO:
                api.delete_photo(context.listing, op.remote_id)
            else:
                api.delete_document(context.listing, op.remote_id)
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
                set_local_remote_id(op.kind, op.local_id, "")

    def _op_Upload(self, op: planner.Upload, draft: Draft, context: PushContext) -> None:
        self.uploads.send(op, context.listing, context.upcoming)

    def _op_Replace(self, op: planner.Replace, draft: Draft, context: PushContext) -> None:
        content = read_content(op.kind, op.local_id, op.content_name)
        with self.recording():
            RemoteItem.objects.filter(draft_id=self.draft_id, kind=op.kind, local_id=op.local_id).update(
                sending=True,
                sending_since=timezone.now(),
                replacing=op.remote_id,
                pending_sha256=op.content_hash,
            )
        try:
            result = client().replace_photo(
                context.listing,
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
            set_local_remote_id(op.kind, op.local_id, new_id)

    def _op_UpdatePhoto(self, op: planner.UpdatePhoto, draft: Draft, context: PushContext) -> None:
        client().update_photo(
            context.listing,
            op.remote_id,
            name=op.name,
            caption=op.caption,
            primary=True if op.primary else None,
        )
        now = timezone.now()
        changes: dict[str, Any] = {"confirmed_at": now}
        if op.name is not None:
            changes["name"] = op.name
        if op.caption is not None:
            changes["caption"] = op.caption
        with self.recording():
            RemoteItem.objects.filter(draft_id=self.draft_id, kind=op.kind, local_id=op.local_id).update(
                **changes
            )
            self.save_row(edits_pushed_at=now, **({"primary_photo": op.remote_id} if op.primary else {}))

    def _op_SetPrimary(self, op: planner.SetPrimary, draft: Draft, context: PushContext) -> None:
        client().update_photo(context.listing, op.remote_id, primary=True)
        with self.recording():
            self.save_row(primary_photo=op.remote_id, edits_pushed_at=timezone.now())

    def _op_RenameDocument(self, op: planner.RenameDocument, draft: Draft, context: PushContext) -> None:
        client().rename_document(context.listing, op.remote_id, op.name)
        now = timezone.now()
        with self.recording():
            RemoteItem.objects.filter(draft_id=self.draft_id, kind=op.kind, local_id=op.local_id).update(
                name=op.name, confirmed_at=now
            )
            self.save_row(edits_pushed_at=now)

    def _op_SetPrivacy(self, op: planner.SetPrivacy, draft: Draft, context: PushContext) -> None:
        client().set_document_privacy(context.listing, op.remote_id, planner.document_privacy(op.privacy))
        now = timezone.now()
        with self.recording():
            RemoteItem.objects.filter(draft_id=self.draft_id, kind=op.kind, local_id=op.local_id).update(
                privacy=op.privacy, confirmed_at=now
            )
            self.save_row(edits_pushed_at=now)

    def _op_Reorder(self, op: planner.Reorder, draft: Draft, context: PushContext) -> None:
        api = client()
        if op.kind == planner.PHOTO:
            api.reorder_photos(context.listing, list(op.remote_ids))
        else:
            api.reorder_documents(context.listing, list(op.remote_ids))
        order_field = planner.ORDER_FIELDS[op.kind]
        with self.recording():
            self.save_row(**{order_field: list(op.remote_ids), f"{order_field}_pushed_at": timezone.now()})


def _incomplete_uri(remote_id: str) -> str:
    return f"/v1/listings/incomplete/{remote_id}"


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


def item_noun(row: Any) -> str:
    kind = getattr(row, "kind", "item")
    name = getattr(row, "name", "")
    return f"{kind} “{name}”" if name else f"{kind} {getattr(row, 'local_id', '')}".strip()
