"""`compiled_get` makes a row's instance without Model.__init__ where that is the same (Django's
own __init__ and from_db, plain column attributes, no pre_init/post_init receiver): the instances
are those the ORM makes, and a receiver still sees each instance made."""

from __future__ import annotations

import pytest
from django.db import connections
from django.db.models.signals import post_init

from drafts.models import Draft
from listings_portal.compiled_get import compile_get
from mls.models import DraftSync
from tests.factories import DraftFactory

STAND_INS = {-5_000_000_001: "first", -5_000_000_002: "second"}


@pytest.fixture
def two_drafts(agent):
    return [DraftFactory(list_agent=agent), DraftFactory(list_agent=agent)]


def compiled_rows(drafts: list[Draft]):
    shown = Draft.objects.with_row_relations().order_by("pk").filter(pk__in=list(STAND_INS))
    compiled = compile_get(shown, "default", STAND_INS, many=True)
    assert compiled is not None
    values = {"first": lambda: drafts[0].pk, "second": lambda: drafts[1].pk}
    return compiled, shown, values


def fields_of(instance) -> dict:
    return {name: value for name, value in instance.__dict__.items() if name != "_state"}


def test_the_instances_are_the_orms(two_drafts):
    compiled, _, values = compiled_rows(two_drafts)
    assert compiled.directly
    made = compiled.fetch_all(values)
    expected = list(
        Draft.objects.with_row_relations().order_by("pk").filter(pk__in=[d.pk for d in two_drafts])
    )
    assert [fields_of(draft) for draft in made] == [fields_of(draft) for draft in expected]
    for draft, orm in zip(made, expected, strict=True):
        assert (draft._state.adding, draft._state.db) == (False, connections["default"].alias)
        assert draft._state.fetch_mode == orm._state.fetch_mode
        assert draft.get_deferred_fields() == orm.get_deferred_fields()
        assert draft._state.fields_cache.keys() == orm._state.fields_cache.keys()
        assert draft.list_agent_id == orm.list_agent_id and draft.list_agent.pk == orm.list_agent.pk


def test_a_post_init_receiver_sees_each_instance(two_drafts):
    compiled, _, values = compiled_rows(two_drafts)
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Draft)
    try:
        made = compiled.fetch_all(values)
    finally:
        post_init.disconnect(receiver, sender=Draft)
    assert [draft.pk for draft in seen if isinstance(draft, Draft)] == [draft.pk for draft in made]


def test_a_model_with_its_own_init_is_made_by_it(monkeypatch, two_drafts):
    made_by_init = []
    django_init = Draft.__init__

    def own_init(self, *args, **kwargs):
        django_init(self, *args, **kwargs)
        made_by_init.append(self.pk)

    monkeypatch.setattr(Draft, "__init__", own_init)
    compiled, _, values = compiled_rows(two_drafts)
    assert not compiled.directly
    made = compiled.fetch_all(values)
    assert made_by_init == [draft.pk for draft in made] == [draft.pk for draft in two_drafts]


def test_related_instances_are_the_orms(two_drafts):
    for draft in two_drafts:
        DraftSync.objects.create(draft=draft)
    compiled, _, values = compiled_rows(two_drafts)
    made = compiled.fetch_all(values)
    expected = list(
        Draft.objects.with_row_relations().order_by("pk").filter(pk__in=[d.pk for d in two_drafts])
    )
    for draft, orm in zip(made, expected, strict=True):
        assert fields_of(draft.sync) == fields_of(orm.sync) and draft.sync.draft is draft
        assert (draft.sync._state.adding, draft.sync._state.db) == (False, "default")
        assert fields_of(draft.list_agent) == fields_of(orm.list_agent)
