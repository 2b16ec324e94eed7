"""The drafts list's counts (DraftTally), kept exact by triggers on drafts_draft for PostgreSQL and
SQLite, and filled from the drafts as they are.

The SQL is written out here rather than imported, so this migration means the same thing however
the models change later. Both databases run the same statements: PostgreSQL in a plpgsql function
per event, SQLite in the trigger's body.
"""

# The SQL below is built from this file's constants only, never from input.
# ruff: noqa: S608

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# What a side of a change (the row as it was, -1, or as it is, +1) contributes: one to its
# office's row, one to the row of each distinct person among its agents and creator.
_AGENT_COLUMNS = ("list_agent_id", "co_list_agent_id", "created_by_id")

# The columns a draft's tally rows depend on: an UPDATE that changes none of them touches no row.
TALLIED_COLUMNS = ("office_id", "status", "deleted_at", *_AGENT_COLUMNS)


def _sides(event: str) -> list[tuple[str, int]]:
    return {"INSERT": [("NEW", 1)], "DELETE": [("OLD", -1)], "UPDATE": [("OLD", -1), ("NEW", 1)]}[event]


def tally_statements(event: str) -> list[str]:
    """The SQL (for both PostgreSQL and SQLite) that applies one row's `event` to the tally.

    Each side's rows are a UNION, so a person named twice on one draft counts once; the two sides
    never share a row (their deltas differ), and a row whose deltas cancel (an agent's change
    leaves the office's row as it was) is skipped. The rows are written in key order, so two
    transactions lock the rows they share in the same order and cannot deadlock on them.

    A decrement only updates a row that exists (it always does: rows are never deleted but by
    emptying the table). A test database's flush deletes the tables in any order: drafts deleted
    after their tally must not leave it rows of negative counts."""
    office_rows = " UNION ".join(
        f"SELECT {side}.office_id AS office_id, {side}.status AS status, "
        f"{side}.deleted_at IS NOT NULL AS trashed, {delta} AS delta"
        for side, delta in _sides(event)
    )
    user_rows = " UNION ".join(
        f"SELECT {side}.office_id AS office_id, {side}.{column} AS user_id, {side}.status AS status, "
        f"{side}.deleted_at IS NOT NULL AS trashed, {delta} AS delta"
        for side, delta in _sides(event)
        for column in _AGENT_COLUMNS
    )
    table = "drafts_drafttally"

    def kept(keys: tuple[str, ...]) -> str:
        match = " AND ".join(f"kept.{key} = change.{key}" for key in keys)
        if "user_id" not in keys:
            match += " AND kept.user_id IS NULL"
        return f"HAVING SUM(delta) > 0 OR (SUM(delta) < 0 AND EXISTS (SELECT 1 FROM {table} AS kept WHERE {match}))"

    return [
        f"INSERT INTO {table} (office_id, status, trashed, n) "
        f"SELECT office_id, status, trashed, SUM(delta) FROM ({office_rows}) AS change WHERE TRUE "
        "GROUP BY office_id, status, trashed "
        + kept(("office_id", "status", "trashed"))
        + " ORDER BY office_id, status, trashed "
        "ON CONFLICT (office_id, status, trashed) WHERE user_id IS NULL "
        f"DO UPDATE SET n = {table}.n + excluded.n",
        f"INSERT INTO {table} (office_id, user_id, status, trashed, n) "
        f"SELECT office_id, user_id, status, trashed, SUM(delta) FROM ({user_rows}) AS change "
        "WHERE user_id IS NOT NULL GROUP BY office_id, user_id, status, trashed "
        + kept(("office_id", "user_id", "status", "trashed"))
        + " ORDER BY office_id, user_id, status, trashed "
        "ON CONFLICT (office_id, user_id, status, trashed) WHERE user_id IS NOT NULL "
        f"DO UPDATE SET n = {table}.n + excluded.n",
    ]


def _changed(column: str) -> str:
    if column == "deleted_at":  # only in the trash or not counts, not when it was put there
        return "(OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)"
    return f"OLD.{column} IS DISTINCT FROM NEW.{column}"


def _when(event: str, vendor: str) -> str:
    """The condition under which an UPDATE touches the tally (SQLite spells IS DISTINCT FROM
    as IS NOT). Django's save() sets every column, so UPDATE OF alone would fire on each one."""
    if event != "UPDATE":
        return ""
    changes = " OR ".join(_changed(column) for column in TALLIED_COLUMNS)
    if vendor == "sqlite":
        changes = changes.replace("IS DISTINCT FROM", "IS NOT")
    return f"WHEN ({changes})"


def _of(event: str) -> str:
    return f"UPDATE OF {', '.join(TALLIED_COLUMNS)}" if event == "UPDATE" else event


EVENTS = ("INSERT", "UPDATE", "DELETE")


def create_triggers_sql(vendor: str) -> list[str]:
    table = "drafts_draft"
    statements = []
    for event in EVENTS:
        name = f"drafts_tally_{event.lower()}"
        body = tally_statements(event)
        if vendor == "postgresql":
            statements.append(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                + "; ".join(body)
                + "; RETURN NULL; END; $$ LANGUAGE plpgsql"
            )
            statements.append(
                f"CREATE TRIGGER {name} AFTER {_of(event)} ON {table} FOR EACH ROW {_when(event, vendor)} "
                f"EXECUTE FUNCTION {name}()"
            )
        else:
            statements.append(
                f"CREATE TRIGGER {name} AFTER {_of(event)} ON {table} FOR EACH ROW {_when(event, vendor)} "
                "BEGIN " + "; ".join(body) + "; END"
            )
    return statements


def drop_triggers_sql(vendor: str) -> list[str]:
    statements = []
    for event in EVENTS:
        name = f"drafts_tally_{event.lower()}"
        if vendor == "postgresql":
            statements += [
                f"DROP TRIGGER IF EXISTS {name} ON drafts_draft",
                f"DROP FUNCTION IF EXISTS {name}()",
            ]
        else:
            statements.append(f"DROP TRIGGER IF EXISTS {name}")
    return statements


def fill_sql() -> list[str]:
    """The tally of the drafts as they are (the migration's, after its triggers exist)."""
    table = "drafts_drafttally"
    named = " UNION ".join(
        f"SELECT id, office_id, {column} AS user_id, status, deleted_at IS NOT NULL AS trashed FROM drafts_draft"
        for column in _AGENT_COLUMNS
    )
    return [
        f"DELETE FROM {table}",
        f"INSERT INTO {table} (office_id, status, trashed, n) "
        "SELECT office_id, status, deleted_at IS NOT NULL, COUNT(*) FROM drafts_draft "
        "GROUP BY office_id, status, deleted_at IS NOT NULL",
        f"INSERT INTO {table} (office_id, user_id, status, trashed, n) "
        f"SELECT office_id, user_id, status, trashed, COUNT(*) FROM ({named}) AS named "
        "WHERE user_id IS NOT NULL GROUP BY office_id, user_id, status, trashed",
    ]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    # Triggers before the fill, in the same transaction: on PostgreSQL CREATE TRIGGER locks out
    # writes to drafts_draft until commit, so no change falls between the fill and the triggers.
    for statement in [*create_triggers_sql(vendor), *fill_sql()]:
        schema_editor.execute(statement)


def uninstall(apps, schema_editor):
    for statement in drop_triggers_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_office_time_zone"),
        ("drafts", "0011_agent_list_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DraftTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("status", models.CharField(max_length=20)),
                ("trashed", models.BooleanField()),
                ("n", models.IntegerField(default=0)),
                (
                    "office",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="accounts.office",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("user__isnull", True)),
                        fields=("office", "status", "trashed"),
                        name="draft_tally_office",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("user__isnull", False)),
                        fields=("office", "user", "status", "trashed"),
                        name="draft_tally_user",
                    ),
                ],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
