"""On PostgreSQL, the database itself refuses UPDATE and DELETE of history rows."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION drafts_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'drafts_draftevent is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER drafts_draftevent_append_only
    BEFORE UPDATE OR DELETE ON drafts_draftevent
    FOR EACH ROW EXECUTE FUNCTION drafts_event_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS drafts_draftevent_append_only ON drafts_draftevent;
DROP FUNCTION IF EXISTS drafts_event_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("drafts", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
