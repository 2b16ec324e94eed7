"""The drafts list's counts, kept by the database as drafts change instead of counted per page.

An unfiltered list's COUNT(*) reads every index entry of the office (or three for an agent), so
it grows with the office; a tally row is read in constant time. The rows are written only by the
triggers of migration 0012, in the same statement as the change of a
draft, so no code path can forget them and a rolled-back change rolls its tally back too.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connections, models
from django.db.models import Q, Sum

from .queryset import reach_of

# The counts' SELECTs kept per process, one per database, scope, status and trash (~1 kB each).
COUNT_QUERIES_KEPT = 1024
_count_queries: dict[tuple, tuple[str, tuple]] = {}


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
        """The unfiltered list's count (or by status, or of the trash), without counting it.

        Its SELECT is built through the ORM once per process and per everything `visible_to`
        reads of `user` (the reach, and the person, company or office it names), the status and
        the trash, so any change to those builds another; building it was ~1.2k Python calls a
        page. On the manager's whole table only: a narrowed set is summed as it is."""
        scope = reach_of(user)
        if scope == "nothing":
            return 0
        if self.query.where:
            return self.visible_to(user, status=status, trashed=trashed).aggregate(n=Sum("n"))["n"] or 0
        named = user.pk if scope == "own" else None
        if scope == "company":
            named = user.office.company_id
        elif scope == "office":
            named = user.office_id
        key = (self.db, scope, named, status or None, bool(trashed))
        query = _count_queries.get(key)
        if query is None:
            rows = self.visible_to(user, status=status, trashed=trashed).order_by().values("n")
            sql, params = rows.query.sql_with_params()
            query = (f"SELECT COALESCE(SUM(n), 0) FROM ({sql}) tallied", tuple(params))  # noqa: S608 - the ORM's SQL
            if len(_count_queries) >= COUNT_QUERIES_KEPT:
                _count_queries.clear()
            _count_queries[key] = query
        with connections[self.db].cursor() as cursor:
            cursor.execute(*query)
            return int(cursor.fetchone()[0])


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
