"""The header's navigation (nav_tags.nav_bar, written in Python for every signed-in page): the
sections a role gets, the current one marked, who is signed in and how far they see, the sign-out
form with this request's token, and nothing for an anonymous visitor."""

from __future__ import annotations

import re

from django.urls import reverse

from accounts.models import Role
from drafts.models import DraftStatus
from tests.factories import AgentFactory, CompanyAdminFactory, DraftFactory, OfficeAdminFactory

LIST = reverse("drafts:draft_list")


def header(response) -> str:
    page = response.content.decode()
    return page[page.index('<header class="topbar">') : page.index("</header>")]


def test_an_agent_gets_their_drafts_and_the_inbox(client, office):
    agent = AgentFactory(office=office, first_name="Ann", last_name="<Lee>")
    client.force_login(agent)
    nav = header(client.get(LIST))
    assert f'<a href="{LIST}" aria-current="page">My drafts</a>' in nav
    assert "Review queue" not in nav and "Needs attention" not in nav
    assert (
        f'<a href="{reverse("accounts:inbox")}">Inbox <span class="nav-count" id="nav-unread-count" hidden>0'
        in nav
    )
    assert '<span>Ann &lt;Lee&gt; · <span class="role-badge">Agent</span> · ' + office.name in nav


def test_a_reviewer_gets_the_queue_and_the_attention_list(client, office):
    client.force_login(OfficeAdminFactory(office=office))
    nav = header(client.get(reverse("drafts:review_queue")))
    assert f'<a href="{LIST}">Office drafts</a>' in nav
    assert f'<a href="{reverse("drafts:review_queue")}" aria-current="page">Review queue ' in nav
    assert f'<a href="{reverse("mls:needs_attention")}">Needs attention</a>' in nav
    assert '<span class="role-badge">Office admin</span>' in nav


def test_a_company_admin_sees_the_whole_company(client, office):
    client.force_login(CompanyAdminFactory(office=office))
    nav = header(client.get(LIST))
    assert "Company drafts</a>" in nav
    assert f"· all offices of {office.company.name}</span>" in nav


def test_the_sign_out_form_carries_a_token_the_server_takes(client, office):
    client.force_login(AgentFactory(office=office))
    nav = header(client.get(LIST))
    form = re.search(
        r'<form method="post" action="([^"]+)">'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)">',
        nav,
    )
    assert form and form.group(1) == reverse("logout")
    client.handler.enforce_csrf_checks = True
    assert client.post(form.group(1), {"csrfmiddlewaretoken": form.group(2)}).status_code == 302


def test_nobody_signed_in_gets_no_navigation(client, db):
    nav = header(client.get(reverse("login")))
    assert "topnav" not in nav and "Sign out" not in nav


def review_count(client) -> str:
    found = re.search(r'id="nav-review-count"(?: hidden)?>(\d+)', header(client.get(LIST)))
    return found.group(1) if found else ""


def test_the_counts_follow_the_users_role_and_office(client, office, other_office):
    """The counts' query is kept per user, under everything of the user it reads: a new role or
    office counts anew."""
    DraftFactory(list_agent=AgentFactory(office=office), status=DraftStatus.SUBMITTED)
    DraftFactory.create_batch(2, list_agent=AgentFactory(office=other_office), status=DraftStatus.SUBMITTED)
    user = AgentFactory(office=office)
    client.force_login(user)
    assert review_count(client) == ""
    user.role = Role.OFFICE_ADMIN
    user.save()
    assert review_count(client) == "1"
    user.office = other_office
    user.save()
    assert review_count(client) == "2"
    user.role = Role.COMPANY_ADMIN
    user.save()
    assert review_count(client) == "3"
