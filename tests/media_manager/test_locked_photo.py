"""The photo's locked read of processing (`locked_photo`): the ORM's row, locked, compiled once."""

from __future__ import annotations

import pytest
from django.db import connection, connections, transaction
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from listings_portal import compiled_get
from media_manager import tasks
from media_manager.models import Photo
from media_manager.models.photo import locked_photo
from tests.factories import DraftFactory, PhotoFactory
from tests.media_manager.media_helpers import jpeg_bytes

pytestmark = pytest.mark.django_db


def fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_the_locked_read_is_the_orms_row_locked(agent):
    photo = PhotoFactory(draft=DraftFactory(list_agent=agent), by=agent)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        row = locked_photo(photo.pk)
        assert locked_photo(-1) is None
    assert row is not None and fields(row) == fields(Photo.objects.get(pk=photo.pk))
    if connection.features.has_select_for_update:
        assert all("FOR UPDATE" in query["sql"] for query in queries.captured_queries[-2:])


def test_processing_compiles_the_locked_read_once(agent, monkeypatch):
    compiled = []
    as_sql = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):
        if self.query.select_for_update:
            compiled.append(self.query.model)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    monkeypatch.delitem(connections["default"].__dict__, compiled_get.CACHE_ATTRIBUTE, raising=False)
    draft = DraftFactory(list_agent=agent)
    for seed in (1, 2):
        photo = PhotoFactory(draft=draft, by=agent, data=jpeg_bytes(640, 480, seed=seed))
        assert tasks.process_photo(photo.pk) == "ready"
    assert compiled.count(Photo) == 1
