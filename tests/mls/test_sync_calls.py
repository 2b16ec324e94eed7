"""Remote calls per change, counted in the sandbox's journal: a burst of edits ends as one or two
calls to the MLS, each carrying the latest state, and the remote ends equal to the draft.

The first tests drive the push in this process (the live sandbox); the last runs the scenarios of
bench/sync/calls.py on a real Celery worker (tests/mls/worker_harness.py)."""

from __future__ import annotations

import pytest

from drafts.models import Draft
from media_manager.models import Document, Photo
from mls import push
from mls.models import DraftSync
from tests.factories import DraftFactory
from tests.mls.sync_support import add_document, add_photo, assert_in_sync, drain
from tests.mls.worker_harness import CALL_SCENARIOS, Harness, call_report, run_call_scenarios


@pytest.fixture
def synced_draft(sync_env, agent):
    draft = DraftFactory(list_agent=agent, list_price=250000)
    add_photo(draft, by=agent, name="Front", seed=1)
    add_photo(draft, by=agent, name="Kitchen", seed=2)
    add_document(draft, by=agent, name="Survey", privacy="Private")
    assert drain(draft)[-1] == push.Outcome.SYNCED
    return draft


def save_price(draft: Draft, value: int) -> None:
    draft.refresh_from_db()
    draft.save_field(
        "list_price", str(value), by=draft.list_agent, seen_version=draft.version, seen_value=draft.list_price
    )


@pytest.mark.django_db(transaction=True)
def test_saves_made_while_an_edit_settles_go_as_one_call_with_the_last_value(sync_env, synced_draft):
    save_price(synced_draft, 260000)
    assert drain(synced_draft)[-1] == push.Outcome.SYNCED
    assert sync_env.count("incomplete.update") == 1
    for value in (261000, 262000, 263000, 264000, 265000):
        save_price(synced_draft, value)
    # Within the interval of the first push: the push waits until the draft is still, then sends once.
    assert drain(synced_draft)[-1] == push.Outcome.SYNCED
    assert sync_env.count("incomplete.update") == 2
    assert sync_env.remote(synced_draft)["StandardFields"]["ListPrice"] == 265000
    assert DraftSync.objects.get(pk=synced_draft.pk).edits_pushed_at is not None
    assert_in_sync(sync_env, synced_draft)


@pytest.mark.django_db(transaction=True)
def test_a_caption_and_the_star_on_one_photo_are_one_put(sync_env, synced_draft):
    agent = synced_draft.list_agent
    kitchen = Photo.objects.get(draft=synced_draft, name="Kitchen")
    kitchen.update_text(name="Kitchen", caption="Sunlit corner", by=agent)
    kitchen.make_primary(by=agent)
    before = sync_env.calls()
    assert drain(synced_draft)[-1] == push.Outcome.SYNCED
    assert sync_env.calls() - before == 1
    assert sync_env.count("photos.update") == 1
    row = DraftSync.objects.get(pk=synced_draft.pk)
    kitchen.refresh_from_db()
    assert row.primary_photo == kitchen.remote_id
    assert_in_sync(sync_env, synced_draft)
    # Nothing is left to send: the mirror recorded the caption and the primary from that one call.
    assert push.push_draft(synced_draft.pk) == push.Outcome.NOTHING
    assert sync_env.calls() - before == 1


@pytest.mark.django_db(transaction=True)
def test_a_document_name_and_privacy_stay_two_calls(sync_env, synced_draft):
    """The Spark page makes each a request of its own ("performed independently")."""
    survey = Document.objects.get(draft=synced_draft)
    survey.update(name="Survey (signed)", privacy="Public", by=synced_draft.list_agent)
    before = sync_env.calls()
    assert drain(synced_draft)[-1] == push.Outcome.SYNCED
    assert sync_env.calls() - before == 2
    assert sync_env.count("documents.update") == 2
    assert_in_sync(sync_env, synced_draft)


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_each_burst_of_edits_ends_as_one_or_two_calls_on_a_real_worker(tmp_path):
    with Harness(tmp_path / "calls") as harness:
        harness.control("POST", "faults", {"rules": [], "latency_ms": 20})
        harness.start_worker()
        harness.start_beat()
        results = {result["key"]: result for result in run_call_scenarios(harness)}
    print("\n" + call_report(list(results.values())))
    assert set(results) == {scenario.key for scenario in CALL_SCENARIOS}
    for result in results.values():
        assert result["synced"] and result["matches"], result
        assert 1 <= result["calls"] <= 2, result
    assert set(results["fields"]["routes"]) == {"incomplete.update"}
    assert set(results["drags"]["routes"]) == {"photos.reorder"}
    assert set(results["photo"]["routes"]) == {"photos.update"}
