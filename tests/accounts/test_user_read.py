"""The signed-in user's read by key (`User.objects.get(pk=...)`): compiled once, the ORM's answer."""

import pytest
from django.db.models import QuerySet

from accounts.models import User
from tests.factories import UserFactory


def _columns(user: User) -> dict:
    return {field.attname: getattr(user, field.attname) for field in User._meta.concrete_fields}


@pytest.mark.django_db
def test_reads_the_user_with_office_and_company_as_the_orm(agent, django_assert_num_queries):
    expected = QuerySet.get(User.objects.get_queryset(), pk=agent.pk)
    for _ in range(2):  # compiling, then compiled
        with django_assert_num_queries(1):
            user = User.objects.get(pk=agent.pk)
            assert user.office.company.name == agent.office.company.name
        assert type(user) is User and not user._state.adding and user._state.db == expected._state.db
        assert _columns(user) == _columns(expected)
        assert user.office == agent.office and user.office.company == agent.office.company


@pytest.mark.django_db
def test_a_user_without_an_office_and_a_missing_user(db, django_assert_num_queries):
    superuser = UserFactory(office=None, is_superuser=True)
    for _ in range(2):
        with django_assert_num_queries(1):
            assert User.objects.get(pk=str(superuser.pk)).office is None
        with pytest.raises(User.DoesNotExist):
            User.objects.get(pk=superuser.pk + 1000)


@pytest.mark.django_db
def test_other_gets_go_through_the_orm(agent):
    assert User.objects.get(username=agent.username) == agent
    assert User.objects.get(pk=agent.pk, is_active=True) == agent
    with pytest.raises(User.DoesNotExist):
        User.objects.get(pk=agent.pk, is_active=False)


@pytest.mark.django_db
def test_the_signed_in_users_read_is_compiled_once(signed_in_pages):
    assert signed_in_pages.count(User) == 1
