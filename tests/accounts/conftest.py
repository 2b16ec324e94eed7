import pytest
from django.test import Client

from tests.factories import AgentFactory


@pytest.fixture
def signed_in_pages(agent, compiled):
    """Three signed-in pages (two people, one of them twice) after `compiled` is cleared: what
    they compile is what every signed-in request compiles once the first has."""
    client, other = Client(), Client()
    client.force_login(agent)
    other.force_login(AgentFactory(office=agent.office))
    compiled.clear()
    for signed_in in (client, other, client):
        assert signed_in.get("/drafts/").status_code == 200  # signed in: the session was read
    return compiled
