"""Small factories for the portal's models. Build what a test needs, nothing more."""

import hashlib
import uuid

import factory
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from factory.django import DjangoModelFactory

from accounts.models import Company, Office, Role, User
from drafts.models import Draft
from media_manager.models import Document, DocumentPrivacy, Photo, random_storage_name
from tests.media_manager import samples
from tests.media_manager.media_helpers import small_jpeg


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


def _stored(folder: str, extension: str, data: bytes | None) -> tuple[str, int, str]:
    """(storage name, size, sha256) of `data` saved to storage; without data, a name that
    holds no file (enough for order, primary and review tests)."""
    if data is None:
        return f"{folder}/{uuid.uuid4().hex}.{extension}", 1, ""
    name = default_storage.save(random_storage_name(folder, extension), ContentFile(data))
    return name, len(data), hashlib.sha256(data).hexdigest()


class PhotoFactory(DjangoModelFactory):
    """A photo as an accepted upload leaves it, through `Photo.add`: last in the order,
    queued, not processed. `stored=True` (or `data=...`) stores a real JPEG original."""

    class Meta:
        model = Photo

    class Params:
        stored = factory.Trait(data=factory.LazyFunction(small_jpeg))

    draft = factory.SubFactory(DraftFactory)
    by = factory.LazyAttribute(lambda photo: photo.draft.list_agent)
    original_name = "photo.jpg"
    data = None

    @classmethod
    def _create(cls, model_class, *, draft, by, original_name, data) -> Photo:
        name, size, sha256 = _stored("photos/originals", "jpg", data)
        return model_class.add(
            draft,
            by=by,
            original_name=original_name,
            stored_name=name,
            original_format="jpg",
            original_size=size,
            original_sha256=sha256,
            width=1200 if data is not None else None,
            height=900 if data is not None else None,
        )


class DocumentFactory(DjangoModelFactory):
    """A document as an accepted upload leaves it, through `Document.add`. `stored=True`
    (or `data=...`) stores a real one-page PDF."""

    class Meta:
        model = Document

    class Params:
        stored = factory.Trait(data=factory.LazyFunction(samples.pdf_plain))

    draft = factory.SubFactory(DraftFactory)
    by = factory.LazyAttribute(lambda document: document.draft.list_agent)
    name = "Survey"
    privacy = DocumentPrivacy.PRIVATE
    data = None

    @classmethod
    def _create(cls, model_class, *, draft, by, name, privacy, data) -> Document:
        stored_name, size, sha256 = _stored("documents", "pdf", data)
        return model_class.add(
            draft,
            by=by,
            original_name=f"{name}.pdf",
            stored_name=stored_name,
            size=size,
            sha256=sha256,
            pages=1,
            name=name,
            privacy=privacy,
        )
