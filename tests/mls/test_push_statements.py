"""The statements of one photo's push: what each pass notes is written once, the remote id copied
onto the photo without a subquery."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from media_manager.models import Photo
from mls import push
from mls.models import DraftSync, RemoteItem
from tests.factories import DraftFactory
from tests.mls.sync_support import add_photo, drain

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_photos_push_notes_order_and_edits_in_one_statement(sync_env, agent):
    draft = DraftFactory(list_agent=agent, beds_total=3)
    add_photo(draft, by=agent, name="Front", seed=1)
    assert drain(draft)[-1] == push.Outcome.SYNCED
    photo = add_photo(draft, by=agent, name="Porch", seed=2)
    time.sleep(0.4)  # past the settle of edits and order (sync_env: 0.3 s)
    with CaptureQueriesContext(connection) as queries:
        assert push.push_draft(draft.pk) == push.Outcome.SYNCED
    statements = [query["sql"] for query in queries.captured_queries]
    notes = [sql for sql in statements if "_seen" in sql and sql.startswith('UPDATE "mls_draftsync"')]
    assert len(notes) == 1
    assert '"photo_order_seen"' in notes[0] and '"edits_seen"' in notes[0]
    copies = [sql for sql in statements if sql.startswith('UPDATE "media_manager_photo"')]
    assert len(copies) == 1 and "SELECT" not in copies[0]
    mirror = RemoteItem.objects.get(draft_id=draft.pk, kind="photo", local_id=photo.pk)
    assert Photo.objects.get(pk=photo.pk).remote_id == mirror.remote_id != ""
    sync = DraftSync.objects.get(pk=draft.pk)
    assert sync.photo_order_seen == list(
        Photo.objects.filter(draft=draft).order_by("position").values_list("pk", flat=True)
    )
    assert sync.edits_seen
