"""Our own 404, 403 and 500 pages: plain words and a way back, never Django's debug page."""

import pytest
from django.template.loader import render_to_string
from django.test import override_settings
from django.urls import reverse

from tests.factories import AgentFactory, DraftFactory


@override_settings(DEBUG=False)
def test_a_wrong_address_gets_our_404_page(agent_client):
    response = agent_client.get("/drafts/no-such-page/")

    body = response.content.decode()
    assert response.status_code == 404
    assert "We can't find that page" in body
    assert f'href="{reverse("drafts:draft_list")}"' in body
    assert "Using the URLconf" not in body  # Django's debug page


@override_settings(DEBUG=False)
def test_another_offices_draft_gets_our_404_page(agent_client, other_office):
    theirs = DraftFactory(list_agent=AgentFactory(office=other_office))

    response = agent_client.get(reverse("drafts:draft_edit", args=[theirs.pk]))

    assert response.status_code == 404
    assert "We can't find that page" in response.content.decode()


@override_settings(DEBUG=False)
def test_a_refusal_gets_our_403_page_with_its_reason(agent_client):
    # The review queue is for reviewers; the refusal's message is written for the person.
    response = agent_client.get(reverse("drafts:review_queue"))

    body = response.content.decode()
    assert response.status_code == 403
    assert "You can't do that here" in body
    assert "Back to the drafts" in body


@pytest.mark.django_db
def test_the_500_page_renders_without_a_request():
    body = render_to_string("500.html")

    assert "Something went wrong on our side" in body
    assert 'href="/"' in body
    assert "<script" not in body  # no nonce without a request: nothing the CSP would block
