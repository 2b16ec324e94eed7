"""Sign-in and its throttling."""

from datetime import timedelta

import pytest
from django.db.models import F
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


# --- Issue 14: the lock follows the name authentication uses, a success clears only its own
# failures, and a stranger cannot lock an agent out from everywhere.


@pytest.mark.parametrize(
    "typed", ["dana.agent ", " dana.agent", "\tdana.agent\n", "\uff44\uff41\uff4e\uff41.agent"]
)
def test_the_lock_holds_for_the_name_as_authentication_reads_it(client, office, typed):
    """The form strips the name and NFKC-normalises it before the case-sensitive lookup, so
    every spelling that reaches dana's account meets dana's lock."""
    AgentFactory(office=office, username="dana.agent")
    for _ in range(5):
        sign_in(client, "dana.agent", "wrong")

    response = sign_in(client, typed, PASSWORD)

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_name_is_case_sensitive_as_the_lookup_is(client, office):
    """Authentication finds the username with an exact, case-sensitive match, so another case is
    another (unknown) name: it cannot sign in as dana, and its failures are its own."""
    AgentFactory(office=office, username="dana.agent")

    assert sign_in(client, "Dana.Agent", PASSWORD).status_code == 200
    assert "_auth_user_id" not in client.session
    assert list(LoginAttempt.objects.values_list("username", flat=True)) == ["Dana.Agent"]


def test_failures_typed_with_spaces_count_for_the_account(client, office):
    AgentFactory(office=office, username="dana.agent")
    for _ in range(5):
        sign_in(client, " dana.agent ", "wrong")

    assert sign_in(client, "dana.agent", PASSWORD).status_code == 429
    assert set(LoginAttempt.objects.values_list("username", flat=True)) == {"dana.agent"}


def test_another_accounts_sign_in_leaves_the_failures_of_the_first(client, office):
    AgentFactory(office=office, username="dana.agent")
    AgentFactory(office=office, username="ben.agent")
    for _ in range(5):
        sign_in(client, "dana.agent", "wrong", address="10.0.0.7")

    assert sign_in(client, "ben.agent", PASSWORD, address="10.0.0.7").status_code == 302
    client.logout()

    assert LoginAttempt.objects.filter(username="dana.agent").count() == 5
    assert sign_in(client, "dana.agent", PASSWORD, address="10.0.0.7").status_code == 429


def test_a_success_clears_only_its_own_failures_from_that_address(client, office):
    AgentFactory(office=office, username="dana.agent")
    for _ in range(3):
        sign_in(client, "dana.agent", "wrong", address="10.0.0.7")
        sign_in(client, "dana.agent", "wrong", address="192.0.2.66")

    assert sign_in(client, "dana.agent", PASSWORD, address="10.0.0.7").status_code == 302

    assert list(LoginAttempt.objects.values_list("ip_address", flat=True)) == ["192.0.2.66"] * 3


def test_a_stranger_locks_only_their_own_address_out_of_an_account(client, office):
    AgentFactory(office=office, username="dana.agent")
    for _ in range(5):
        sign_in(client, "dana.agent", "wrong", address="192.0.2.66")

    assert sign_in(client, "dana.agent", PASSWORD, address="192.0.2.66").status_code == 429
    assert sign_in(client, "dana.agent", PASSWORD, address="10.0.0.7").status_code == 302


def test_the_locked_pair_is_told_what_happened_and_what_to_do(client, office):
    AgentFactory(office=office, username="dana.agent")
    for _ in range(5):
        sign_in(client, "dana.agent", "wrong")

    response = sign_in(client, "dana.agent", PASSWORD)

    body = response.content.decode()
    assert response.status_code == 429
    assert "Too many failed sign-ins for this username from your network" in body
    assert "Wait 15 minutes" in body
    assert 890 <= int(response["Retry-After"]) <= 900


def spread_failures(client, username, *, addresses: int, each: int = 5):
    for number in range(addresses):
        for _ in range(each):
            sign_in(client, username, "wrong", address=f"198.51.100.{number + 1}")


def test_many_failures_from_many_addresses_slow_the_username_everywhere(client, office):
    AgentFactory(office=office, username="dana.agent")
    spread_failures(client, "dana.agent", addresses=4)

    response = sign_in(client, "dana.agent", PASSWORD, address="10.0.0.7")

    body = response.content.decode()
    assert response.status_code == 429
    assert "failed sign-ins from several places" in body
    assert "one try a minute" in body
    assert 50 <= int(response["Retry-After"]) <= 60


def test_a_slowed_username_gets_one_try_per_pause(client, office):
    AgentFactory(office=office, username="dana.agent")
    spread_failures(client, "dana.agent", addresses=4)
    LoginAttempt.objects.update(at=F("at") - timedelta(seconds=61))

    assert sign_in(client, "dana.agent", "wrong", address="10.0.0.7").status_code == 200
    assert sign_in(client, "dana.agent", PASSWORD, address="10.0.0.7").status_code == 429
    LoginAttempt.objects.update(at=F("at") - timedelta(seconds=61))
    assert sign_in(client, "dana.agent", PASSWORD, address="10.0.0.7").status_code == 302


def test_below_the_username_threshold_other_addresses_still_sign_in(client, office):
    AgentFactory(office=office, username="dana.agent")
    spread_failures(client, "dana.agent", addresses=3)

    assert sign_in(client, "dana.agent", PASSWORD, address="10.0.0.7").status_code == 302


def test_an_address_with_many_failures_is_locked_for_every_username(client, office):
    AgentFactory(office=office, username="dana.agent")
    for number in range(20):
        sign_in(client, f"guess{number}", "wrong", address="192.0.2.66")

    response = sign_in(client, "dana.agent", PASSWORD, address="192.0.2.66")

    assert response.status_code == 429
    assert "Too many failed sign-ins from your network" in response.content.decode()
    assert sign_in(client, "dana.agent", PASSWORD, address="10.0.0.7").status_code == 302


def test_the_thresholds_come_from_settings(client, office, settings):
    settings.LOGIN_THROTTLE_FAILURES_PER_USERNAME_AND_ADDRESS = 2
    AgentFactory(office=office, username="dana.agent")
    for _ in range(2):
        sign_in(client, "dana.agent", "wrong")

    assert sign_in(client, "dana.agent", PASSWORD).status_code == 429
