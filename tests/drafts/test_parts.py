"""A draft's rooms, units, virtual tours and videos: the model's changes (dense positions, the
MLS told through change_seq, history, a reviewed draft back to drafting, who may), the link
check, the forms built from the MLS's room fields (read from the sandbox), and the editor's
views through the test client (htmx regions, 404 for another office, 403 once not editable)."""

from __future__ import annotations

import json
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from drafts.links import check_link
from drafts.models import Draft, DraftEvent, DraftStatus, ListingPart
from mls import metadata
from mls.models import MlsMetadata
from tests.factories import AgentFactory, DraftFactory
from tests.mls.sync_support import memory_broker, sync_env  # noqa: F401 (fixtures)

from .conftest import htmx

TOUR_LINK = "https://my.matterport.com/show/?m=abc123"
VIDEO_LINK = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


def seq(draft: Draft) -> int:
    return Draft.objects.values_list("change_seq", flat=True).get(pk=draft.pk)


def positions(draft: Draft, kind: str) -> list[tuple[str, int]]:
    return [(part.title, part.position) for part in draft.parts.filter(kind=kind).order_by("position")]


def add_room(draft: Draft, by, name: str) -> ListingPart:
    return ListingPart.objects.add(draft, "room", by=by, fields={"RoomName": name})


def part_notes(draft: Draft) -> list[str]:
    return list(draft.events.filter(kind=DraftEvent.Kind.PART).order_by("pk").values_list("note", flat=True))


# --- The model ---


def test_adding_parts_keeps_positions_dense_tells_the_mls_and_writes_history(draft, agent):
    before = seq(draft)

    add_room(draft, agent, "Kitchen")
    add_room(draft, agent, "Office")
    ListingPart.objects.add(draft, "tour", by=agent, name="3D walk-through", url=TOUR_LINK)

    assert positions(draft, "room") == [("Kitchen", 0), ("Office", 1)]
    assert positions(draft, "tour") == [("3D walk-through", 0)]  # each kind has its own order
    assert seq(draft) == before + 3
    assert part_notes(draft) == [
        "Added room Kitchen",
        "Added room Office",
        "Added virtual tour 3D walk-through",
    ]


def test_removing_a_part_closes_the_gap(draft, agent):
    _kitchen, office, _bath = (add_room(draft, agent, name) for name in ("Kitchen", "Office", "Bathroom"))
    before = seq(draft)

    office.remove(by=agent)

    assert positions(draft, "room") == [("Kitchen", 0), ("Bathroom", 1)]
    assert seq(draft) == before + 1
    assert part_notes(draft)[-1] == "Removed room Office"


def test_moving_a_part_and_moving_it_nowhere(draft, agent):
    kitchen, _office, bath = (add_room(draft, agent, name) for name in ("Kitchen", "Office", "Bathroom"))

    assert bath.move("earlier", by=agent) is True
    assert positions(draft, "room") == [("Kitchen", 0), ("Bathroom", 1), ("Office", 2)]
    assert kitchen.move("last", by=agent) is True
    assert positions(draft, "room") == [("Bathroom", 0), ("Office", 1), ("Kitchen", 2)]

    before, events = seq(draft), draft.events.count()
    assert kitchen.move("later", by=agent) is False  # already last: nothing changes at all
    assert (seq(draft), draft.events.count()) == (before, events)
    with pytest.raises(ValidationError):
        kitchen.move("sideways", by=agent)


def test_reorder_takes_every_id_once(draft, agent):
    kitchen, office, bath = (add_room(draft, agent, name) for name in ("Kitchen", "Office", "Bathroom"))
    before = seq(draft)

    assert ListingPart.objects.reorder(draft, "room", [bath.pk, kitchen.pk, office.pk], by=agent) is True
    assert positions(draft, "room") == [("Bathroom", 0), ("Kitchen", 1), ("Office", 2)]
    assert seq(draft) == before + 1
    assert part_notes(draft)[-1] == "Reordered the rooms"

    # The same order again changes nothing; a list that is not the draft's is refused.
    assert ListingPart.objects.reorder(draft, "room", [bath.pk, kitchen.pk, office.pk], by=agent) is False
    with pytest.raises(ValidationError, match="changed meanwhile"):
        ListingPart.objects.reorder(draft, "room", [bath.pk, kitchen.pk], by=agent)
    assert seq(draft) == before + 1


def test_editing_a_reviewed_drafts_part_sends_it_back_to_drafting(draft, agent):
    tour = ListingPart.objects.add(draft, "tour", by=agent, name="Tour", url=TOUR_LINK)
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.APPROVED)
    draft.refresh_from_db()
    before = seq(draft)

    assert tour.edit(by=agent, name="Tour", url=TOUR_LINK, privacy="Private") is True

    draft.refresh_from_db()
    assert draft.status == DraftStatus.DRAFT
    assert seq(draft) == before + 1
    status_event = draft.events.filter(kind=DraftEvent.Kind.STATUS_CHANGED).first()
    assert status_event.new_value == DraftStatus.DRAFT and status_event.note == "Changed virtual tour Tour"
    tour.refresh_from_db()
    assert tour.privacy == "Private"
    assert tour.edit(by=agent, name="Tour", url=TOUR_LINK, privacy="Private") is False  # no change, no push
    assert seq(draft) == before + 1


def test_only_people_who_may_edit_the_draft_change_its_parts(draft, agent, other_office):
    outsider = AgentFactory(office=other_office)
    with pytest.raises(PermissionDenied):
        add_room(draft, outsider, "Kitchen")
    kitchen = add_room(draft, agent, "Kitchen")
    with pytest.raises(PermissionDenied):
        kitchen.remove(by=outsider)

    draft.move_to_trash(by=agent)
    kitchen.draft.refresh_from_db()
    with pytest.raises(PermissionDenied):  # a draft in the trash keeps its parts as they are
        kitchen.edit(by=agent, fields={"RoomName": "Office"})
    assert positions(draft, "room") == [("Kitchen", 0)]


def test_units_only_for_multi_family(agent):
    house = DraftFactory(list_agent=agent, property_type="A")
    with pytest.raises(ValidationError, match="no units"):
        ListingPart.objects.add(house, "unit", by=agent, fields={"unit_nbr": "Studio"})
    building = DraftFactory(list_agent=agent, property_type="B")
    unit = ListingPart.objects.add(building, "unit", by=agent, fields={"unit_nbr": "Studio"})
    assert unit.position == 0 and unit.title == "Studio"


def test_a_copy_of_a_draft_has_its_parts(draft, agent):
    add_room(draft, agent, "Kitchen")
    ListingPart.objects.add(draft, "video", by=agent, name="Walk", url=VIDEO_LINK, caption="Front")

    copy = draft.duplicate(by=agent)

    assert [(part.kind, part.title, part.position) for part in copy.parts.order_by("kind")] == [
        ("room", "Kitchen", 0),
        ("video", "Walk", 0),
    ]
    assert draft.parts.count() == 2  # the original keeps its own


# --- The link check ---


@pytest.mark.parametrize(
    "link",
    [
        TOUR_LINK,
        "https://matterport.com/discover/space/x",
        VIDEO_LINK,
        "https://youtu.be/abc",
        "https://player.vimeo.com/video/1",
    ],
)
def test_https_links_from_tour_and_video_hosts_are_kept(link):
    assert check_link(f"  {link} ", label="Virtual tour link") == link


@pytest.mark.parametrize(
    ("link", "message"),
    [
        (
            "http://my.matterport.com/show/?m=abc",
            "Virtual tour link: use an https:// link from Matterport, YouTube, Vimeo",
        ),
        ("https://example.com/tour", "(this one is from example.com)"),
        ("https://matterport.com.evil.example/tour", "(this one is from matterport.com.evil.example)"),
        ("javascript:alert(1)", "this one starts with javascript:"),
        ("my.matterport.com/show", "must start with https://"),
        ("https://user:pw@my.matterport.com/show", "user name or password"),
        ("https://my.matterport.com/show/?m=" + "a" * 500, "characters long; 500 at most"),
        ("https://my.matterport.com/a b", "cannot contain spaces"),
    ],
)
def test_other_links_are_refused_with_a_message_naming_the_field(link, message):
    with pytest.raises(ValidationError) as refused:
        check_link(link, label="Virtual tour link")
    text = refused.value.messages[0]
    assert text.startswith("Virtual tour link:") and message in text


def test_the_allowed_hosts_come_from_settings(settings):
    settings.LISTING_LINK_HOSTS = ["tours.example.org"]
    assert check_link("https://a.tours.example.org/x", label="Video link") == "https://a.tours.example.org/x"
    with pytest.raises(ValidationError, match=r"this one is from youtube\.com"):
        check_link("https://youtube.com/watch?v=1", label="Video link")


# --- The views ---


def create_url(draft: Draft, kind: str) -> str:
    return reverse("drafts:part_create", args=[draft.pk, kind])


def tour_post(**values) -> dict:
    return {"new-tour-name": "3D walk-through", "new-tour-url": TOUR_LINK, "new-tour-privacy": "", **values}


def test_adding_a_tour_answers_with_its_region(agent_client, draft):
    response = agent_client.post(create_url(draft, "tour"), tour_post(), **htmx())

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="parts-tour"' in body and "3D walk-through" in body and "Added virtual tour" in body
    assert draft.parts.get().url == TOUR_LINK


def test_a_refused_link_shows_its_message_and_saves_nothing(agent_client, draft):
    response = agent_client.post(
        create_url(draft, "tour"), tour_post(**{"new-tour-url": "http://example.com/x"}), **htmx()
    )

    assert response.status_code == 422
    assert "Virtual tour link: use an https:// link" in response.content.decode()
    assert not draft.parts.exists()


def test_without_htmx_an_add_redirects_to_the_editor(agent_client, draft):
    response = agent_client.post(
        create_url(draft, "video"), {"new-video-name": "Walk", "new-video-url": VIDEO_LINK}
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"/drafts/{draft.pk}/#parts-video")


def test_edit_move_remove_and_reorder_through_the_views(agent_client, draft, agent):
    first = ListingPart.objects.add(draft, "tour", by=agent, name="First", url=TOUR_LINK)
    second = ListingPart.objects.add(draft, "tour", by=agent, name="Second", url=TOUR_LINK)

    edit = reverse("drafts:part_edit", args=[draft.pk, first.pk])
    assert 'value="First"' in agent_client.get(edit, **htmx()).content.decode()
    response = agent_client.post(
        edit, {f"part{first.pk}-name": "Renamed", f"part{first.pk}-url": TOUR_LINK}, **htmx()
    )
    assert response.status_code == 200 and "Renamed" in response.content.decode()

    move = reverse("drafts:part_move", args=[draft.pk, second.pk])
    assert agent_client.post(move, {"direction": "earlier"}, **htmx()).status_code == 200
    assert positions(draft, "tour") == [("Second", 0), ("Renamed", 1)]

    reorder = reverse("drafts:part_reorder", args=[draft.pk, "tour"])
    assert agent_client.post(reorder, {"order": [first.pk, second.pk]}, **htmx()).status_code == 200
    assert positions(draft, "tour") == [("Renamed", 0), ("Second", 1)]
    assert agent_client.post(reorder, {"order": [first.pk]}, **htmx()).status_code == 409

    delete = reverse("drafts:part_delete", args=[draft.pk, first.pk])
    assert agent_client.post(delete, **htmx()).status_code == 200
    assert positions(draft, "tour") == [("Second", 0)]


def test_part_views_refuse_get_anonymous_and_other_offices(client, draft, agent, other_office):
    part = ListingPart.objects.add(draft, "tour", by=agent, name="Tour", url=TOUR_LINK)
    posts = [
        create_url(draft, "tour"),
        reverse("drafts:part_edit", args=[draft.pk, part.pk]),
        reverse("drafts:part_delete", args=[draft.pk, part.pk]),
        reverse("drafts:part_move", args=[draft.pk, part.pk]),
        reverse("drafts:part_reorder", args=[draft.pk, "tour"]),
    ]
    for url in posts:
        assert client.post(url).status_code == 302  # to the sign-in page
    client.force_login(AgentFactory(office=other_office))
    for url in [*posts, reverse("drafts:part_list", args=[draft.pk, "tour"])]:
        assert client.post(url, {"direction": "later", "order": [part.pk]}).status_code in (404, 405)
        assert client.get(url, **htmx()).status_code in (404, 405)
    assert client.post(posts[2]).status_code == 404
    client.force_login(agent)
    for url in posts[2:]:
        assert client.get(url).status_code == 405
    assert draft.parts.count() == 1


def test_a_draft_being_published_is_read_only(agent_client, draft, agent):
    part = ListingPart.objects.add(draft, "tour", by=agent, name="Tour", url=TOUR_LINK)
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.PROMOTING)

    assert agent_client.post(create_url(draft, "tour"), tour_post()).status_code == 403
    assert agent_client.post(reverse("drafts:part_delete", args=[draft.pk, part.pk])).status_code == 403
    body = agent_client.get(reverse("drafts:draft_edit", args=[draft.pk])).content.decode()
    assert "Virtual tours and videos" in body and "Tour" in body
    assert "Add a virtual tour" not in body and "Move up" not in body


def test_the_editor_says_when_the_mls_room_fields_were_never_read(agent_client, draft):
    body = agent_client.get(reverse("drafts:draft_edit", args=[draft.pk])).content.decode()
    assert "The MLS&#x27;s room fields have not been read yet" in body
    assert 'id="section-parts-units"' not in body  # a house has no units
    assert "Add a virtual tour" in body and "Add a video" in body


def test_the_review_page_lists_the_parts(client, draft, agent, office_admin):
    ListingPart.objects.add(draft, "video", by=agent, name="Walk-through video", url=VIDEO_LINK)
    client.force_login(office_admin)
    body = client.get(reverse("drafts:draft_review", args=[draft.pk])).content.decode()
    assert 'id="review-parts"' in body and "Walk-through video" in body
    assert "Move up" not in body


# --- Rooms and units from the MLS's fields (read from the sandbox once, kept for the module) ---

_READ: list[dict] = []


@pytest.fixture
def mls_lists(request):
    """The sandbox's metadata as a refresh keeps it: read once, copied into each test's database."""
    if not _READ:
        request.getfixturevalue("sync_env")
        assert metadata.refresh().failed == []
        _READ.extend(MlsMetadata.objects.values("mls_id", "service", "key", "payload"))
    else:
        MlsMetadata.objects.bulk_create([MlsMetadata(**row) for row in _READ])


def room_post(**values) -> dict:
    return {"new-room-RoomName": "Kitchen", "new-room-LevelOrFloor": "Main", **values}


@pytest.mark.django_db(transaction=True)
def test_a_room_takes_the_mls_fields_and_refuses_a_value_outside_its_list(mls_lists, agent_client, draft):
    url = create_url(draft, "room")
    form = agent_client.get(url, **htmx()).content.decode()
    assert 'name="new-room-RoomName"' in form and "<select" in form
    assert 'type="checkbox" name="new-room-RoomFeature"' in form  # multi-select: checkboxes

    refused = agent_client.post(url, room_post(**{"new-room-RoomName": "Garage"}), **htmx())
    assert refused.status_code == 422
    assert "Room Name: “Garage” is not one of the MLS&#x27;s choices." in refused.content.decode()
    assert not draft.parts.exists()

    response = agent_client.post(
        url,
        room_post(**{"new-room-RoomFeature": ["Fireplace", "Hardwood Floor"], "new-room-Length": "14"}),
        **htmx(),
    )
    assert response.status_code == 200
    room = draft.parts.get()
    assert room.fields == {
        "RoomName": "Kitchen",
        "LevelOrFloor": "Main",
        "Length": "14",
        "RoomFeature": ["Fireplace", "Hardwood Floor"],
    }
    assert "Added room Kitchen" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_empty_room_is_refused(mls_lists, agent_client, draft):
    response = agent_client.post(create_url(draft, "room"), {}, **htmx())
    assert response.status_code == 422
    assert "Fill in at least one field of the room." in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_units_show_for_multi_family_only(mls_lists, agent_client, agent):
    house = DraftFactory(list_agent=agent, property_type="A")
    building = DraftFactory(list_agent=agent, property_type="B")

    assert (
        'id="section-parts-units"'
        not in agent_client.get(reverse("drafts:draft_edit", args=[house.pk])).content.decode()
    )
    body = agent_client.get(reverse("drafts:draft_edit", args=[building.pk])).content.decode()
    assert 'id="section-parts-units"' in body and 'name="new-unit-unit_nbr"' in body
    assert agent_client.post(create_url(house, "unit"), {"new-unit-unit_nbr": "Studio"}).status_code == 404
    response = agent_client.post(
        create_url(building, "unit"), {"new-unit-unit_nbr": "Studio", "new-unit-ActualRent": "900"}, **htmx()
    )
    assert response.status_code == 200
    assert building.parts.get().fields == {"unit_nbr": "Studio", "ActualRent": "900"}


def test_a_kinds_region_reads_a_fixed_number_of_queries(
    agent_client, draft, agent, django_assert_num_queries
):
    for name in ("One", "Two", "Three"):
        ListingPart.objects.add(draft, "tour", by=agent, name=name, url=TOUR_LINK)
    url = reverse("drafts:part_list", args=[draft.pk, "tour"])
    agent_client.get(url, **htmx())  # the session is read once before counting
    # The session, the user, the draft (with its office, agents and sync state), its tours,
    # the MLS's records of them (where each stands).
    with django_assert_num_queries(5):
        response = agent_client.get(url, **htmx())
    assert response.content.decode().count('class="part-item') == 3


def test_without_scripts_the_forms_open_on_their_own_page(agent_client, draft, agent):
    tour = ListingPart.objects.add(draft, "tour", by=agent, name="Tour", url=TOUR_LINK)

    page = agent_client.get(reverse("drafts:part_edit", args=[draft.pk, tour.pk])).content.decode()
    assert "<!doctype html>" in page.lower() and f'name="part{tour.pk}-name"' in page
    refused = agent_client.post(
        reverse("drafts:part_edit", args=[draft.pk, tour.pk]),
        {f"part{tour.pk}-name": "", f"part{tour.pk}-url": TOUR_LINK},
    )
    assert refused.status_code == 422
    assert "Virtual tour name: required." in refused.content.decode()
    assert "Back to the draft" in refused.content.decode()
    tour.refresh_from_db()
    assert tour.name == "Tour"


def test_units_left_after_the_property_type_changed_can_still_be_removed(agent_client, agent):
    building = DraftFactory(list_agent=agent, property_type="B")
    unit = ListingPart.objects.add(building, "unit", by=agent, fields={"unit_nbr": "Studio"})
    Draft.objects.filter(pk=building.pk).update(property_type="A")

    body = agent_client.get(reverse("drafts:draft_edit", args=[building.pk])).content.decode()
    assert 'id="section-parts-units"' in body and "Studio" in body
    assert "Add a unit" not in body
    response = agent_client.post(reverse("drafts:part_delete", args=[building.pk, unit.pk]), **htmx())
    assert response.status_code == 200 and not building.parts.exists()


@pytest.mark.django_db(transaction=True)
def test_units_left_on_a_type_without_units_read_by_the_mls_labels(mls_lists, agent_client, agent):
    building = DraftFactory(list_agent=agent, property_type="B")
    ListingPart.objects.add(building, "unit", by=agent, fields={"unit_nbr": "Studio", "ActualRent": "900"})
    Draft.objects.filter(pk=building.pk).update(property_type="A")

    body = agent_client.get(reverse("drafts:draft_edit", args=[building.pk])).content.decode()

    units = body[body.index('id="section-parts-units"') :][:4000]
    assert "Rent: 900" in units
    assert "ActualRent" not in units


@pytest.mark.django_db(transaction=True)
def test_a_stored_room_value_no_longer_listed_stays_selected_in_the_edit_form(
    mls_lists, agent_client, draft, agent
):
    room = ListingPart.objects.add(
        draft, "room", by=agent, fields={"RoomName": "Sunroom", "LevelOrFloor": "Main"}
    )

    form = agent_client.get(reverse("drafts:part_edit", args=[draft.pk, room.pk]), **htmx()).content.decode()

    assert '<option value="Sunroom" selected>Sunroom (not in the MLS&#x27;s list)</option>' in form
    assert '<option value="Main" selected>' in form
    # Saved unchanged with another field edited, the value is kept, not refused.
    response = agent_client.post(
        reverse("drafts:part_edit", args=[draft.pk, room.pk]),
        {
            f"part{room.pk}-RoomName": "Sunroom",
            f"part{room.pk}-LevelOrFloor": "Main",
            f"part{room.pk}-Length": "12",
        },
        **htmx(),
    )
    assert response.status_code == 200
    room.refresh_from_db()
    assert room.fields["RoomName"] == "Sunroom" and room.fields["Length"] == "12"


CSRF_INPUT = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]*">')


def add_form_of(body: str, draft: Draft, kind: str) -> str:
    """The add form of `kind` on a page, its CSRF token (new on every reply) left out."""
    start = body.index(f'action="{create_url(draft, kind)}"')
    return CSRF_INPUT.sub("", body[start : body.index("</form>", start)])


@pytest.mark.django_db(transaction=True)
def test_the_editors_add_forms_are_kept_per_property_type_and_metadata_version(
    mls_lists, agent_client, agent
):
    """The editor writes an empty add form once per kind, property type and metadata version
    (part_views.part_regions): the markup the template writes for it, each type its own fields,
    and a new reading of the MLS's lists shows on the next page."""
    house = DraftFactory(list_agent=agent, property_type="A")
    building = DraftFactory(list_agent=agent, property_type="B")

    def editor(draft: Draft) -> str:
        return agent_client.get(reverse("drafts:draft_edit", args=[draft.pk])).content.decode()

    for draft, kinds in ((house, ["room", "tour", "video"]), (building, ["room", "unit", "tour", "video"])):
        first, again = editor(draft), editor(draft)
        for kind in kinds:
            # The region's own reply writes the form through the template, nothing kept.
            region = agent_client.get(create_url(draft, kind), **htmx()).content.decode()
            assert add_form_of(first, draft, kind) == add_form_of(region, draft, kind)
            assert add_form_of(again, draft, kind) == add_form_of(region, draft, kind)
    assert 'name="new-unit-unit_nbr"' in editor(building) and "new-unit-" not in editor(house)

    assert "Room Level" in add_form_of(editor(house), house, "room")
    room_lists = MlsMetadata.objects.filter(
        key__in=["", "LevelOrFloor"], service__in=["room_fields", "room_field"]
    )
    for row in room_lists:
        row.payload = json.loads(json.dumps(row.payload).replace('"Room Level"', '"Floor level"'))
        row.fetched_at = timezone.now()
        row.save()
    assert "Floor level" in add_form_of(editor(house), house, "room")


def without_tokens(body: str) -> str:
    return CSRF_INPUT.sub("", body)


@pytest.mark.django_db(transaction=True)
def test_the_editors_empty_regions_are_written_once_with_each_drafts_pk_and_the_pages_token(
    mls_lists, agent_client, agent
):
    """An empty region of rooms, units, tours or videos is written once per kind, property type
    and metadata version (part_views.part_regions): the markup the template writes for it, with
    the draft's own URLs and the page's CSRF token; a region with parts is the template's."""
    first, second = (
        DraftFactory(list_agent=agent, property_type="B"),
        DraftFactory(list_agent=agent, property_type="B"),
    )
    add_room(second, agent, "Den")

    def editor(draft: Draft) -> str:
        return agent_client.get(reverse("drafts:draft_edit", args=[draft.pk])).content.decode()

    for draft in (first, second, first):
        page = editor(draft)
        for kind in ("room", "unit", "tour", "video"):
            reply = agent_client.get(
                reverse("drafts:part_list", args=[draft.pk, kind]), **htmx()
            ).content.decode()
            region = without_tokens(reply).strip()
            assert region.startswith(f'<div class="parts-region" id="parts-{kind}"')
            assert region in without_tokens(page) and f"/drafts/{draft.pk}/" in region
        # Every form of the page carries the page's one token.
        assert len(set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page))) == 1
    assert "Den" in editor(second) and "Den" not in editor(first)
