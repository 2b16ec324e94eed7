"""pk_url: the list's links joined around a URL reversed once, the same as reverse() gives."""

import pytest
from django.urls import clear_script_prefix, reverse, set_script_prefix

from drafts.templatetags.drafts_tags import pk_url


@pytest.mark.parametrize(
    "name", ["drafts:draft_edit", "drafts:draft_review", "mls:draft_sync", "mls:draft_sync_badge"]
)
@pytest.mark.parametrize("pk", [1, 7, 10, 2147480647, 98765432100])
def test_pk_url_is_what_reverse_gives(name, pk):
    assert pk_url(name, pk) == reverse(name, args=[pk])


def test_pk_url_follows_the_script_prefix():
    set_script_prefix("/portal/")
    try:
        assert pk_url("drafts:draft_edit", 12) == "/portal/drafts/12/"
        assert pk_url("drafts:draft_edit", 12) == reverse("drafts:draft_edit", args=[12])
    finally:
        clear_script_prefix()
    assert pk_url("drafts:draft_edit", 12) == "/drafts/12/"


def test_pk_url_takes_only_whole_numbers():
    with pytest.raises(ValueError):
        pk_url("drafts:draft_edit", "12/../admin")


def test_pk_url_of_is_pk_url_with_the_prefix_in_force_when_asked():
    from drafts.templatetags.drafts_tags import pk_url_of

    set_script_prefix("/portal/")
    try:
        edit_url = pk_url_of("drafts:draft_edit")
    finally:
        clear_script_prefix()
    assert edit_url(12) == "/portal/drafts/12/"
    assert pk_url_of("drafts:draft_edit")(12) == pk_url("drafts:draft_edit", 12) == "/drafts/12/"


@pytest.mark.parametrize("prefix", ["/", "/portal/"])
def test_the_plain_url_tag_writes_what_the_url_tag_writes(prefix):
    from django.template import Context, Template

    set_script_prefix(prefix)
    try:
        for name in ("drafts:draft_list", "drafts:draft_create"):
            ours = Template(f"{{% load drafts_tags %}}{{% plain_url '{name}' %}}").render(Context())
            djangos = Template(f"{{% url '{name}' %}}").render(Context())
            assert ours == djangos == reverse(name) and ours.startswith(prefix)
    finally:
        clear_script_prefix()
