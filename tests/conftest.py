import pytest
from django.db import connections
from django.db.models.sql.compiler import SQLCompiler

from listings_portal import compiled_get
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


@pytest.fixture
def compiled(monkeypatch) -> list:
    """The model of every query Django compiles from here on, in a process that has compiled
    none of `compiled_get`'s queries yet: for tests that a query is compiled once, not per use."""
    models: list = []
    as_sql = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):
        models.append(self.query.model)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    monkeypatch.delitem(connections["default"].__dict__, compiled_get.CACHE_ATTRIBUTE, raising=False)
    return models
