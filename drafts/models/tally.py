"""The drafts list's counts, kept by the database as drafts change instead of counted per page.

An unfiltered list's COUNT(*) reads every index entry of the office (or three for an agent), so
it grows with the office; a tally row is read in constant time. The rows are written only by the
triggers of migration 0012, in the same statement as the change of a
draft, so no code path can forget them and a rolled-back change rolls its tally back too.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q, Sum

from .queryset import reach_of


class DraftTallyQuerySet(models.QuerySet["DraftTally"]):
    def visible_to(self, user, *, status: str | None = None, trashed: bool = False) -> DraftTallyQuerySet:
        """The rows whose sum is how many drafts `user` sees (`DraftQuerySet.visible_to`), of
        `status` (any when None), in the trash or not."""
        scope = reach_of(user)
        if scope == "nothing":
            return self.none()
        rows = self.filter(trashed=trashed)
        if status:
            rows = rows.filter(status=status)
        if scope == "own":
            return rows.filter(user=user)
        rows = rows.filter(user__isnull=True)
        if scope == "company":
            return rows.filter(office__company_id=user.office.company_id)
        if scope == "office":
            return rows.filter(office_id=user.office_id)
        return rows

    def visible_count(self, user, *, status: str | None = None, trashed: bool = False) -> int:
        """The unfiltered list's count (or by status, or of the trash), without counting it."""
        return self.visible_to(user, status=status, trashed=trashed).aggregate(n=Sum("n"))["n"] or 0


class DraftTally(models.Model):
    """How many drafts of `office` have `status` and are `trashed` or not: all of them when `user`
    is empty, else those `user` lists, co-lists or created (an agent's list, counted once each).

    The foreign keys have no database constraint and do nothing on delete: a row outlives the
    office or person only at zero (no draft can still name them), and a constraint would make a
    person's deletion depend on the order Django deletes and nulls rows in.
    """

    office = models.ForeignKey(
        "accounts.Office", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="+",
    )
    status = models.CharField(max_length=20)
    trashed = models.BooleanField()
    n = models.IntegerField(default=0)

    objects = DraftTallyQuerySet.as_manager()

    class Meta:
        constraints = [
            # Two partial keys, one per kind of row: NULLs are distinct in a unique index, and
            # the triggers' upserts name one of these as their conflict target.
            models.UniqueConstraint(
                fields=["office", "status", "trashed"],
                condition=Q(user__isnull=True),
                name="draft_tally_office",
            ),
            models.UniqueConstraint(
                fields=["office", "user", "status", "trashed"],
                condition=Q(user__isnull=False),
                name="draft_tally_user",
            ),
        ]

    def __str__(self) -> str:
        whose = f"user {self.user_id}" if self.user_id else "all"
        trash = " (trash)" if self.trashed else ""
        return f"office {self.office_id}, {whose}, {self.status}{trash}: {self.n}"
