"""The review page once the MLS's lists were read: the editor's sections, order and labels,
values by their lists' labels, comments on fields kept without a column, and what changed since
the last review (fields, rooms and links) in the MLS's words; the history by the MLS's labels."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from drafts import rules
from drafts.models import Draft, ListingPart, ReviewComment
from mls import metadata
from tests.factories import DraftFactory
from tests.mls.sync_support import memory_broker, sync_env  # noqa: F401 (fixtures)

from .conftest import htmx, make_complete

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mls_lists(sync_env):  # noqa: F811 (the fixture imported above)
    """The sandbox's metadata read and kept, as beat (or seed_demo) does."""
    report = metadata.refresh()
    assert not report.failed
    return report


@pytest.fixture
def reviewer(office_admin):
    client = Client()  # its own: agent_client signs the `client` fixture in as the agent
    client.force_login(office_admin)
    return client


@pytest.fixture
def submitted(mls_lists, agent):
    draft = DraftFactory(
        list_agent=agent,
        standard_fields_extra={"ListingContractDate": "2026-11-30"},
        custom_fields={
            "Features": {"Appliances": ["Dishwasher", "Range"]},
            "Lot": {"Road": "Paved"},  # a custom field the MLS's layout does not have
        },
    )
    ListingPart.objects.add(
        draft, "room", by=agent, fields={"RoomName": "Kitchen", "LevelOrFloor": "Main", "Length": "14"}
    )
    make_complete(draft, year_built=1995)  # the MLS's rules ask for the year too
    draft.submit(by=agent)
    return draft


def page(client, draft) -> str:
    response = client.get(reverse("drafts:draft_review", args=[draft.pk]))
    assert response.status_code == 200
    return response.content.decode()


def field_block(body: str, key: str) -> str:
    """The review page's block of one field, up to the next field."""
    start = body.index(f'id="review-field-{key}"')
    following = body.find('id="review-field-', start + 1)
    return body[start : following if following > 0 else len(body)]


def spec(draft, key):
    layout = rules.RuleBook().layout(draft.property_type)
    assert layout is not None
    return layout.by_key[key]


def test_the_sections_order_and_labels_are_the_editors(submitted, reviewer, agent_client):
    editor = agent_client.get(reverse("drafts:draft_edit", args=[submitted.pk])).content.decode()
    body = page(reviewer, submitted)

    editor_headings = re.findall(r'<h2 id="heading-[^"]+">([^<]+)</h2>', editor)
    review_headings = re.findall(r'<h2 id="review-heading-[^"]+">([^<]+)</h2>', body)
    assert (
        review_headings[:6]
        == editor_headings[:6]
        == [
            "Listing Information",
            "Location",
            "Property Details",
            "Features",
            "Remarks",
            "Agents",
        ]
    )
    # What the layout has no place for is still shown (the editor has it apart, too).
    assert review_headings[6] == "Other fields"
    layout_keys = set(rules.RuleBook().layout("A").by_key)
    editor_keys = [key for key in re.findall(r'id="field-([\w-]+)"', editor) if key in layout_keys]
    review_keys = [key for key in re.findall(r'id="review-field-([\w-]+)"', body) if key in layout_keys]
    # Every field is there; those filled (or talked about) in the editor's order, each section's
    # quiet empty ones folded after them.
    assert sorted(review_keys) == sorted(editor_keys) and "std-ListingContractDate" in review_keys
    folded = set(re.findall(r'class="review-field is-empty" id="review-field-([\w-]+)"', body))
    assert folded and [key for key in review_keys if key not in folded] == [
        key for key in editor_keys if key not in folded
    ]
    assert ">Property Sub-Type<" in field_block(body, "property_sub_type")


def test_values_show_by_their_list_labels_read_only(submitted, reviewer):
    body = page(reviewer, submitted)

    assert '<span class="value">Single Family</span>' in field_block(body, "property_sub_type")
    assert '<span class="value">North Dakota</span>' in field_block(body, "state_or_province")
    assert '<span class="value">Residential</span>' in field_block(body, "property_type")
    assert '<span class="value">Dishwasher, Range</span>' in field_block(body, "cf-appliances")
    assert '<span class="value">2026-11-30</span>' in field_block(body, "std-ListingContractDate")
    assert '<span class="value">$250,000</span>' in field_block(body, "list_price")
    assert "Road = Paved" in field_block(body, "custom_fields")
    # That group's fields are all empty: folded with the section's empty fields, its heading too.
    assert '<h3 class="field-group-heading">General Property Description</h3>' not in body
    assert 'class="review-field is-empty" id="review-field-cf-style"' in body
    main = body[: body.index('id="review-parts"')]
    assert "<input" not in main.replace('<input type="hidden"', "") and "<select" not in main


@pytest.mark.parametrize("key", ["std-ListingContractDate", "cf-appliances"])
def test_a_reviewer_comments_on_a_field_kept_without_a_column(submitted, reviewer, office_admin, key):
    response = reviewer.post(
        reverse("drafts:review_comment_create", args=[submitted.pk]),
        {"target_kind": "field", "target_key": key, "text": "Is this right?"},
        **htmx(),
    )

    assert response.status_code == 200
    assert f'id="comments-field-{key}"' in response.content.decode()
    comment = ReviewComment.objects.get()
    assert (comment.target_key, comment.author) == (key, office_admin)
    assert "Is this right?" in field_block(page(reviewer, submitted), key)


@pytest.mark.parametrize("key", ["std-NoSuchField", "cf-no-such-field", "std-", "standard_fields_extra"])
def test_a_comment_on_a_field_the_layout_does_not_have_is_refused(submitted, reviewer, key):
    response = reviewer.post(
        reverse("drafts:review_comment_create", args=[submitted.pk]),
        {"target_kind": "field", "target_key": key, "text": "Hm."},
        **htmx(),
    )

    assert response.status_code == 422
    assert not ReviewComment.objects.exists()


def test_the_agent_sees_a_comment_on_an_mls_field_next_to_it(submitted, office_admin, agent_client):
    submitted.add_review_comment(
        by=office_admin,
        text="Date of the contract?",
        target_kind="field",
        target_key="std-ListingContractDate",
    )
    submitted.request_changes(by=office_admin, reason="See the comment.")

    editor = agent_client.get(reverse("drafts:draft_edit", args=[submitted.pk])).content.decode()

    block = editor[editor.index('id="field-std-ListingContractDate"') :]
    assert 'id="field-comments-std-ListingContractDate"' in block[:4000]
    assert "Date of the contract?" in block[:4000]


def test_old_comments_keyed_by_column_still_attach(submitted, office_admin, reviewer):
    city = submitted.add_review_comment(
        by=office_admin, text="West Fargo?", target_kind="field", target_key="city"
    )
    custom = submitted.add_review_comment(
        by=office_admin, text="Which road?", target_kind="field", target_key="custom_fields"
    )

    body = page(reviewer, submitted)

    assert f'id="review-comment-{city.pk}"' in field_block(body, "city")
    assert f'id="review-comment-{custom.pk}"' in field_block(body, "custom_fields")


def test_what_changed_is_told_in_the_mls_words(submitted, agent, office_admin, reviewer):
    submitted.request_changes(by=office_admin, reason="A few things.")
    draft = Draft.objects.get(pk=submitted.pk)
    draft.save_field("state_or_province", "MN", by=agent, seen_version=draft.version, seen_value="ND")
    draft.refresh_from_db()
    draft.save_mls_value(
        spec(draft, "std-ListingContractDate"),
        "2026-12-01",
        by=agent,
        seen_version=draft.version,
        seen_value="2026-11-30",
    )
    draft.refresh_from_db()
    draft.save_mls_value(
        spec(draft, "cf-heating"), ["Forced Air"], by=agent, seen_version=draft.version, seen_value=None
    )
    kitchen = draft.parts.get()
    kitchen.edit(by=agent, fields={**kitchen.fields, "LevelOrFloor": "Upper"})
    ListingPart.objects.add(
        draft, "tour", by=agent, name="3D walk-through", url="https://my.matterport.com/show/?m=SxQL3iGyoDo"
    )
    draft.refresh_from_db()
    draft.submit(by=agent)

    body = page(reviewer, draft)

    changes = body[
        body.index('id="review-changes"') : body.index("</section>", body.index('id="review-changes"'))
    ]
    assert '<a href="#review-field-state_or_province">State</a>: <del>North Dakota</del>' in changes
    assert "<ins>Minnesota</ins>" in changes
    assert (
        '<a href="#review-field-std-ListingContractDate">Listing Date</a>: <del>2026-11-30</del>' in changes
    )
    assert '<a href="#review-field-cf-heating">Heating</a>: <del>(empty)</del>' in changes
    assert "ListingContractDate</a>" not in changes.replace("std-ListingContractDate", "")
    assert f'<a href="#review-part-{kitchen.pk}">Room 1 Kitchen: Room Level Main → Upper</a>' in changes
    assert "Virtual tour added: 3D walk-through" in changes
    assert "is-changed" in body[body.index('id="review-field-state_or_province"') - 120 :][:130]
    assert "Was: 2026-11-30" in field_block(body, "std-ListingContractDate")


def test_the_history_names_custom_fields_by_the_mls_label(mls_lists, agent, agent_client):
    draft = DraftFactory(list_agent=agent)
    draft.save_mls_value(
        spec(draft, "cf-heating"),
        ["Geothermal", "Forced Air"],
        by=agent,
        seen_version=draft.version,
        seen_value=None,
    )

    body = agent_client.get(reverse("drafts:draft_history", args=[draft.pk])).content.decode()

    entry = body[body.index('class="history-field"') :]
    assert "<strong>Heating</strong>" in entry[:400]
    assert "<ins>Forced Air, Geothermal</ins>" in entry[:600]
    assert "Features: Heating" not in body


def test_the_editors_list_of_commented_fields_names_mls_fields_by_label(
    submitted, office_admin, agent_client
):
    submitted.add_review_comment(
        by=office_admin, text="Which date?", target_kind="field", target_key="std-ListingContractDate"
    )

    editor = agent_client.get(reverse("drafts:draft_edit", args=[submitted.pk])).content.decode()

    links = editor[editor.index('class="comment-field-links"') :]
    links = links[: links.index("</ul>")]
    assert ">Listing Date</a> (1)" in links and ">std-" not in links
