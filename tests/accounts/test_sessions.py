"""The session store (accounts/sessions.py): Django's database sessions, read through a query
compiled once; the same sessions, expiry and saves as Django's own store."""

import datetime

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts.sessions import SessionStore


def test_the_portal_uses_this_store():
    assert settings.SESSION_ENGINE == "accounts.sessions"


@pytest.mark.django_db
def test_reads_what_was_saved_as_djangos_store(django_assert_num_queries):
    saved = SessionStore()
    saved["colour"] = "teal"
    saved.save()
    for _ in range(2):  # compiling, then compiled
        store = SessionStore(saved.session_key)
        with django_assert_num_queries(1):
            assert store["colour"] == "teal"
        assert store.session_key == saved.session_key
        assert dict(store.items()) == dict(DjangoSessionStore(saved.session_key).items())


@pytest.mark.django_db
def test_an_expired_or_unknown_session_is_empty_and_its_key_forgotten():
    expired = SessionStore()
    expired["colour"] = "teal"
    expired.save()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    unknown = "k" * 32
    for key in (expired.session_key, unknown, expired.session_key):
        store = SessionStore(key)
        assert store.load() == {}
        assert store.session_key is None
        # Django's store answers the same.
        theirs = DjangoSessionStore(key)
        assert theirs.load() == {} and theirs.session_key is None


@pytest.mark.django_db
def test_a_session_expiring_later_is_read_and_saves_go_through():
    store = SessionStore()
    store["step"] = 1
    store.set_expiry(60)
    store.save()
    again = SessionStore(store.session_key)
    again["step"] += 1
    again.save()
    assert SessionStore(store.session_key)["step"] == 2
    assert Session.objects.get(session_key=store.session_key).expire_date > timezone.now()


@pytest.mark.django_db
def test_the_sessions_read_is_compiled_once(signed_in_pages):
    # Signing in reads the session (compiling its read) and writes it (the ORM compiles the key's
    # existence check and the save); a signed-in page's read is then compiled no more.
    assert signed_in_pages.count(Session) == 0


@pytest.mark.django_db
def test_signing_out_ends_the_session(agent):
    client = Client()
    client.force_login(agent)
    assert client.get("/drafts/").status_code == 200
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post("/accounts/logout/")
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get("/drafts/").status_code == 302
