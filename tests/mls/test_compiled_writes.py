"""The push's hot writes (claim, upload confirmation, finish): the ORM's effect, with the UPDATE's
SQL compiled once per connection (listings_portal/compiled_write.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLInsertCompiler, SQLUpdateCompiler
from django.utils import timezone

from drafts.models import DraftStatus
from listings_portal.compiled_write import compile_update, insert_rows
from mls import push
from mls.models import DraftSync, RemoteCall, RemoteItem, SyncState
from tests.factories import DraftFactory

pytestmark = pytest.mark.django_db

STAND_INS = {
    "item": -2_000_000_901,
    "remote_id": "stand-in remote id",
    "now": dt.datetime(1901, 1, 1, 0, 0, 9, 901, tzinfo=dt.UTC),
}


def confirmation(values):
    return RemoteItem.objects.filter(pk=values["item"]), {
        "remote_id": values["remote_id"],
        "sending": False,
        "ticket_expires_at": None,
        "confirmed_at": values["now"],
    }


def columns(row) -> dict:
    return {field.attname: getattr(row, field.attname) for field in row._meta.concrete_fields}


def test_a_compiled_update_writes_what_the_orms_update_writes(agent):
    draft = DraftFactory(list_agent=agent)
    sent = dict(draft_id=draft.pk, kind="photo", sending=True, ticket_expires_at=timezone.now())
    by_orm, compiled_row, untouched = (
        RemoteItem.objects.create(local_id=local_id, **sent) for local_id in (1, 2, 3)
    )
    now = timezone.now()
    compiled = compile_update(*confirmation(STAND_INS), connection.alias, STAND_INS)
    assert compiled is not None
    assert compiled.roles.count(None) == 2  # `sending` and `ticket_expires_at`: the shape's constants

    queryset, values = confirmation({"item": by_orm.pk, "remote_id": "R1", "now": now})
    assert queryset.update(**values) == 1
    assert compiled.execute({"item": compiled_row.pk, "remote_id": "R1", "now": now}) == 1
    assert compiled.execute({"item": -1, "remote_id": "R1", "now": now}) == 0

    by_orm.refresh_from_db()
    compiled_row.refresh_from_db()
    assert {**columns(compiled_row), "id": None, "local_id": None} == {
        **columns(by_orm),
        "id": None,
        "local_id": None,
    }
    assert compiled_row.confirmed_at == now and compiled_row.ticket_expires_at is None
    untouched.refresh_from_db()
    assert untouched.sending and untouched.remote_id == ""


def test_a_stand_in_missing_from_the_sql_is_not_compiled(agent):
    def ignores_the_time(values):
        return RemoteItem.objects.filter(pk=values["item"]), {"remote_id": values["remote_id"]}

    assert compile_update(*ignores_the_time(STAND_INS), connection.alias, STAND_INS) is None


@pytest.fixture
def compiled_updates(compiled, monkeypatch) -> list:
    """The model of every UPDATE Django compiles from here on (`compiled` starts the connection
    with nothing compiled)."""
    models: list = []
    as_sql = SQLUpdateCompiler.as_sql

    def counting(self, *args, **kwargs):
        models.append(self.query.model)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLUpdateCompiler, "as_sql", counting)
    return models


def test_the_claim_is_compiled_once_per_connection(agent, compiled_updates):
    drafts = [DraftFactory(list_agent=agent) for _ in range(3)]
    for draft in drafts:
        DraftSync.ensure(draft.pk)
    for draft in drafts:
        pusher = push.Pusher(draft.pk)
        assert pusher.claim()
        pusher.release()
    # One claim compiled, then the three releases (the ORM's, not a push's hot path).
    assert compiled_updates == [DraftSync] * 4


def test_the_compiled_claim_keeps_the_orms_conditions(agent):
    promoting = DraftFactory(list_agent=agent, status=DraftStatus.PROMOTING)
    waiting = DraftFactory(list_agent=agent)
    free = DraftFactory(list_agent=agent)
    for draft in (promoting, waiting, free):
        DraftSync.ensure(draft.pk)
    DraftSync.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now() + dt.timedelta(minutes=5))

    assert not push.Pusher(promoting.pk).claim()
    assert not push.Pusher(waiting.pk).claim()
    pusher = push.Pusher(free.pk)
    before = timezone.now()
    assert pusher.claim()
    row = DraftSync.objects.get(pk=free.pk)
    assert row.lease_owner == pusher.owner and row.state == SyncState.SYNCING
    assert row.last_attempt_at >= before
    assert row.lease_expires_at == row.last_attempt_at + dt.timedelta(seconds=pusher.lease)


def call(draft, **values) -> RemoteCall:
    return RemoteCall(
        **{
            "draft_id": draft.pk, "method": "POST", "route": "photos", "path": "/v1/listings/1/photos",
            "status": 201, "duration_ms": 12.5, "outcome": RemoteCall.Outcome.OK,
            "purpose": "Upload a photo", "worker": "w-1", **values,
        }
    )  # fmt: skip


def test_inserted_rows_are_the_rows_bulk_create_writes(agent):
    draft = DraftFactory(list_agent=agent)
    by_orm = call(draft, change_seq=3)
    RemoteCall.objects.bulk_create([by_orm])
    compiled = [call(draft, change_seq=3), call(draft, status=None, outcome=RemoteCall.Outcome.UNKNOWN)]
    insert_rows(compiled, connection.alias, keys=False)
    assert all(not row._state.adding and row._state.db == connection.alias for row in compiled)
    written = list(RemoteCall.objects.filter(draft_id=draft.pk).order_by("pk"))
    assert len(written) == 3
    ignored = {"id": None, "at": None}
    assert {**columns(written[1]), **ignored} == {**columns(written[0]), **ignored}
    assert written[2].status is None and written[2].outcome == RemoteCall.Outcome.UNKNOWN

    intent = RemoteItem(
        draft_id=draft.pk, kind="photo", local_id=5, sending=True, sending_since=timezone.now()
    )
    insert_rows([intent], connection.alias, keys=True)
    assert intent.pk is not None and not intent._state.adding
    assert columns(RemoteItem.objects.get(pk=intent.pk)) == columns(intent)


def test_an_insert_is_compiled_once_per_connection(agent, compiled):
    draft = DraftFactory(list_agent=agent)
    inserts: list = []
    as_sql = SQLInsertCompiler.as_sql

    def counting(self, *args, **kwargs):
        inserts.append(self.query.model)
        return as_sql(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SQLInsertCompiler, "as_sql", counting)
        for number in range(3):
            insert_rows([call(draft, change_seq=number)], connection.alias, keys=False)
            insert_rows(
                [RemoteItem(draft_id=draft.pk, kind="photo", local_id=number)], connection.alias, keys=True
            )
    # Each compiled once, as a plain INSERT and one answering the new key.
    assert sorted(model.__name__ for model in inserts) == ["RemoteCall"] * 2 + ["RemoteItem"] * 2
    assert RemoteCall.objects.filter(draft_id=draft.pk).count() == 3
    assert RemoteItem.objects.filter(draft_id=draft.pk).count() == 3
