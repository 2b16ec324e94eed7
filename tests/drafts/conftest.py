"""Who is who around one draft, for the permission matrix and the view tests."""

from dataclasses import dataclass, fields

import pytest

from accounts.models import User
from drafts.models import Draft
from tests.factories import (
    AgentFactory,
    CompanyAdminFactory,
    DraftFactory,
    OfficeAdminFactory,
    OfficeFactory,
)


@dataclass
class Cast:
    draft: Draft  # listed by `agent` in `office`, co-listed by `co_agent`
    agent: User
    co_agent: User
    office_agent: User  # another agent of the same office
    office_admin: User
    company_admin: User  # of the same company, sitting in the other office
    other_office_agent: User
    other_office_admin: User
    other_company_agent: User
    other_company_admin: User
    inactive_agent: User  # the listing agent's office, deactivated

    def actor(self, name: str) -> User | None:
        return None if name == "anonymous" else getattr(self, name)


# Everyone in a Cast, by the name of their field (all of it but the draft).
CAST_PEOPLE = [field.name for field in fields(Cast) if field.name != "draft"]


@pytest.fixture
def cast(office, other_office) -> Cast:
    agent = AgentFactory(office=office)
    co_agent = AgentFactory(office=office)
    draft = DraftFactory(list_agent=agent, co_list_agent=co_agent, latitude=46.8676, longitude=-96.7890)
    other_company_office = OfficeFactory()
    return Cast(
        draft=draft,
        agent=agent,
        co_agent=co_agent,
        office_agent=AgentFactory(office=office),
        office_admin=OfficeAdminFactory(office=office),
        company_admin=CompanyAdminFactory(office=other_office),
        other_office_agent=AgentFactory(office=other_office),
        other_office_admin=OfficeAdminFactory(office=other_office),
        other_company_agent=AgentFactory(office=other_company_office),
        other_company_admin=CompanyAdminFactory(office=other_company_office),
        inactive_agent=AgentFactory(office=office, is_active=False),
    )


def htmx(**headers) -> dict:
    return {"HTTP_HX_REQUEST": "true", **headers}


def field_post(draft: Draft, value, *, seen=None, version=None, **extra) -> dict:
    """The body of one autosave, as the editor sends it."""
    return {
        "value": value,
        "version": draft.version if version is None else version,
        "seen_value": "" if seen is None else seen,
        **extra,
    }


def add_required_media(draft: Draft, *, stored: bool = False) -> Draft:
    """A primary photo (unless it has photos) and every document the draft's type asks for: with its fields
    complete, nothing is missing (drafts/readiness.py) and it may be submitted and approved.
    `stored=True` stores the documents' files too, for a draft the sync engine will push."""
    from drafts.review_media import media
    from tests.factories import DocumentFactory, PhotoFactory

    if not draft.photos.filter(deleted_at__isnull=True).exists():
        PhotoFactory(draft=draft)
    for required in media().required_documents(draft, []):
        if not required.note:  # "if built before 1978" while the year is not known
            DocumentFactory(draft=draft, name=required.name, stored=stored)
    draft.refresh_from_db()
    return draft


# A residential draft's fields that meet every ERROR rule of the fixed table.
COMPLETE_FIELDS = {
    "beds_total": 3,
    "baths_total": 2,
    "baths_full": 2,
    "public_remarks": "Bright three-bedroom home near the park with a new roof and a two-car garage. " * 2,
}


def make_complete(draft: Draft, **fields) -> Draft:
    """`draft` with nothing missing (COMPLETE_FIELDS, `fields`, a photo, the documents), so
    tests about what happens after a submit or an approval can get there."""
    Draft.objects.filter(pk=draft.pk).update(**{**COMPLETE_FIELDS, **fields})
    draft.refresh_from_db()
    return add_required_media(draft)
