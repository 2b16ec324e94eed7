"""Sign-in and its throttling."""

import pytest
from django.urls import reverse

from accounts.models import LoginAttempt
from tests.factories import AgentFactory

LOGIN = reverse("login")
PASSWORD = "correct horse battery"


def sign_in(client, username, password, address="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_login_page_renders_with_labels(client):
    response = client.get(LOGIN)

    body = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_username">' in body and '<label for="id_password">' in body
    assert "Content-Security-Policy" in response


def test_right_password_signs_in_and_lands_on_the_drafts(client, agent):
    response = sign_in(client, agent.username, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == reverse("drafts:draft_list")


def test_wrong_password_is_refused_and_counted(client, agent):
    response = sign_in(client, agent.username, "wrong")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert LoginAttempt.objects.filter(username=agent.username).count() == 1


def test_the_sixth_attempt_is_429_even_with_the_right_password(client, agent):
    for _ in range(5):
        assert sign_in(client, agent.username, "wrong").status_code == 200

    response = sign_in(client, agent.username, PASSWORD)

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_follows_the_username_across_addresses(client, agent):
    for number in range(5):
        sign_in(client, agent.username, "wrong", address=f"10.0.0.{number + 1}")

    assert sign_in(client, agent.username, PASSWORD, address="10.9.9.9").status_code == 429


def test_a_lockout_of_one_user_leaves_another_alone(client, agent, office):
    other = AgentFactory(office=office)
    for _ in range(5):
        sign_in(client, agent.username, "wrong", address="10.0.0.1")

    assert sign_in(client, other.username, PASSWORD, address="10.0.0.2").status_code == 302


def test_a_success_before_the_limit_clears_the_count(client, agent):
    for _ in range(4):
        sign_in(client, agent.username, "wrong")
    assert sign_in(client, agent.username, PASSWORD).status_code == 302
    client.logout()

    for _ in range(4):
        sign_in(client, agent.username, "wrong")
    assert sign_in(client, agent.username, PASSWORD).status_code == 302


@pytest.mark.parametrize("attempts", [20])
def test_refused_attempts_while_locked_are_not_counted_again(client, agent, attempts):
    for _ in range(attempts):
        sign_in(client, agent.username, "wrong")

    assert LoginAttempt.objects.filter(username=agent.username).count() == 5


def test_after_the_window_the_lock_lifts(client, agent, settings):
    settings.LOGIN_THROTTLE_WINDOW_SECONDS = 0
    for _ in range(6):
        sign_in(client, agent.username, "wrong")

    assert sign_in(client, agent.username, PASSWORD).status_code == 302


def test_signed_in_users_skip_the_login_page(client, agent):
    client.force_login(agent)

    assert client.get(LOGIN).status_code == 302


def test_sign_out_is_a_post(client, agent):
    client.force_login(agent)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert client.get(reverse("drafts:draft_list")).status_code == 302
