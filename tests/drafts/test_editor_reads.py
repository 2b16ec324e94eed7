"""The editor's smaller reads, compiled once per connection (listings_portal/compiled_get.py):
the co-listing choices, the parts, the photos' primary flags and the documents' names each
answer what the ORM answers, for each draft, and a second page compiles none of them again."""

import pytest
from django.contrib.sessions.models import Session

from accounts.models import User
from drafts import review_media
from drafts.forms import co_listing_candidates, co_listing_choices
from drafts.models import ListingPart
from media_manager.models import Document, Photo
from tests.factories import AgentFactory, DocumentFactory, DraftFactory, OfficeFactory, PhotoFactory


def _orm_choices(draft) -> list[tuple[str, str]]:
    return [(str(user.pk), user.get_full_name() or user.username) for user in co_listing_candidates(draft)]


@pytest.mark.django_db
def test_co_listing_choices_are_the_other_active_agents_of_each_drafts_office(agent, office, compiled):
    AgentFactory(office=office, first_name="Zed", last_name="Adams")
    AgentFactory(office=office, first_name="", last_name="", username="nameless")
    AgentFactory(office=office, first_name="Gone", is_active=False)
    elsewhere = AgentFactory(office=OfficeFactory(company=office.company), first_name="Other")
    AgentFactory(office=elsewhere.office, first_name="Colleague", last_name="")
    mine, theirs = DraftFactory(list_agent=agent), DraftFactory(list_agent=elsewhere)
    for _ in range(2):  # compiling, then compiled
        for draft in (mine, theirs):
            assert co_listing_choices(draft) == _orm_choices(draft)
    assert [name for _, name in co_listing_choices(mine)] == ["nameless", "Zed Adams"]  # by last name
    assert [name for _, name in co_listing_choices(theirs)] == ["Colleague"]
    assert compiled.count(User) == 1 + 4  # the compile, then the ORM's own reads above


@pytest.mark.django_db
def test_parts_come_in_order_with_their_draft_as_the_related_manager_gives_them(
    agent, django_assert_num_queries
):
    draft, other = DraftFactory(list_agent=agent), DraftFactory(list_agent=agent)
    for kind, name in (("video", "Walk"), ("room", "Kitchen"), ("room", "Den"), ("tour", "3D")):
        ListingPart.objects.add(
            draft,
            kind,
            by=agent,
            **(
                {"fields": {"RoomName": name}}
                if kind == "room"
                else {"name": name, "url": "https://example.com/x"}
            ),
        )
    ListingPart.objects.add(other, "room", by=agent, fields={"RoomName": "Attic"})
    expected = list(draft.parts.order_by("kind", "position", "pk"))
    for _ in range(2):
        with django_assert_num_queries(1):
            parts = ListingPart.of_draft_in_order(draft)
            assert all(part.draft is draft for part in parts)
        assert [(part.pk, part.kind, part.position, part.fields, part.name) for part in parts] == [
            (part.pk, part.kind, part.position, part.fields, part.name) for part in expected
        ]
    assert [part.title for part in ListingPart.of_draft_in_order(other)] == ["Attic"]
    assert ListingPart.of_draft_in_order(DraftFactory(list_agent=agent)) == []


@pytest.mark.django_db
def test_primary_flags_are_the_photos_not_in_the_trash(agent):
    draft, other = DraftFactory(list_agent=agent), DraftFactory(list_agent=agent)
    photos = [PhotoFactory(draft=draft) for _ in range(3)]
    PhotoFactory(draft=other)
    photos[0].move_to_trash(by=agent)
    media = review_media.media()
    for _ in range(2):
        flags = media.primary_flags_of(draft)
        orm = list(Photo.objects.active().filter(draft=draft).values_list("is_primary", flat=True))
        assert flags == orm and len(flags) == 2 and all(type(flag) is bool for flag in flags)
        assert media.primary_flags_of(other) == [True]
    assert media.primary_flags_of(DraftFactory(list_agent=agent)) == []


@pytest.mark.django_db
def test_document_names_in_order_for_one_draft_or_several(agent):
    drafts = [DraftFactory(list_agent=agent) for _ in range(3)]
    for draft, names in zip(drafts, (["Survey", "Deed"], [], ["Plat"]), strict=True):
        for name in names:
            DocumentFactory(draft=draft, name=name)
    trashed = DocumentFactory(draft=drafts[0], name="Old")
    trashed.move_to_trash(by=agent)
    media = review_media.media()
    for _ in range(2):
        assert media.document_names_of([drafts[0]]) == {drafts[0].pk: ["Survey", "Deed"]}
        assert media.document_names_of([drafts[1]]) == {drafts[1].pk: []}
        assert media.document_names_of(drafts) == {
            drafts[0].pk: ["Survey", "Deed"],
            drafts[1].pk: [],
            drafts[2].pk: ["Plat"],
        }
    assert media.document_names_of([]) == {}


@pytest.mark.django_db
def test_a_second_editor_page_compiles_none_of_these_reads_again(agent, agent_client, compiled):
    draft = DraftFactory(list_agent=agent)
    AgentFactory(office=agent.office)
    PhotoFactory(draft=draft)
    DocumentFactory(draft=draft)
    ListingPart.objects.add(draft, "room", by=agent, fields={"RoomName": "Kitchen"})
    assert agent_client.get(f"/drafts/{draft.pk}/").status_code == 200
    compiled.clear()
    page = agent_client.get(f"/drafts/{draft.pk}/")
    assert page.status_code == 200 and b"Kitchen" in page.content
    again = {model for model in compiled} & {Session, User, ListingPart, Photo, Document}
    assert again == set()
