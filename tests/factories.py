"""Small factories for the portal's models. Build what a test needs, nothing more."""

import factory
from factory.django import DjangoModelFactory

from accounts.models import Company, Office, Role, User
from drafts.models import Draft


class CompanyFactory(DjangoModelFactory):
    class Meta:
        model = Company
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Brokerage {n}")
    slug = factory.Sequence(lambda n: f"brokerage-{n}")


class OfficeFactory(DjangoModelFactory):
    class Meta:
        model = Office

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Office {n}")
    phone = "701-555-0100"
    email = factory.LazyAttribute(lambda o: f"{o.name.lower().replace(' ', '')}@example.com")


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    office = factory.SubFactory(OfficeFactory)
    role = Role.AGENT
    remote_agent_id = factory.Sequence(lambda n: f"2008091714273998923800{n:04d}")
    password = factory.django.Password("correct horse battery")


class AgentFactory(UserFactory):
    role = Role.AGENT


class OfficeAdminFactory(UserFactory):
    role = Role.OFFICE_ADMIN


class CompanyAdminFactory(UserFactory):
    role = Role.COMPANY_ADMIN


class DraftFactory(DjangoModelFactory):
    class Meta:
        model = Draft

    list_agent = factory.SubFactory(AgentFactory)
    office = factory.LazyAttribute(lambda d: d.list_agent.office)
    created_by = factory.LazyAttribute(lambda d: d.list_agent)
    updated_by = factory.LazyAttribute(lambda d: d.list_agent)
    property_type = "A"
    property_sub_type = "SF"
    list_price = 250000
    street_number = factory.Sequence(lambda n: str(100 + n))
    street_name = "8th"
    street_suffix = "St"
    city = "Fargo"
    state_or_province = "ND"
    postal_code = "58103"
