"""What each role is shown: the header names the role and its reach, and a company admin's
draft list says it spans every office of the company and names each draft's office."""

import re

import pytest
from django.urls import reverse

from tests.factories import AgentFactory, CompanyAdminFactory, DraftFactory, OfficeFactory

LIST = reverse("drafts:draft_list")


def header(response) -> str:
    return re.search(r'<div class="whoami">(.*?)</div>', response.content.decode(), re.S).group(1)


def office_cells(response) -> list[str]:
    return re.findall(r'<td data-label="Office">([^<]*)</td>', response.content.decode())


@pytest.mark.parametrize(
    ("user_kind", "reach"),
    [("agent", "Agent"), ("office_admin", "Office admin"), ("company_admin", "Company admin")],
)
def test_the_header_names_the_role(client, request, user_kind, reach):
    user = request.getfixturevalue(user_kind)
    client.force_login(user)

    shown = header(client.get(LIST))

    assert f'<span class="role-badge">{reach}</span>' in shown


def test_the_header_tells_a_company_admin_they_oversee_all_offices(client, company_admin):
    client.force_login(company_admin)

    shown = header(client.get(LIST))

    assert f"all offices of {company_admin.office.company}" in shown
    assert f"· {company_admin.office}<" not in shown


def test_the_header_names_the_office_of_agents_and_office_admins(client, office_admin):
    client.force_login(office_admin)

    assert f"· {office_admin.office}" in header(client.get(LIST))


def test_a_company_admin_s_list_spans_the_offices_and_names_each(client, office, other_office):
    admin = CompanyAdminFactory(office=other_office)
    here = DraftFactory(list_agent=AgentFactory(office=office), list_price=300000)
    there = DraftFactory(list_agent=AgentFactory(office=other_office), list_price=200000)
    DraftFactory(list_agent=AgentFactory(office=OfficeFactory()))  # another company's
    client.force_login(admin)

    response = client.get(LIST, {"sort": "-price"})

    body = response.content.decode()
    assert "<h1>Company drafts</h1>" in body
    assert f"All offices of {office.company}" in body
    assert '<th scope="col">Office</th>' in body
    assert [draft.pk for draft, *_ in response.context["rows"]] == [here.pk, there.pk]
    assert office_cells(response) == [office.name, other_office.name]


def test_the_office_column_is_in_the_htmx_results_too(client, office, other_office):
    client.force_login(CompanyAdminFactory(office=other_office))
    DraftFactory(list_agent=AgentFactory(office=office))

    response = client.get(LIST, HTTP_HX_REQUEST="true")

    assert office_cells(response) == [office.name]


@pytest.mark.parametrize("user_kind", ["agent", "office_admin"])
def test_one_office_lists_have_no_office_column(client, request, user_kind, draft):
    client.force_login(request.getfixturevalue(user_kind))

    response = client.get(LIST)

    body = response.content.decode()
    assert office_cells(response) == []
    assert "All offices of" not in body
