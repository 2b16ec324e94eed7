"""The list's address search on SQLite: a trigram index of the columns it searches (FTS5).

`DraftQuerySet.matching_address` asks five `LIKE '%word%'` of every draft of the office: on SQLite
that is a scan of the table's wide rows (about 3 ms at 10,000 drafts, most of a search's SQL).
An FTS5 table with the trigram tokenizer, whose content is drafts_draft itself (it stores only
the index), gives the drafts whose address columns may hold a word, and the LIKEs then judge
only those. Triggers keep it in step with the drafts, in the statement that changes them; an
UPDATE that changes none of the five columns (every autosave) leaves it alone. PostgreSQL has
its pg_trgm indexes (0010) and gets nothing here.

The SQL is written out here rather than imported, so this migration means the same thing however
the models change later.
"""

# The SQL below is built from this file's constants only, never from input.
# ruff: noqa: S608

from django.db import migrations

TABLE = "draft_address_search"
COLUMNS = ("street_number", "street_name", "city", "postal_code", "subdivision_name")


def _values(side: str) -> str:
    return ", ".join(f"{side}.{column}" for column in COLUMNS)


def create_sql() -> list[str]:
    columns = ", ".join(COLUMNS)
    remove = f"INSERT INTO {TABLE}({TABLE}, rowid, {columns}) VALUES ('delete', OLD.id, {_values('OLD')});"
    add = f"INSERT INTO {TABLE}(rowid, {columns}) VALUES (NEW.id, {_values('NEW')});"
    changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in COLUMNS)
    return [
        f"CREATE VIRTUAL TABLE {TABLE} USING fts5({columns}, content='drafts_draft', "
        "content_rowid='id', tokenize='trigram')",
        f"CREATE TRIGGER {TABLE}_insert AFTER INSERT ON drafts_draft BEGIN {add} END",
        f"CREATE TRIGGER {TABLE}_delete AFTER DELETE ON drafts_draft BEGIN {remove} END",
        f"CREATE TRIGGER {TABLE}_update AFTER UPDATE OF id, {columns} ON drafts_draft "
        f"WHEN OLD.id IS NOT NEW.id OR {changed} BEGIN {remove} {add} END",
        # The drafts as they are.
        f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')",
    ]


def drop_sql() -> list[str]:
    return [
        *(f"DROP TRIGGER IF EXISTS {TABLE}_{event}" for event in ("insert", "delete", "update")),
        f"DROP TABLE IF EXISTS {TABLE}",
    ]


def install(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in create_sql():
        schema_editor.execute(statement)


def uninstall(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in drop_sql():
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("drafts", "0012_draft_tally"),
    ]

    operations = [
        migrations.RunPython(install, uninstall, elidable=False),
    ]
