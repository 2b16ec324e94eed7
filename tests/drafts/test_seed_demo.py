from io import StringIO

from django.core.management import call_command

from accounts.models import Role, User
from drafts import rules
from drafts.models import Draft, DraftEvent


def test_seed_demo_is_idempotent_and_prints_the_logins(db, client):
    first, second = StringIO(), StringIO()

    call_command("seed_demo", without_mls=True, stdout=first)
    counts = (User.objects.count(), Draft.objects.count(), DraftEvent.objects.count())
    call_command("seed_demo", without_mls=True, stdout=second)

    assert counts == (User.objects.count(), Draft.objects.count(), DraftEvent.objects.count())
    assert counts[1] >= 12
    assert "demo-pass-2026" in first.getvalue() and "0 new drafts" in second.getvalue()
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    assert User.objects.values("office").distinct().count() == 2
    assert len(set(Draft.objects.values_list("property_type", flat=True))) == 6
    assert len(set(Draft.objects.values_list("status", flat=True))) >= 5
    assert Draft.objects.in_trash().count() == 1
    assert DraftEvent.objects.filter(kind=DraftEvent.Kind.FIELD_CHANGED).exists()
    assert client.login(username="anna.agent", password="demo-pass-2026")


def test_seeded_drafts_include_possible_duplicates_nearby(db):
    call_command("seed_demo", without_mls=True, stdout=StringIO())
    anna = User.objects.get(username="anna.agent")
    draft = Draft.objects.get(street_number="611", street_name="8th")

    nearby = draft.nearby(user=User.objects.get(username="fran.admin"))

    assert nearby and nearby[0][1] < 100
    assert draft.nearby(user=anna) == []  # the draft next door is Ben's
    assert rules.readiness(draft)[0] == 100
