"""The incomplete listing (a draft): its fields, edits, review transitions, trash and copies."""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, router, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from listings_portal.compiled_get import CompiledGet, compile_get, compiled_once

from .. import doorbell, notifications, rules
from ..fields import AUTOSAVE_FIELDS, EDITABLE_FIELDS, SPARK_NAMES, PropertyType
from ..layout import MlsField, with_custom_value
from ..readiness import Readiness, readiness_of
from .history import DraftEvent
from .parts import ListingPart
from .queryset import DraftQuerySet, box_around, reach_of, user_with_keys
from .review import REVIEW_COMMENT_MAX, REVIEW_REASON_MAX, ReviewComment, ReviewSnapshot
from .status import SENT_BACK_BY_EDITS, DraftStatus, TransitionNotAllowed

PROMOTION_FAILURE_MAX = 1000
# The remote's listing ids (ULIDs) are 26 characters.
LISTING_ID_MAX = 26

EARTH_RADIUS_METRES = 6_371_000.0
# `nearby` sorts by exact distance in Python: the bounding box may hold at most this many.
NEARBY_CANDIDATES_MAX = 500
# The address's first line, in the order it reads (`unparsed_first_line_address`).
FIRST_LINE_FIELDS = (
    "street_number",
    "street_dir_prefix",
    "street_name",
    "street_suffix",
    "street_dir_suffix",
)
# The first line's parts read in one call (the list asks for 25 addresses a page).
_first_line_parts = operator.attrgetter(*FIRST_LINE_FIELDS)
NEARBY_SHOWN = (
    "latitude",
    "longitude",
    "status",
    *FIRST_LINE_FIELDS,
    "street_additional_info",
    "list_agent__first_name",
    "list_agent__last_name",
    "list_agent__username",
)


class StaleEdit(Exception):
    """The field changed since the version the editor saw; nothing was saved."""

    def __init__(self, field: str, current: Any, version: int):
        super().__init__(field)
        self.field = field
        self.current = current
        self.version = version


@dataclass(frozen=True)
class FieldSaved:
    draft: Draft
    changed: bool


def _comparable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize()
    if value == "":
        return None
    return value


class Draft(models.Model):
    """A listing being drafted: Spark's incomplete listing, kept here first.

    `version` is the optimistic lock for editors. `change_seq` counts every change that
    must reach the remote (fields, photos, documents, order); the sync engine pushes
    until it has confirmed the latest value.
    """

    office = models.ForeignKey("accounts.Office", on_delete=models.PROTECT, related_name="drafts")
    list_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="listed_drafts"
    )
    co_list_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="co_listed_drafts",
        null=True,
        blank=True,
        verbose_name="co-listing agent",
    )
    status = models.CharField(max_length=20, choices=DraftStatus.choices, default=DraftStatus.DRAFT)

    # --- The fields of Spark's incomplete-listing body ---
    property_type = models.CharField(
        max_length=1, choices=PropertyType.choices, default=PropertyType.RESIDENTIAL
    )
    property_sub_type = models.CharField("property sub-type", max_length=20, blank=True)
    list_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    street_number = models.CharField(max_length=25, blank=True)
    street_dir_prefix = models.CharField("direction prefix", max_length=5, blank=True)
    street_name = models.CharField(max_length=80, blank=True)
    street_suffix = models.CharField(max_length=25, blank=True)
    street_dir_suffix = models.CharField("direction suffix", max_length=5, blank=True)
    street_additional_info = models.CharField("unit / additional info", max_length=50, blank=True)
    city = models.CharField(max_length=60, blank=True)
    state_or_province = models.CharField("state", max_length=2, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    county_or_parish = models.CharField("county", max_length=60, blank=True)
    subdivision_name = models.CharField("subdivision", max_length=80, blank=True)
    mls_area_minor = models.CharField("MLS area", max_length=60, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    year_built = models.PositiveSmallIntegerField(null=True, blank=True)
    building_area_total = models.PositiveIntegerField("building area (sq ft)", null=True, blank=True)
    beds_total = models.PositiveSmallIntegerField("bedrooms", null=True, blank=True)
    baths_total = models.PositiveSmallIntegerField("baths total", null=True, blank=True)
    baths_full = models.PositiveSmallIntegerField("full baths", null=True, blank=True)
    baths_three_quarter = models.PositiveSmallIntegerField("three-quarter baths", null=True, blank=True)
    baths_half = models.PositiveSmallIntegerField("half baths", null=True, blank=True)
    public_remarks = models.TextField(blank=True)
    private_remarks = models.TextField(blank=True)
    # {"Group name": {"Field name": value}} as Spark's CustomFields.
    custom_fields = models.JSONField(default=dict, blank=True)
    # Standard fields the MLS's layout shows that have no column here, by their MLS names
    # ({"ListingContractDate": "2026-05-01", "LotSizeAcres": 0.42}); pushed with the listing.
    standard_fields_extra = models.JSONField(default=dict, blank=True)

    # --- Bookkeeping ---
    version = models.PositiveIntegerField(default=1)
    change_seq = models.PositiveBigIntegerField(default=1)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    # --- What the remote holds (filled by the sync engine) ---
    remote_id = models.CharField(max_length=26, blank=True)
    remote_resource_uri = models.CharField(max_length=200, blank=True)
    remote_modified_at = models.DateTimeField(null=True, blank=True)
    live_listing_id = models.CharField(max_length=26, blank=True)

    # --- Review and promotion ---
    submitted_at = models.DateTimeField(null=True, blank=True)
    promotion_failure_reason = models.CharField(max_length=PROMOTION_FAILURE_MAX, blank=True)
    # Unresolved ReviewComments, kept with the row so the editor asks for them only when
    # there are some.
    open_review_comments = models.PositiveIntegerField(default=0)

    objects = DraftQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-pk"]
        indexes = [
            # Partial on the live drafts, so the list's ORDER BY updated_at DESC, id DESC reads
            # them in order (PostgreSQL cannot order by a column after an IS NULL one).
            models.Index(
                fields=["office", "-updated_at", "-id"],
                condition=Q(deleted_at__isnull=True),
                name="draft_office_recent",
            ),
            models.Index(
                fields=["list_agent", "-updated_at", "-id"],
                condition=Q(deleted_at__isnull=True),
                name="draft_agent_recent",
            ),
            # An agent's list is the union of the drafts they list, co-list and created
            # (ListedDrafts): each part read in the list's order from an index of its own.
            models.Index(
                fields=["co_list_agent", "-updated_at", "-id"],
                condition=Q(deleted_at__isnull=True),
                name="draft_co_agent_recent",
            ),
            models.Index(
                fields=["created_by", "-updated_at", "-id"],
                condition=Q(deleted_at__isnull=True),
                name="draft_creator_recent",
            ),
            # The list's count of an office's live drafts: an index of the office alone is about
            # half the size of draft_office_recent, and COUNT(*) reads all of its entries.
            models.Index(fields=["office"], condition=Q(deleted_at__isnull=True), name="draft_office_live"),
            models.Index(fields=["latitude", "longitude"], name="draft_coordinates"),
            models.Index(fields=["status"], name="draft_status"),
            # The review queue and the navigation's count: one office's submitted drafts. Status
            # is in the entries as well as the condition: SQLite compares `status = %s` (a bound
            # parameter) against every row it counts, from the table unless the index holds it.
            models.Index(
                fields=["office", "status", "submitted_at"],
                condition=Q(status="submitted", deleted_at__isnull=True),
                name="draft_awaiting_review",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=DraftStatus.values), name="draft_status_valid"),
            models.CheckConstraint(
                condition=Q(property_type__in=PropertyType.values), name="draft_property_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="draft_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="draft_longitude_range",
            ),
            models.CheckConstraint(
                condition=Q(list_price__isnull=True) | Q(list_price__gte=0), name="draft_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.unparsed_first_line_address or f"Draft #{self.pk}"

    # --- Derived address, as the remote shows it ---
    @property
    def unparsed_first_line_address(self) -> str:
        line = " ".join(filter(None, _first_line_parts(self)))
        if self.street_additional_info:
            line = f"{line} {self.street_additional_info}" if line else self.street_additional_info
        return line

    @property
    def unparsed_address(self) -> str:
        state_zip = " ".join(part for part in (self.state_or_province, self.postal_code) if part)
        return ", ".join(part for part in (self.unparsed_first_line_address, self.city, state_zip) if part)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    # --- Permissions of one object ---
    @property
    def is_editable(self) -> bool:
        """Whether the draft's state allows edits at all (who may edit is `can_edit`)."""
        return not self.is_deleted and self.status not in (DraftStatus.PROMOTING, DraftStatus.LIVE)

    def can_edit(self, user) -> bool:
        if not self.is_editable:
            return False
        return Draft.objects.visible_to(user).filter(pk=self.pk).exists()

    # --- Spark payload ---
    def spark_fields(self) -> dict[str, Any]:
        """The incomplete-listing body as Spark names it (ListAgentId from the agent)."""
        body: dict[str, Any] = {}
        for name, spark_name in SPARK_NAMES.items():
            value = getattr(self, name)
            if isinstance(value, Decimal):
                value = float(value) if value % 1 else int(value)
            body[spark_name] = None if value == "" else value
        for spark_name, value in (self.standard_fields_extra or {}).items():
            if spark_name not in body:
                body[spark_name] = None if value in ("", []) else value
        body["ListAgentId"] = self.list_agent.remote_agent_id or None
        if self.custom_fields:
            body["CustomFields"] = self.custom_fields
        return body

    # --- Changes ---
    def mark_changed(self) -> None:
        """Record, inside the caller's transaction, that the remote must catch up.

        Call inside `transaction.atomic()` after changing this draft or its media.
        """
        Draft.objects.filter(pk=self.pk).update(change_seq=F("change_seq") + 1)
        doorbell.ring_after_commit(self.pk)

    def save_field(
        self,
        name: str,
        raw_value: Any,
        *,
        by: User,
        seen_version: int,
        seen_value: Any,
        own_unconfirmed: tuple[Any, ...] = (),
        locked: bool = False,
    ) -> FieldSaved:
        """Save one field typed in the editor.

        Refuses (StaleEdit) when the draft moved on since `seen_version` *and* this field
        no longer holds `seen_value`: someone else changed it, and the person must choose.
        `own_unconfirmed` are values this same editor sent before without hearing back
        (a reply lost on the way); the field holding one of them is not someone else's
        change. Raises ValidationError for a value the field cannot hold. `locked`: this
        instance is the row the caller's transaction read locked (`get_draft_for(lock=True)`).
        """
        if name not in AUTOSAVE_FIELDS:
            raise ValidationError(f"{name} is not an editable field.")
        model_field = self._meta.get_field(name)
        # A foreign key is saved and compared by its id.
        attname = model_field.attname
        if isinstance(raw_value, str):
            raw_value = raw_value.strip() if name not in ("public_remarks", "private_remarks") else raw_value
        if raw_value in ("", None):
            if not model_field.blank:
                raise ValidationError("This field cannot be empty.")
            value = None if model_field.null else ""
        else:
            value = model_field.clean(raw_value, self)
        with self._row_for_edit(by, already_locked=locked) as row:
            current = getattr(row, attname)
            known = [_comparable(_parse_seen(model_field, seen)) for seen in (seen_value, *own_unconfirmed)]
            if row.version != seen_version and _comparable(current) not in known:
                raise StaleEdit(name, current, row.version)
            if _comparable(current) == _comparable(value):
                return FieldSaved(row, changed=False)
            setattr(row, attname, value)
            self._record_edit(row, by, name, current, value)
        return FieldSaved(row, changed=True)

    def save_mls_value(
        self,
        spec: MlsField,
        raw_value: Any,
        *,
        by: User,
        seen_version: int,
        seen_value: Any,
        own_unconfirmed: tuple[Any, ...] = (),
        locked: bool = False,
    ) -> FieldSaved:
        """Save one field of the MLS's layout that has no column: a standard field in
        `standard_fields_extra`, a custom field under the MLS's group and name in
        `custom_fields`. The same optimistic lock as `save_field` (StaleEdit when someone else
        changed this value); ValidationError in plain words for a value the MLS cannot take.
        `locked` as for `save_field`."""
        if spec.column:
            raise ValueError(f"{spec.spark_name} is the column {spec.column}: use save_field")
        value = spec.parse(raw_value)
        name = "custom_fields" if spec.is_custom else "standard_fields_extra"
        with self._row_for_edit(by, already_locked=locked) as row:
            current = spec.stored(row)
            known = [_comparable(seen) for seen in (seen_value, *own_unconfirmed)]
            if row.version != seen_version and _comparable(current) not in known:
                raise StaleEdit(spec.key, current, row.version)
            before = getattr(row, name)
            if spec.is_custom:
                after = with_custom_value(before, spec, value)
            else:
                after = {key: item for key, item in (before or {}).items() if key != spec.spark_name}
                if value is not None:
                    after[spec.spark_name] = value
            if after == before:
                return FieldSaved(row, changed=False)
            setattr(row, name, after)
            self._record_edit(row, by, name, before, after)
        return FieldSaved(row, changed=True)

    @contextmanager
    def _row_for_edit(self, by: User, *, already_locked: bool) -> Iterator[Draft]:
        """The row an edit compares with and writes, locked: this instance when the caller's
        transaction read it locked (the autosave's one read is its access check and its lock),
        else a locked read in a transaction of its own."""
        if already_locked:
            # No savepoint: a refusal (StaleEdit) writes nothing, and the caller answers it
            # with queries of its own inside the same transaction.
            assert transaction.get_connection().in_atomic_block, "locked=True outside the lock's transaction"
            yield self
            return
        with transaction.atomic():
            yield self._locked_for_edit(by)

    def _locked_for_edit(self, by: User) -> Draft:
        """This draft's row, locked for an edit by `by` (inside the caller's transaction), or
        ValidationError. Who may see it is part of the locking query (`can_edit` would ask in
        a second one), so every autosave pays one query for both."""
        try:
            locked = Draft.objects.visible_to(by).select_for_update(of=("self",)).get(pk=self.pk)
        except Draft.DoesNotExist:
            raise ValidationError("This draft can no longer be edited.") from None
        if not locked.is_editable:
            raise ValidationError("This draft can no longer be edited.")
        return locked

    @staticmethod
    def _record_edit(locked: Draft, by: User, name: str, old: Any, new: Any) -> None:
        """Bump the version and the change count, send a reviewed draft back to drafting,
        write the history and ring the doorbell (inside the caller's transaction)."""
        locked.version += 1
        locked.change_seq += 1
        locked.updated_by = by
        locked.updated_at = timezone.now()
        status_before = locked.status
        if locked.status in SENT_BACK_BY_EDITS:
            locked.status = DraftStatus.DRAFT
        locked.save(update_fields=[name, "version", "change_seq", "updated_by", "updated_at", "status"])
        DraftEvent.record(locked, by, DraftEvent.Kind.FIELD_CHANGED, field=name, old=old, new=new)
        if status_before != locked.status:
            DraftEvent.record(
                locked,
                by,
                DraftEvent.Kind.STATUS_CHANGED,
                field="status",
                old=status_before,
                new=locked.status,
            )
        doorbell.ring_after_commit(locked.pk)

    # --- Review: who may do what ---
    def is_listed_by(self, user) -> bool:
        return user.pk is not None and user.pk in (self.list_agent_id, self.co_list_agent_id)

    def can_submit(self, user) -> bool:
        """The listing agent, the co-listing agent or whoever created the draft."""
        return (
            user.is_authenticated
            and user.is_active
            and (self.is_listed_by(user) or user.pk == self.created_by_id)
        )

    def can_review(self, user) -> bool:
        """An office admin of the draft's office, a company admin of its company, a superuser."""
        if not user.is_authenticated or not user.is_active:
            return False
        if user.is_superuser:
            return True
        if user.is_office_admin:
            return user.office_id == self.office_id
        if user.is_company_admin:
            return user.office_id is not None and user.office.company_id == self.office.company_id
        return False

    def can_approve(self, user) -> bool:
        """A reviewer who is not one of the draft's listing agents (nobody approves their own)."""
        return self.can_review(user) and not self.is_listed_by(user)

    def readiness(self, book: rules.RuleBook | None = None) -> Readiness:
        """Everything the MLS and the office require, done or missing (drafts/readiness.py)."""
        return readiness_of(self, book)

    # --- Review: status changes ---
    def submit(self, *, by: User) -> None:
        """draft / changes requested -> submitted, only when nothing is missing (fields,
        documents, photos: `readiness`). Snapshots the draft; tells the office's reviewers."""

        def who(draft: Draft) -> None:
            if not draft.can_submit(by):
                raise TransitionNotAllowed("Only the draft's listing agents can submit it for review.")

        def check(draft: Draft) -> None:
            report = draft.readiness()
            if report.gaps:
                raise TransitionNotAllowed(report.refusal("submit it for review"))

        def after(draft: Draft) -> None:
            ReviewSnapshot.capture(draft, ReviewSnapshot.Kind.SUBMITTED, by=by)
            notifications.draft_submitted(draft, by=by)

        self._change_status(
            by=by,
            allowed_from=(DraftStatus.DRAFT, DraftStatus.CHANGES_REQUESTED),
            to=DraftStatus.SUBMITTED,
            verb="submitted for review",
            who=who,
            check=check,
            updates={"submitted_at": timezone.now()},
            after=after,
        )

    def withdraw(self, *, by: User) -> None:
        """submitted -> draft, by the agents who may submit it."""

        def who(draft: Draft) -> None:
            if not draft.can_submit(by):
                raise TransitionNotAllowed("Only the draft's listing agents can withdraw it from review.")

        self._change_status(
            by=by,
            allowed_from=(DraftStatus.SUBMITTED,),
            to=DraftStatus.DRAFT,
            verb="withdrawn from review",
            who=who,
            updates={"submitted_at": None},
        )

    def request_changes(self, *, by: User, reason: str) -> None:
        """submitted / approved / publishing failed -> changes requested, by a reviewer.

        `reason` is required; it becomes a comment on the whole draft (the agent sees it in
        the editor) and goes to the agents by notification."""
        reason = (reason or "").strip()[:REVIEW_REASON_MAX]

        def who(draft: Draft) -> None:
            if not draft.can_review(by):
                raise TransitionNotAllowed("Only a reviewer of this office can request changes.")

        def check(draft: Draft) -> None:
            if not reason:
                raise TransitionNotAllowed("Say what should change: the reason is required.")

        def after(draft: Draft) -> None:
            ReviewSnapshot.capture(draft, ReviewSnapshot.Kind.CHANGES_REQUESTED, by=by)
            ReviewComment.objects.create(
                draft=draft, author=by, target_kind=ReviewComment.Target.DRAFT, text=reason
            )
            Draft.objects.filter(pk=draft.pk).update(open_review_comments=F("open_review_comments") + 1)
            draft.open_review_comments += 1
            notifications.changes_requested(draft, by=by, reason=reason)

        self._change_status(
            by=by,
            allowed_from=(DraftStatus.SUBMITTED, DraftStatus.APPROVED, DraftStatus.PROMOTION_FAILED),
            to=DraftStatus.CHANGES_REQUESTED,
            verb="sent back with changes requested",
            who=who,
            check=check,
            note=reason,
            after=after,
        )

    def approve(self, *, by: User) -> None:
        """submitted -> approved, by a reviewer who does not list the draft, and only when
        nothing is missing (`readiness`: fields, documents, photos)."""

        def who(draft: Draft) -> None:
            if not draft.can_review(by):
                raise TransitionNotAllowed("Only a reviewer of this office can approve a draft.")
            if draft.is_listed_by(by):
                raise TransitionNotAllowed("You list this draft, so another reviewer has to approve it.")

        def check(draft: Draft) -> None:
            report = draft.readiness()
            if report.gaps:
                raise TransitionNotAllowed(report.refusal("approve it"))

        def after(draft: Draft) -> None:
            ReviewSnapshot.capture(draft, ReviewSnapshot.Kind.APPROVED, by=by)
            notifications.draft_approved(draft, by=by)

        self._change_status(
            by=by,
            allowed_from=(DraftStatus.SUBMITTED,),
            to=DraftStatus.APPROVED,
            verb="approved",
            who=who,
            check=check,
            after=after,
        )

    def begin_promotion(self, *, by: User) -> None:
        """approved / publishing failed (a retry) -> promoting, by a reviewer. The draft is
        read-only from here until it is live or has failed. The caller starts the work
        after commit."""

        def who(draft: Draft) -> None:
            if not draft.can_review(by):
                raise TransitionNotAllowed("Only a reviewer of this office can publish a draft.")

        def check(draft: Draft) -> None:
            if rules.blocking_errors(draft):
                raise TransitionNotAllowed("Cannot publish: the draft has errors to fix first.")

        self._change_status(
            by=by,
            allowed_from=(DraftStatus.APPROVED, DraftStatus.PROMOTION_FAILED),
            to=DraftStatus.PROMOTING,
            verb="published",
            who=who,
            check=check,
            updates={"promotion_failure_reason": ""},
        )

    def mark_live(self, live_listing_id: str, *, by: User | None = None) -> None:
        """promoting -> live, recording the live listing's id (the promotion worker calls it)."""
        live_listing_id = (live_listing_id or "").strip()

        def check(draft: Draft) -> None:
            if not live_listing_id or len(live_listing_id) > LISTING_ID_MAX:
                raise TransitionNotAllowed(
                    f"A live listing needs its listing id ({LISTING_ID_MAX} characters at most)."
                )

        self._change_status(
            by=by,
            allowed_from=(DraftStatus.PROMOTING,),
            to=DraftStatus.LIVE,
            verb="marked live",
            check=check,
            updates={"live_listing_id": live_listing_id},
            note=f"Live listing {live_listing_id}",
            after=lambda draft: notifications.draft_live(draft),
        )

    def mark_promotion_failed(self, reason: str, *, by: User | None = None) -> None:
        """promoting -> publishing failed, with the reason people will read. A reviewer may
        retry with `begin_promotion`."""
        reason = (reason or "").strip()[:PROMOTION_FAILURE_MAX]

        def check(draft: Draft) -> None:
            if not reason:
                raise TransitionNotAllowed("Say why publishing failed: the reason is required.")

        self._change_status(
            by=by,
            allowed_from=(DraftStatus.PROMOTING,),
            to=DraftStatus.PROMOTION_FAILED,
            verb="marked as failed to publish",
            check=check,
            updates={"promotion_failure_reason": reason},
            note=reason,
            after=lambda draft: notifications.promotion_failed(draft, reason=reason),
        )

    def _change_status(
        self,
        *,
        by: User | None,
        allowed_from: tuple[str, ...],
        to: str,
        verb: str,
        who=None,
        check=None,
        updates: dict[str, Any] | None = None,
        note: str = "",
        after=None,
    ) -> None:
        """One status change under the draft's row lock.

        In order: `who(locked)` (may this person? raises TransitionNotAllowed), the state,
        `check(locked)` (preconditions, raises too), the update with a version bump, a
        STATUS_CHANGED history event, then `after(locked)` in the same transaction.
        `self` reflects the result.
        """
        with transaction.atomic():
            locked = Draft.objects.select_for_update(of=("self",)).select_related("office").get(pk=self.pk)
            if locked.is_deleted:
                raise TransitionNotAllowed("This draft is in the trash: restore it first.")
            if who is not None:
                who(locked)
            if locked.status not in allowed_from:
                raise TransitionNotAllowed(
                    f"A draft that is “{locked.get_status_display().lower()}” cannot be {verb}."
                )
            if check is not None:
                check(locked)
            old = locked.status
            changed = {"status": to, "version": locked.version + 1, **(updates or {})}
            for name, value in changed.items():
                setattr(locked, name, value)
            locked.save(update_fields=list(changed))
            DraftEvent.record(
                locked, by, DraftEvent.Kind.STATUS_CHANGED, field="status", old=old, new=to, note=note
            )
            if after is not None:
                after(locked)
        for name in (*changed, "open_review_comments"):
            setattr(self, name, getattr(locked, name))

    def note_media_changed(
        self,
        *,
        by: User | None,
        reason: str = "Photos or documents changed",
        mark_for_sync: bool = False,
        locked: Draft | None = None,
    ) -> bool:
        """Record that someone changed this draft's photos or documents: updated_at/by, and a
        reviewed draft goes back to drafting (as `save_field` does for fields);
        `mark_for_sync` also tells the remote to catch up (as `mark_changed`), in the same
        UPDATE. `locked`: the draft's row, already locked by the caller in this transaction
        (its status and version), so the row is locked and read once per change.

        Call inside the media change's transaction. True if the status changed.
        """
        now = timezone.now()
        with transaction.atomic():
            if locked is None:
                locked = Draft.objects.select_for_update().only("status", "version").get(pk=self.pk)
            sent_back = locked.status in SENT_BACK_BY_EDITS
            status = DraftStatus.DRAFT if sent_back else locked.status
            version = locked.version + 1 if sent_back else locked.version
            changes: dict[str, Any] = {
                "updated_by": by,
                "updated_at": now,
                "status": status,
                "version": version,
            }
            if mark_for_sync:
                changes["change_seq"] = F("change_seq") + 1
                doorbell.ring_after_commit(self.pk)
            Draft.objects.filter(pk=self.pk).update(**changes)
            if sent_back:
                DraftEvent.record(
                    locked,
                    by,
                    DraftEvent.Kind.STATUS_CHANGED,
                    field="status",
                    old=locked.status,
                    new=status,
                    note=reason,
                )
        self.updated_by, self.updated_at, self.status, self.version = by, now, status, version
        return sent_back

    # --- Review comments ---
    def add_review_comment(
        self, *, by: User, text: str, target_kind: str = "draft", target_key: str = ""
    ) -> ReviewComment:
        """A reviewer's comment on a field (key: the field name), a photo or a document (key:
        its id, which must be one of this draft's) or the whole draft (no key)."""
        text = (text or "").strip()
        target_key = str(target_key or "").strip()
        if not self.can_review(by):
            raise TransitionNotAllowed("Only a reviewer of this office can comment on a draft.")
        if self.is_deleted or self.status == DraftStatus.LIVE:
            raise TransitionNotAllowed("This draft can no longer be commented on.")
        if not text:
            raise ValidationError("Write the comment first.")
        if len(text) > REVIEW_COMMENT_MAX:
            raise ValidationError(f"A comment is {REVIEW_COMMENT_MAX} characters at most.")
        ReviewComment.check_target(self, target_kind, target_key)
        with transaction.atomic():
            comment = ReviewComment.objects.create(
                draft=self, author=by, target_kind=target_kind, target_key=target_key, text=text
            )
            Draft.objects.filter(pk=self.pk).update(open_review_comments=F("open_review_comments") + 1)
            DraftEvent.record(
                self, by, DraftEvent.Kind.REVIEW, field="comment", new=comment.pk, note=f"Comment: {text}"
            )
        self.open_review_comments += 1
        return comment

    def open_review_comment_list(self) -> list[ReviewComment]:
        """The unresolved comments, oldest first; no query when there are none."""
        if not self.open_review_comments:
            return []
        return list(self.review_comments.filter(resolved_at__isnull=True).select_related("author"))

    def last_change_of(self, name: str) -> DraftEvent | None:
        """The latest history entry that changed field `name` (who and when, for a conflict)."""
        return (
            self.events.filter(kind=DraftEvent.Kind.FIELD_CHANGED, field=name).select_related("actor").first()
        )

    def move_to_trash(self, *, by: User) -> None:
        with transaction.atomic():
            Draft.objects.filter(pk=self.pk).update(
                deleted_at=timezone.now(), version=F("version") + 1, updated_by=by, updated_at=timezone.now()
            )
            DraftEvent.record(self, by, DraftEvent.Kind.TRASHED)
            # The MLS follows: the trash removes the incomplete listing, a restore creates it again.
            self.mark_changed()
        self.refresh_from_db()

    def restore_from_trash(self, *, by: User) -> None:
        with transaction.atomic():
            Draft.objects.filter(pk=self.pk).update(
                deleted_at=None, version=F("version") + 1, updated_by=by, updated_at=timezone.now()
            )
            DraftEvent.record(self, by, DraftEvent.Kind.RESTORED)
            # The MLS follows: the trash removes the incomplete listing, a restore creates it again.
            self.mark_changed()
        self.refresh_from_db()

    @classmethod
    def start(cls, *, by: User, **values: Any) -> Draft:
        """Create a draft listed by `by` (or values['list_agent']) in that agent's office."""
        agent = values.pop("list_agent", None) or by
        with transaction.atomic():
            draft = cls.objects.create(
                office_id=agent.office_id, list_agent=agent, created_by=by, updated_by=by, **values
            )
            DraftEvent.record(draft, by, DraftEvent.Kind.CREATED)
            doorbell.ring_after_commit(draft.pk)
        return draft

    def duplicate(self, *, by: User) -> Draft:
        """A new draft with this one's listing fields, rooms, units, tours and videos (not its
        photos, history or remote ids)."""
        values = {name: getattr(self, name) for name in EDITABLE_FIELDS}
        values["custom_fields"] = dict(self.custom_fields or {})
        values["standard_fields_extra"] = dict(self.standard_fields_extra or {})
        with transaction.atomic():
            copy = Draft.start(by=by, list_agent=self.list_agent, co_list_agent=self.co_list_agent, **values)
            ListingPart.objects.bulk_create([part.copy_for(copy) for part in self.parts.all()])
            DraftEvent.record(copy, by, DraftEvent.Kind.CLONED, new=self.pk)
        return copy

    def nearby(self, *, km: float = 0.5, limit: int = 10, user=None) -> list[tuple[Draft, float]]:
        """Other live drafts within `km` of this one, nearest first, as (draft, metres).

        With `user`, only the drafts that user may see (what the editor shows).
        """
        if self.latitude is None or self.longitude is None:
            return []
        latitudes, longitudes = box_around(self.latitude, self.longitude, km)
        alias = router.db_for_read(Draft)
        reach = reach_of(user) if user is not None else "everything"
        compiled = compiled_once(alias, ("nearby", reach), lambda: _compile_nearby(alias, user, reach))
        candidates: list[Draft]
        if compiled is None:
            candidates = list(_nearby_candidates(self, user, self.office.company_id, latitudes, longitudes))
        else:
            values = {
                "user": lambda: user.pk,
                "office": lambda: user.office_id,
                "company": lambda: user.office.company_id,
                "draft": lambda: self.pk,
                "draft_company": lambda: self.office.company_id,
                "latitude_low": lambda: latitudes[0],
                "latitude_high": lambda: latitudes[1],
                "longitude_low": lambda: longitudes[0],
                "longitude_high": lambda: longitudes[1],
            }
            candidates = cast(list[Draft], compiled.fetch_all(values))
        found = []
        for other in candidates:
            metres = haversine_metres(self.latitude, self.longitude, other.latitude, other.longitude)
            if metres <= km * 1000:
                found.append((other, metres))
        found.sort(key=lambda pair: pair[1])
        return found[:limit]


def _nearby_candidates(draft: Draft, user, company_pk: int, latitudes, longitudes) -> DraftQuerySet:
    """The drafts `Draft.nearby` measures: `user`'s (or all) live drafts of the company in the box
    but `draft`, with only what the editor's nearby list shows (up to 500 of a wide row)."""
    scope = Draft.objects.visible_to(user) if user is not None else Draft.objects.all()
    return (
        scope.active()
        .filter(office__company_id=company_pk)
        .exclude(pk=draft.pk)
        .within_bounds(latitudes, longitudes)
        .select_related("list_agent")
        .only(*NEARBY_SHOWN)
        .order_by()[:NEARBY_CANDIDATES_MAX]  # sorted by distance in Python, not in the database
    )


# Stand-ins for the keys and the box's bounds Draft.nearby's query is compiled once with (never
# executed with): the ORM compiled it anew on every editor page (~2.5k Python calls). Integers
# and floats apart, so that no float stand-in equals an integer one.
_NEARBY_STAND_INS: dict[int | float, str] = {
    -2_000_000_011: "user",
    -2_000_000_012: "office",
    -2_000_000_013: "company",
    -2_000_000_014: "draft",
    -2_000_000_015: "draft_company",
    -3_000_000_001.5: "latitude_low",
    -3_000_000_002.5: "latitude_high",
    -3_000_000_003.5: "longitude_low",
    -3_000_000_004.5: "longitude_high",
}
_NEARBY_STAND_IN_OF = {role: value for value, role in _NEARBY_STAND_INS.items()}


def _compile_nearby(alias: str, user, reach: str) -> CompiledGet | None:
    stand_in = None
    if user is not None:
        stand_in = user_with_keys(
            user,
            pk=int(_NEARBY_STAND_IN_OF["user"]),
            office_pk=int(_NEARBY_STAND_IN_OF["office"]),
            company_pk=int(_NEARBY_STAND_IN_OF["company"]),
        )
        if reach_of(stand_in) != reach:
            return None
    draft = Draft(pk=_NEARBY_STAND_IN_OF["draft"])
    of = _NEARBY_STAND_IN_OF
    candidates = _nearby_candidates(
        draft,
        stand_in,
        int(of["draft_company"]),
        (of["latitude_low"], of["latitude_high"]),
        (of["longitude_low"], of["longitude_high"]),
    )
    return compile_get(candidates, alias, _NEARBY_STAND_INS, many=True)


def _parse_seen(model_field, seen_value: Any) -> Any:
    if seen_value in ("", None):
        return None
    try:
        return model_field.to_python(seen_value)
    except ValidationError:
        return seen_value


def haversine_metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = math.radians(lat2 - lat1)
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(math.sqrt(a))
