"""The sync and publishing models moved from the former `spark` app to `mls`: a database made
before the move migrates on and keeps every row (run on SQLite and on PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from drafts.models import Draft
from media_manager.models import Document, Photo
from mls.models import DraftSync, Promotion, PromotionItem, PromotionStep, RemoteCall, RemoteItem, SyncState
from tests.factories import AgentFactory, DraftFactory

# The last migration of the models while they lived in `spark`.
BEFORE_THE_MOVE = ("spark", "0002_promotion")
APPS_BELOW = ("accounts", "drafts", "media_manager")


def migrate_to(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


def last_before_mls(graph, app: str) -> tuple[str, str]:
    """The app's newest migration that needs nothing of `mls` (later ones, such as the data
    migration to the MLS's codes, read the MLS's lists and come after the move)."""
    nodes = sorted(node for node in graph.nodes if node[0] == app)
    return [node for node in nodes if all(needed[0] != "mls" for needed in graph.forwards_plan(node))][-1]


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_moving_the_models_from_spark_to_mls_keeps_every_row(settings):
    settings.SYNC_ENQUEUE_ENABLED = False
    graph = MigrationExecutor(connection).loader.graph
    before = [BEFORE_THE_MOVE, *(last_before_mls(graph, app) for app in APPS_BELOW)]
    try:
        executor = migrate_to(before)
        old = executor.loader.project_state(before).apps
        table_names = connection.introspection.table_names()
        assert "spark_draftsync" in table_names and "mls_draftsync" not in table_names

        agent = AgentFactory()
        draft = DraftFactory(list_agent=agent, remote_id="20260101000000000001000000")
        other = DraftFactory(list_agent=agent)
        photo = old.get_model("media_manager", "Photo").objects.create(
            draft_id=draft.pk, position=1, original_name="front.jpg", name="Front", created_by_id=agent.pk
        )
        document = old.get_model("media_manager", "Document").objects.create(
            draft_id=draft.pk, position=1, original_name="survey.pdf", name="Survey", created_by_id=agent.pk
        )
        old.get_model("spark", "DraftSync").objects.create(
            draft_id=draft.pk,
            state=SyncState.SYNCED,
            confirmed_seq=7,
            confirmed_fields={"ListPrice": 250000},
            photo_order=["P1"],
            drift_decided_by_id=agent.pk,
        )
        old_item = old.get_model("spark", "RemoteItem")
        old_item.objects.create(draft_id=draft.pk, kind="photo", local_id=photo.pk, remote_id="P1")
        old_item.objects.create(draft_id=draft.pk, kind="document", local_id=document.pk, remote_id="D1")
        old_item.objects.create(draft_id=draft.pk, kind="photo", local_id=None, remote_id="P-orphan")
        old_call = old.get_model("spark", "RemoteCall")
        for status in (201, 500):
            old_call.objects.create(
                draft_id=draft.pk, method="POST", route="photos.create", path="/v1/x", status=status
            )
        old.get_model("spark", "Promotion").objects.create(
            draft_id=other.pk, step=PromotionStep.PHOTOS, listing_id="L1", started_by_id=agent.pk
        )
        old.get_model("spark", "PromotionItem").objects.create(
            promotion_id=other.pk, kind="photo", local_id=photo.pk, remote_id="LP1", upload_token=uuid.uuid4()
        )

        migrate_to(latest())

        table_names = connection.introspection.table_names()
        assert "mls_draftsync" in table_names and "spark_draftsync" not in table_names
        sync = DraftSync.objects.get(pk=draft.pk)
        assert (sync.state, sync.confirmed_seq, sync.confirmed_fields) == ("synced", 7, {"ListPrice": 250000})
        assert sync.photo_order == ["P1"] and sync.drift_decided_by == agent
        assert sync.draft == Draft.objects.get(pk=draft.pk)
        assert sorted(RemoteItem.objects.filter(draft=draft).values_list("remote_id", flat=True)) == [
            "D1",
            "P-orphan",
            "P1",
        ]
        assert draft.remote_items.get(kind="photo", local_id=photo.pk).remote_id == "P1"
        assert sorted(RemoteCall.objects.filter(draft=draft).values_list("status", flat=True)) == [201, 500]
        promotion = Promotion.objects.get(pk=other.pk)
        assert (promotion.step, promotion.listing_id, promotion.started_by) == ("photos", "L1", agent)
        assert list(promotion.items.values_list("remote_id", flat=True)) == ["LP1"]
        assert Photo.objects.get(pk=photo.pk).draft_id == draft.pk
        assert Document.objects.get(pk=document.pk).draft_id == draft.pk

        # The constraints and indexes came along: still enforced on the renamed tables.
        constraints = connection.introspection.get_constraints(connection.cursor(), "mls_remoteitem")
        assert {"remoteitem_draft_kind", "remoteitem_one_per_local_item"} <= set(constraints)
        assert any(c["foreign_key"] == ("drafts_draft", "id") for c in constraints.values())
        item_constraints = connection.introspection.get_constraints(connection.cursor(), "mls_promotionitem")
        assert any(c["foreign_key"] == ("mls_promotion", "draft_id") for c in item_constraints.values())
        # New rows go in alongside the old ones, and a draft's delete still cascades to them.
        RemoteCall.objects.create(draft=draft, method="GET", route="x", path="/v1/y", at=timezone.now())
        Draft.objects.filter(pk=draft.pk).delete()
        assert not RemoteItem.objects.filter(draft_id=draft.pk).exists()
        assert not DraftSync.objects.filter(pk=draft.pk).exists()
        Draft.objects.filter(pk=other.pk).delete()
        assert not PromotionItem.objects.exists()
    finally:
        migrate_to(latest())
