"""SQLite cannot create the deferrable unique constraints on (draft, position), so give it
plain unique indexes instead: the rule is then enforced on every backend (immediately on
SQLite, at commit on PostgreSQL). The model methods never hold two rows at one position."""

from django.db import migrations

INDEXES = {
    "photo_position_unique_sqlite": "media_manager_photo",
    "document_position_unique_sqlite": "media_manager_document",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, table in INDEXES.items():
        schema_editor.execute(
            f'CREATE UNIQUE INDEX IF NOT EXISTS "{name}" ON "{table}" ("draft_id", "position")'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("media_manager", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
