"""The drafts list's counts after a TRUNCATE of drafts_draft on PostgreSQL.

The tally's triggers (0012) are row triggers, and TRUNCATE fires none: emptying the drafts
table alone (a restore script, a hand-run TRUNCATE) would leave the tally counting drafts that
are gone. A statement trigger on TRUNCATE empties the tally in the same transaction. SQLite has
no TRUNCATE (its DELETE without WHERE fires the row triggers when a table has them).
"""

# The SQL below is built from this file's constants only, never from input.
# ruff: noqa: S608

from django.db import migrations

FUNCTION = "drafts_draft_tally_truncate"


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger AS $$ BEGIN "
        "DELETE FROM drafts_drafttally; RETURN NULL; END; $$ LANGUAGE plpgsql"
    )
    schema_editor.execute(
        f"CREATE TRIGGER {FUNCTION} AFTER TRUNCATE ON drafts_draft "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
    )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {FUNCTION} ON drafts_draft")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")


class Migration(migrations.Migration):
    dependencies = [("drafts", "0013_address_search_sqlite_trigrams")]

    operations = [migrations.RunPython(install, uninstall)]
