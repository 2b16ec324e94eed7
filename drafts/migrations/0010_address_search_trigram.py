"""The list's address search on PostgreSQL: a trigram index on each column it searches.

`DraftQuerySet.matching_address` asks `UPPER(column::text) LIKE UPPER('%word%')` of five columns;
without an index PostgreSQL reads every draft of the table to count the matches (about 200 ms at
100,000 drafts). pg_trgm's GIN indexes on those very expressions answer it with a bitmap scan.
SQLite is left as it is (it has no such index; its scan of 10,000 drafts is a few ms), and
Django's model state does not know these indexes, so they never show in makemigrations.
"""

from django.db import migrations

COLUMNS = ("street_number", "street_name", "city", "postal_code", "subdivision_name")


def _index(column: str) -> str:
    return f"draft_{column}_trgm"


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {_index(column)} ON drafts_draft "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {_index(column)}")


class Migration(migrations.Migration):
    dependencies = [
        ("drafts", "0009_list_count_indexes"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
