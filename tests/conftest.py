import pytest

from tests.factories import AgentFactory, CompanyAdminFactory, DraftFactory, OfficeAdminFactory, OfficeFactory
from tests.sandbox_support import start_live_server


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def office(db):
    return OfficeFactory()


@pytest.fixture
def other_office(office):
    """An office of the same company: still none of this office's business."""
    return OfficeFactory(company=office.company)


@pytest.fixture
def agent(office):
    return AgentFactory(office=office)


@pytest.fixture
def office_admin(office):
    return OfficeAdminFactory(office=office)


@pytest.fixture
def company_admin(office):
    return CompanyAdminFactory(office=office)


@pytest.fixture
def draft(agent):
    return DraftFactory(list_agent=agent)


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture(scope="session")
def sandbox_live_server(request):
    """The live server that serves the sandbox at /sandbox/ (and the portal)."""
    return start_live_server(request)
