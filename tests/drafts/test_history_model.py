"""History is append-only: the app refuses to change or delete it, and so does PostgreSQL."""

import pytest
from django.db import DatabaseError, connection, transaction

from drafts.models import DraftEvent


@pytest.mark.django_db
def test_history_rows_cannot_be_edited_or_deleted_through_the_app(draft, agent):
    draft.save_field("city", "Moorhead", by=agent, seen_version=draft.version, seen_value=draft.city)
    event = draft.events.get(kind=DraftEvent.Kind.FIELD_CHANGED)
    assert (event.field, event.old_value, event.new_value) == ("city", "Fargo", "Moorhead")
    event.note = "tampered"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        DraftEvent.objects.filter(pk=event.pk).update(note="tampered")
    with pytest.raises(PermissionError):
        DraftEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
def test_postgresql_refuses_raw_updates_of_history(draft, agent):
    draft.save_field("city", "Moorhead", by=agent, seen_version=draft.version, seen_value=draft.city)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE drafts_draftevent SET note = 'x'")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM drafts_draftevent")
