"""The push's per-pass reads (mls/reads.py): the ORM's rows, with the SQL compiled once."""

from __future__ import annotations

import pytest

from drafts.models import Draft, ListingPart
from mls import reads
from mls.models import DraftSync, RemoteItem, RemotePart
from tests.factories import DraftFactory

pytestmark = pytest.mark.django_db


def fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


@pytest.fixture
def draft(agent):
    draft = DraftFactory(list_agent=agent, beds_total=3)
    DraftSync.ensure(draft.pk)
    DraftSync.objects.filter(pk=draft.pk).update(photo_order=["a", "b"], confirmed_fields={"BedsTotal": 3})
    RemoteItem.objects.create(draft_id=draft.pk, kind="photo", local_id=7, remote_id="r7", name="Front")
    RemoteItem.objects.create(draft_id=draft.pk, kind="document", local_id=8, remote_id="r8")
    RemotePart.objects.create(draft_id=draft.pk, kind="room", local_id=3, remote_id="p3")
    ListingPart.objects.create(draft=draft, kind="room", position=1)
    ListingPart.objects.create(draft=draft, kind="room", position=0)
    ListingPart.objects.create(draft=draft, kind="tour", position=0, url="https://example.com/tour")
    return draft


def test_the_reads_give_the_orms_rows(draft):
    other = DraftFactory(list_agent=draft.list_agent)
    RemoteItem.objects.create(draft_id=other.pk, kind="photo", local_id=70, remote_id="x")

    read = reads.draft_with_agent(draft.pk)
    assert fields(read) == fields(Draft.objects.get(pk=draft.pk))
    assert fields(read.list_agent) == fields(draft.list_agent)
    assert reads.draft_with_agent(-1) is None
    assert fields(reads.sync_row(draft.pk)) == fields(DraftSync.objects.get(pk=draft.pk))
    with pytest.raises(DraftSync.DoesNotExist):
        reads.sync_row(other.pk)
    items = sorted(reads.mirror_items(draft.pk), key=lambda row: row.pk)
    assert [fields(row) for row in items] == [
        fields(row) for row in RemoteItem.objects.filter(draft_id=draft.pk).order_by("pk")
    ]
    assert [fields(row) for row in reads.mirror_parts(draft.pk)] == [
        fields(row) for row in RemotePart.objects.filter(draft_id=draft.pk)
    ]
    # In the order the planner reads them: by kind, then position.
    parts = reads.listing_parts(draft.pk)
    assert [(part.kind, part.position) for part in parts] == [("room", 0), ("room", 1), ("tour", 0)]
    assert reads.mirror_items(-1) == []


def test_each_read_is_compiled_once_per_connection(draft, compiled):
    for _ in range(3):
        reads.draft_with_agent(draft.pk)
        reads.sync_row(draft.pk)
        reads.mirror_items(draft.pk)
        reads.mirror_parts(draft.pk)
        reads.listing_parts(draft.pk)
    assert sorted(model.__name__ for model in compiled) == [
        "Draft",
        "DraftSync",
        "ListingPart",
        "RemoteItem",
        "RemotePart",
    ]


def test_values_reads_give_the_orms_rows(draft):
    from media_manager.models import Photo
    from mls import push, state
    from tests.factories import PhotoFactory

    PhotoFactory(draft=draft, by=draft.list_agent)
    PhotoFactory(draft=draft, by=draft.list_agent)
    draft.refresh_from_db()
    assert reads.values_of("local photos", Photo, state._local_photos, draft=draft.pk) == list(
        state._local_photos(draft.pk)
    )
    assert push.work_row(draft.pk) == DraftSync.objects.filter(pk=draft.pk).values(*push._WORK_ROW).first()
    assert push.work_row(-1) is None
    # Both keys are parameters of the compiled SQL: an edit past `seq` is seen, none at it.
    edited = reads.values_of("edited since", Draft, push._edited_since, draft=draft.pk, seq=draft.change_seq)
    assert edited == []
    earlier = draft.change_seq - 1
    edited = reads.values_of("edited since", Draft, push._edited_since, draft=draft.pk, seq=earlier)
    assert edited == [(draft.pk,)]
