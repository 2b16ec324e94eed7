"""The sync pages: log, badge, retry, drift decision, needs-attention list (scoping, methods)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from drafts.models import DraftEvent
from mls import push
from mls.models import DraftSync, RemoteCall, SyncState
from tests.factories import AgentFactory, DraftFactory, OfficeAdminFactory


@pytest.fixture
def stuck(draft):
    DraftSync.objects.create(
        draft=draft,
        state=SyncState.ATTENTION,
        attempts=10,
        error_message="Gave up after 10 attempts. Last error: HTTP 503",
        error_at=timezone.now(),
    )
    RemoteCall.objects.create(
        draft=draft,
        method="PUT",
        route="incomplete.update",
        path="/v1/listings/incomplete/1",
        status=503,
        spark_code=1510,
        duration_ms=12.5,
        outcome="failed",
        purpose="UpdateFields City",
    )
    return draft


@pytest.fixture
def stranger(other_office):
    return AgentFactory(office=other_office)


def test_the_sync_page_lists_each_remote_call(agent_client, stuck):
    response = agent_client.get(reverse("mls:draft_sync", args=[stuck.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "UpdateFields City" in html and "503" in html and "1510" in html
    assert "Needs attention" in html and "Retry now" in html


def test_the_sync_page_is_not_for_another_office(client, stuck, stranger):
    client.force_login(stranger)
    assert client.get(reverse("mls:draft_sync", args=[stuck.pk])).status_code == 404
    assert client.get(reverse("mls:draft_sync_badge", args=[stuck.pk])).status_code == 404
    assert client.post(reverse("mls:draft_sync_retry", args=[stuck.pk])).status_code == 404
    assert (
        client.post(reverse("mls:draft_sync_resolve", args=[stuck.pk]), {"keep": "portal"}).status_code == 404
    )


@pytest.mark.parametrize("name", ["draft_sync", "draft_sync_badge", "draft_sync_retry", "draft_sync_resolve"])
def test_sync_views_require_login(client, stuck, name):
    response = client.get(reverse(f"mls:{name}", args=[stuck.pk]))
    assert response.status_code == 302 and "/accounts/" in response["Location"]


@pytest.mark.parametrize("name", ["draft_sync_retry", "draft_sync_resolve"])
def test_mutating_views_reject_get(agent_client, stuck, name):
    assert agent_client.get(reverse(f"mls:{name}", args=[stuck.pk])).status_code == 405


def test_retry_requeues_exactly_once(
    agent_client, stuck, own_doorbell, django_capture_on_commit_callbacks, settings
):
    settings.SYNC_ENQUEUE_ENABLED = True
    url = reverse("mls:draft_sync_retry", args=[stuck.pk])
    with django_capture_on_commit_callbacks(execute=True):
        first = agent_client.post(url)
    with django_capture_on_commit_callbacks(execute=True):
        second = agent_client.post(url)
    assert first.status_code == second.status_code == 302
    assert own_doorbell.rung == 1
    assert own_doorbell.flush(10) and own_doorbell.published == 1
    row = DraftSync.objects.get(pk=stuck.pk)
    assert row.state == SyncState.PENDING and row.attempts == 0 and row.error_message == ""
    assert DraftEvent.objects.filter(draft=stuck, kind="sync", note="Sync retry requested").count() == 1


def test_retry_with_htmx_answers_the_badge(agent_client, stuck, memory_broker):
    response = agent_client.post(reverse("mls:draft_sync_retry", args=[stuck.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="sync-badge-{stuck.pk}"' in html and "Waiting to sync" in html
    assert 'hx-trigger="every 10s"' in html  # polls until settled


def test_resolve_needs_a_choice(agent_client, stuck):
    assert (
        agent_client.post(reverse("mls:draft_sync_resolve", args=[stuck.pk]), {"keep": "both"}).status_code
        == 400
    )


def test_needs_attention_is_scoped_and_its_queries_fixed(
    client, office, agent, stuck, stranger, django_assert_num_queries
):
    admin = OfficeAdminFactory(office=office)
    colleague_draft = DraftFactory(list_agent=AgentFactory(office=office))
    DraftSync.objects.create(draft=colleague_draft, state=SyncState.DRIFT, drift_detected_at=timezone.now())
    foreign = DraftFactory(list_agent=stranger)
    DraftSync.objects.create(draft=foreign, state=SyncState.ATTENTION, error_message="foreign")
    synced = DraftFactory(list_agent=agent)
    DraftSync.objects.create(draft=synced, state=SyncState.SYNCED, confirmed_seq=synced.change_seq)
    url = reverse("mls:needs_attention")

    client.force_login(admin)
    with django_assert_num_queries(5):  # session, user, count, the office in the header, rows
        html = client.get(url).content.decode()
    assert f"attention-{stuck.pk}" in html and f"attention-{colleague_draft.pk}" in html
    assert f"attention-{foreign.pk}" not in html and f"attention-{synced.pk}" not in html

    client.force_login(agent)
    html = client.get(url).content.decode()
    assert f"attention-{stuck.pk}" in html and f"attention-{colleague_draft.pk}" not in html


def test_badges_render_every_state(draft):
    from django.template import Context, Template

    template = Template("{% load sync %}{% sync_badge draft %}")
    draft.refresh_from_db()
    assert "Waiting to sync" in template.render(Context({"draft": draft}))
    row = DraftSync.objects.create(draft=draft)
    cases = {
        SyncState.SYNCED: {"confirmed_seq": draft.change_seq, "last_synced_at": timezone.now()},
        SyncState.FAILED: {
            "blocked_seq": draft.change_seq,
            "error_message": "The MLS refused the changed fields",
        },
        SyncState.ATTENTION: {"error_message": "Gave up"},
        SyncState.DRIFT: {},
        SyncState.RETRYING: {
            "confirmed_seq": 0,
            "next_attempt_at": timezone.now() + timezone.timedelta(minutes=1),
            "error_message": "x",
        },
    }
    expected = {
        SyncState.SYNCED: "Synced at ",
        SyncState.FAILED: "The MLS refused the changed fields",
        SyncState.ATTENTION: "Needs attention",
        SyncState.DRIFT: "Changed in the MLS",
        SyncState.RETRYING: "Retrying at ",
    }
    for state, values in cases.items():
        DraftSync.objects.filter(pk=row.pk).update(state=state, **values)
        draft = type(draft).objects.select_related("sync").get(pk=draft.pk)
        assert expected[state] in template.render(Context({"draft": draft})), state
    DraftSync.objects.filter(pk=row.pk).update(
        state=SyncState.SYNCING,
        lease_owner="w",
        lease_expires_at=timezone.now() + timezone.timedelta(minutes=1),
    )
    draft = type(draft).objects.select_related("sync").get(pk=draft.pk)
    assert "Syncing" in template.render(Context({"draft": draft}))


def test_badges_of_drafts_the_engine_no_longer_pushes(draft, agent):
    """In the trash, being published or live, the badge says where the listing stands; it never
    reads "Waiting to sync" for ever (the engine confirms nothing more for such a draft)."""
    from django.template import Context, Template

    from drafts.models import Draft, DraftStatus

    template = Template("{% load sync %}{% sync_badge draft %}")

    def badge() -> str:
        return template.render(Context({"draft": Draft.objects.select_related("sync").get(pk=draft.pk)}))

    DraftSync.objects.create(draft=draft, confirmed_seq=0)
    Draft.objects.filter(pk=draft.pk).update(remote_id="20261123000001000000", change_seq=5)
    draft.move_to_trash(by=agent)
    html = badge()
    assert "Removing from the MLS" in html and "every 10s" in html
    Draft.objects.filter(pk=draft.pk).update(remote_id="")
    html = badge()
    assert "Not in the MLS (in the trash)" in html and "every 10s" not in html
    draft.restore_from_trash(by=agent)
    assert "Waiting to sync" in badge()
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.PROMOTING)
    assert "Publishing to the MLS" in badge()
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.LIVE)
    html = badge()
    assert "Live in the MLS" in html and "every 10s" not in html


def test_push_of_a_draft_in_the_trash_does_nothing(draft, agent):
    draft.move_to_trash(by=agent)
    assert push.push_draft(draft.pk) == push.Outcome.GONE


def test_a_drift_decision_is_recorded_for_the_worker(agent_client, draft, agent, memory_broker):
    DraftSync.objects.create(
        draft=draft,
        state=SyncState.DRIFT,
        drift_remote={"fields": {"City": {"portal": "Fargo", "remote": "X"}}},
    )
    page = agent_client.get(reverse("mls:draft_sync", args=[draft.pk])).content.decode()
    assert "Keep portal version" in page and "Accept MLS changes" in page and "City" in page
    response = agent_client.post(reverse("mls:draft_sync_resolve", args=[draft.pk]), {"keep": "portal"})
    assert response.status_code == 302
    row = DraftSync.objects.get(pk=draft.pk)
    assert (row.state, row.drift_decision, row.drift_decided_by) == (SyncState.PENDING, "portal", agent)
    # A second decision finds nothing waiting.
    agent_client.post(reverse("mls:draft_sync_resolve", args=[draft.pk]), {"keep": "remote"})
    assert DraftSync.objects.get(pk=draft.pk).drift_decision == "portal"


def test_a_badge_escapes_what_the_mls_said_and_polls_only_while_due(draft):
    """The badge is written in Python (a list shows 25): the MLS's words are escaped, cut to
    160 characters, and only a push still due polls."""
    from django.template import Context, Template

    template = Template("{% load sync %}{% sync_badge draft %}")
    words = '<script>alert("x")</script> ' + "y" * 300
    DraftSync.objects.create(draft=draft, state=SyncState.ATTENTION, error_message=words)
    html = template.render(Context({"draft": type(draft).objects.select_related("sync").get(pk=draft.pk)}))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert f'id="sync-badge-{draft.pk}"' in html and "sync-state-attention" in html
    assert f'href="{reverse("mls:draft_sync", args=[draft.pk])}"' in html
    assert "y" * 200 not in html.split('class="sync-reason')[1]
    assert "every 10s" not in html

    DraftSync.objects.filter(draft=draft).update(state=SyncState.PENDING, error_message="")
    html = template.render(Context({"draft": type(draft).objects.select_related("sync").get(pk=draft.pk)}))
    assert f'hx-get="{reverse("mls:draft_sync_badge", args=[draft.pk])}" hx-trigger="every 10s"' in html
    assert "sync-reason" not in html
