"""The sandbox's page and ``_control/`` need a staff session (with CSRF) or the control token."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from sandbox import faults
from sandbox.config import load_config
from tests.factories import AgentFactory, UserFactory

CONTROL = ("reset", "faults", "calls", "expire_tokens", "state", "options", "clock")
FAULT = {"rules": [{"kind": "server_error", "times": 1}]}
CSRF_SECRET = "Sandbox0Csrf0Secret0For0Tests012"  # 32 letters and digits: a valid CSRF secret


@pytest.fixture
def control_on(settings, db):
    settings.SPARK_SANDBOX_CONTROL_ENABLED = True
    settings.SPARK_SANDBOX_CONTROL_TOKEN = ""
    settings.SPARK_SANDBOX_FAULTS = ""
    return settings


@pytest.fixture
def staff_client(control_on) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(is_staff=True))
    return client


def installed_rules() -> list:
    return faults.describe(load_config())["rules"]


def post_faults(client: Client, **headers: str):
    return client.post(
        "/sandbox/_control/faults", json.dumps(FAULT), content_type="application/json", **headers
    )


def test_anonymous_visitors_are_sent_to_sign_in_from_the_sandbox_page(control_on, client):
    response = client.get("/sandbox/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/sandbox/")


def test_signed_in_agents_who_are_not_staff_cannot_read_the_sandbox_page(control_on, client):
    client.force_login(AgentFactory())
    assert client.get("/sandbox/").status_code == 403


def test_staff_read_the_sandbox_page(staff_client):
    response = staff_client.get("/sandbox/")
    assert response.status_code == 200
    assert b"<html" in response.content.lower()


@pytest.mark.parametrize("name", CONTROL)
def test_anonymous_control_calls_are_refused(control_on, client, name):
    assert client.get(f"/sandbox/_control/{name}").status_code == 403
    assert client.post(f"/sandbox/_control/{name}", "{}", content_type="application/json").status_code == 403


def test_an_anonymous_fault_switch_installs_nothing(control_on, client):
    response = post_faults(client)
    assert response.status_code == 403
    assert "SPARK_SANDBOX_CONTROL_TOKEN" in response.json()["error"]
    assert installed_rules() == []


def test_staff_control_calls_from_a_session_need_the_csrf_token(staff_client):
    assert staff_client.get("/sandbox/_control/state").status_code == 200
    assert post_faults(staff_client).status_code == 403
    assert installed_rules() == []
    staff_client.cookies["csrftoken"] = CSRF_SECRET
    assert post_faults(staff_client, HTTP_X_CSRFTOKEN=CSRF_SECRET).status_code == 200
    assert len(installed_rules()) == 1


def test_the_control_token_opens_control_without_a_session_or_csrf(control_on):
    control_on.SPARK_SANDBOX_CONTROL_TOKEN = "a-control-token-for-this-test"
    client = Client(enforce_csrf_checks=True)
    assert post_faults(client, HTTP_X_SANDBOX_CONTROL_TOKEN="not-the-token").status_code == 403
    assert installed_rules() == []
    assert (
        post_faults(client, HTTP_X_SANDBOX_CONTROL_TOKEN="a-control-token-for-this-test").status_code == 200
    )
    assert len(installed_rules()) == 1
    page = client.get("/sandbox/", HTTP_X_SANDBOX_CONTROL_TOKEN="a-control-token-for-this-test")
    assert page.status_code == 200


def test_an_empty_control_token_setting_turns_token_access_off(control_on):
    client = Client()
    assert client.get("/sandbox/_control/state", HTTP_X_SANDBOX_CONTROL_TOKEN="").status_code == 403


def test_control_stays_404_when_disabled_even_for_staff(staff_client, settings):
    settings.SPARK_SANDBOX_CONTROL_ENABLED = False
    assert staff_client.get("/sandbox/_control/state").status_code == 404


def test_the_api_keeps_its_bearer_token_and_needs_no_staff(control_on, client):
    headers = {"HTTP_X_SPARKAPI_USER_AGENT": "t", "HTTP_AUTHORIZATION": "Bearer sandbox-access-token"}
    assert client.get("/sandbox/v1/propertytypes", **headers).status_code == 200
    assert client.get("/sandbox/v1/propertytypes", HTTP_X_SPARKAPI_USER_AGENT="t").status_code == 401
