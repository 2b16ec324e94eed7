"""The inbox: one's own notifications, the unread count in the navigation, marking read."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import Notification
from tests.factories import AgentFactory

INBOX = reverse("accounts:inbox")
HTMX = {"HTTP_HX_REQUEST": "true"}


def notify(user, text: str = "Anna submitted 611 8th St for review.", url: str = "/drafts/1/review/"):
    (notification,) = Notification.send([user], text=text, url=url)
    return notification


@pytest.fixture
def stranger(office):
    return AgentFactory(office=office)


def test_the_inbox_lists_one_s_own_notifications_newest_first(agent_client, agent, stranger):
    older = notify(agent, "First")
    newer = notify(agent, "Second")
    notify(stranger, "Not yours")

    response = agent_client.get(INBOX)

    body = response.content.decode()
    assert response.status_code == 200
    assert [n.pk for n in response.context["notifications"]] == [newer.pk, older.pk]
    assert "Not yours" not in body
    assert "2 unread" in body


def test_the_navigation_shows_the_unread_count(agent_client, agent):
    notify(agent)
    notify(agent)
    notify(agent).mark_read()

    body = agent_client.get(reverse("drafts:draft_list")).content.decode()

    assert 'id="nav-unread-count">2<' in body


def test_no_unread_hides_the_count(agent_client):
    body = agent_client.get(INBOX).content.decode()

    assert 'id="nav-unread-count" hidden>0<' in body


def test_mark_read_with_htmx_returns_the_row_and_the_new_count(agent_client, agent):
    notification = notify(agent)
    notify(agent)

    response = agent_client.post(reverse("accounts:notification_mark_read", args=[notification.pk]), **HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert f'id="notification-{notification.pk}"' in body and "is-unread" not in body
    assert 'id="nav-unread-count" hx-swap-oob="true">1<' in body
    assert Notification.objects.get(pk=notification.pk).read_at is not None


def test_mark_read_without_htmx_redirects(agent_client, agent):
    notification = notify(agent)

    response = agent_client.post(reverse("accounts:notification_mark_read", args=[notification.pk]))

    assert response.status_code == 302 and response["Location"] == INBOX
    assert Notification.objects.get(pk=notification.pk).is_read


def test_opening_marks_read_and_goes_where_it_points(agent_client, agent):
    notification = notify(agent, url="/drafts/42/")

    response = agent_client.post(reverse("accounts:notification_open", args=[notification.pk]))

    assert response.status_code == 302 and response["Location"] == "/drafts/42/"
    assert Notification.objects.get(pk=notification.pk).is_read


def test_mark_all_read(agent_client, agent, stranger):
    notify(agent)
    notify(agent)
    theirs = notify(stranger)

    response = agent_client.post(reverse("accounts:inbox_mark_all_read"), **HTMX)

    assert response.status_code == 200
    assert 'id="nav-unread-count" hidden hx-swap-oob="true">0<' in response.content.decode()
    assert not Notification.objects.filter(recipient=agent, read_at__isnull=True).exists()
    assert not Notification.objects.get(pk=theirs.pk).is_read


@pytest.mark.parametrize("name", ["accounts:notification_open", "accounts:notification_mark_read"])
def test_another_person_s_notification_is_404(agent_client, stranger, name):
    theirs = notify(stranger)

    response = agent_client.post(reverse(name, args=[theirs.pk]))

    assert response.status_code == 404
    assert not Notification.objects.get(pk=theirs.pk).is_read


@pytest.mark.parametrize("name", ["accounts:notification_open", "accounts:notification_mark_read"])
def test_mutations_refuse_get(agent_client, agent, name):
    notification = notify(agent)

    assert agent_client.get(reverse(name, args=[notification.pk])).status_code == 405
    assert agent_client.get(reverse("accounts:inbox_mark_all_read")).status_code == 405
    assert not Notification.objects.get(pk=notification.pk).is_read


def test_the_inbox_requires_login(client, agent):
    notification = notify(agent)

    for response in (
        client.get(INBOX),
        client.post(reverse("accounts:notification_open", args=[notification.pk])),
        client.post(reverse("accounts:inbox_mark_all_read")),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("url", ["https://evil.example/", "//evil.example/x", "drafts/1/"])
def test_a_notification_points_inside_the_portal_only(agent, url):
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(recipient=agent, text="Click me", url=url)


def test_send_skips_duplicates_and_tidies_the_text(agent):
    sent = Notification.send([agent, agent, None], text="  Line one\nline two  " + "x" * 400, url="/drafts/")

    assert len(sent) == 1
    assert "\n" not in sent[0].text and len(sent[0].text) == Notification.TEXT_MAX


def test_the_inbox_query_count_does_not_grow(agent_client, agent, django_assert_num_queries):
    for index in range(3):
        notify(agent, f"n{index}")
    agent_client.get(INBOX)
    # session, user (+office), page count, page, unread count, the nav's counts
    with django_assert_num_queries(6):
        agent_client.get(INBOX)
    for index in range(20):
        notify(agent, f"m{index}")
    with django_assert_num_queries(6):
        agent_client.get(INBOX)
