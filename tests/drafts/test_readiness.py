"""Readiness (drafts/readiness.py): everything the MLS and the office require, each gap a link
to where it is fixed; and what the editor shows of it."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from drafts import rules
from drafts.models import Draft, DraftStatus
from media_manager.models import Photo
from tests.factories import DocumentFactory, DraftFactory, PhotoFactory

from .conftest import add_required_media
from .test_transitions import COMPLETE, in_status

LEAD_PAINT = "Lead-Based Paint Disclosure"


@pytest.fixture
def home(agent) -> Draft:
    """A residential draft built 1962 whose fields are complete, with a photo and the
    Seller's Disclosure, but not the lead paint disclosure a home that old needs."""
    draft = DraftFactory(list_agent=agent, year_built=1962, **COMPLETE)
    PhotoFactory(draft=draft)
    DocumentFactory(draft=draft, name="Seller's Disclosure")
    return draft


def media_url(draft: Draft, section: str) -> str:
    return reverse("media_manager:draft_media", args=[draft.pk]) + f"#{section}"


def test_a_home_built_1962_misses_the_lead_paint_disclosure(home):
    report = home.readiness()

    assert [(gap.section, gap.label, gap.url) for gap in report.gaps] == [
        ("Documents", LEAD_PAINT, media_url(home, "documents"))
    ]
    assert report.gaps[0].message == f"Upload the {LEAD_PAINT}."
    documents = next(section for section in report.sections if section.slug == "documents")
    assert (documents.done, documents.total) == (1, 2)
    assert report.percent < 100 and not report.is_ready
    assert not report.errors  # every field rule is met: only the document is missing


def test_the_gap_closes_once_the_disclosure_is_there(home):
    DocumentFactory(draft=home, name="lead-based paint  disclosure")  # names match loosely

    report = home.readiness()

    assert report.gaps == [] and report.is_ready
    assert report.percent == 100
    assert all(section.is_complete for section in report.sections)


def test_a_newer_home_needs_no_lead_paint_disclosure(home):
    Draft.objects.filter(pk=home.pk).update(year_built=1990)
    home.refresh_from_db()

    assert home.readiness().is_ready


def test_no_photos_is_a_gap_on_the_photos_section(agent):
    draft = DraftFactory(list_agent=agent, **COMPLETE)
    DocumentFactory(draft=draft, name="Seller's Disclosure")

    report = draft.readiness()

    assert [(gap.section, gap.message, gap.url) for gap in report.gaps] == [
        ("Photos", "Add a photo.", media_url(draft, "photos"))
    ]
    photos = next(section for section in report.sections if section.slug == "photos")
    assert (photos.done, photos.total) == (0, 1)


def test_photos_without_a_primary_are_a_gap(home):
    Photo.objects.filter(draft=home).update(is_primary=False)

    report = home.readiness()

    assert ("Photos", "Primary photo") in [(gap.section, gap.label) for gap in report.gaps]
    photos = next(section for section in report.sections if section.slug == "photos")
    assert (photos.done, photos.total) == (1, 2)


def test_the_minimum_of_photos_is_a_setting(home, settings):
    settings.LISTING_MIN_PHOTOS = 3

    messages = [gap.message for gap in home.readiness().gaps]

    assert "Add at least 3 photos (it has 1)." in messages


def test_field_gaps_link_to_the_field_in_the_editor_section_by_section(agent):
    draft = Draft.start(by=agent, list_agent=agent)

    report = draft.readiness()

    editor = reverse("drafts:draft_edit", args=[draft.pk])
    street = next(gap for gap in report.gaps if gap.field == "street_number")
    assert (street.section, street.label, street.url) == (
        "Location",
        "Street number",
        f"{editor}#field-street_number",
    )
    assert street.message == "Street number is required."
    sections = [gap.section for gap in report.gaps]
    assert sections.index("Location") < sections.index("Price") < sections.index("Photos")
    location = next(section for section in report.sections if section.slug == "location")
    assert location.total >= 5 and location.total - location.done >= 5
    assert report.percent < 50


def test_warnings_do_not_count(home):
    Draft.objects.filter(pk=home.pk).update(county_or_parish="", latitude=None, longitude=None)
    add_required_media(home)
    DocumentFactory(draft=home, name=LEAD_PAINT)

    report = home.readiness()

    assert report.warnings and report.is_ready and report.percent == 100


def test_required_fields_are_the_error_rules_that_ask_for_a_value():
    required = rules.required_fields("A", rules.RuleBook.fixed())

    assert {"street_number", "city", "postal_code", "list_price", "beds_total"} <= required
    assert "county_or_parish" not in required  # a warning only
    assert "street_number" not in rules.required_fields("C", rules.RuleBook.fixed())  # land


# --- The editor ---------------------------------------------------------------------------------


def editor_page(user, draft: Draft, query: str = "") -> str:
    client = Client()
    client.force_login(user)
    return client.get(reverse("drafts:draft_edit", args=[draft.pk]) + query).content.decode()


def test_a_new_draft_marks_its_missing_fields_to_show_only_once_left(agent):
    draft = Draft.start(by=agent, list_agent=agent)

    page = editor_page(agent, draft)

    assert 'class="editor-main"' in page  # not .show-missing: a blank form shows no red
    assert 'class="rule rule-error rule-missing"' in page
    assert "Street number is required." in page


@pytest.mark.parametrize("status", [DraftStatus.SUBMITTED, DraftStatus.CHANGES_REQUESTED])
def test_a_draft_already_submitted_shows_every_missing_field(agent, status):
    draft = in_status(Draft.start(by=agent, list_agent=agent), status)

    assert 'class="editor-main show-missing"' in editor_page(agent, draft)


def test_a_refused_submit_comes_back_with_every_missing_field_shown(agent):
    draft = Draft.start(by=agent, list_agent=agent)
    client = Client()
    client.force_login(agent)

    response = client.post(reverse("drafts:draft_submit", args=[draft.pk]), follow=True)

    page = response.content.decode()
    assert response.redirect_chain[-1][0].endswith("?check=1#rules")
    assert "Cannot submit it for review yet" in page
    assert 'class="editor-main show-missing"' in page
    assert Draft.objects.get(pk=draft.pk).status == DraftStatus.DRAFT


def test_labels_are_human_with_a_required_mark_and_the_mls_name_aside(agent):
    draft = Draft.start(by=agent, list_agent=agent)

    page = editor_page(agent, draft)

    assert (
        '<label for="id_street_number" title="MLS field StreetNumber" data-mls-name="StreetNumber">'
        'Street number<span class="required-mark" aria-hidden="true">*</span>'
    ) in page
    assert 'class="spark-name"' not in page
    assert (
        'id="id_street_number" name="value" value="" data-autosave="street_number" aria-required="true"'
        in page
    )
    assert re.search(r'<input id="id_county_or_parish"[^>]*>', page).group(0).count("aria-required") == 0


def test_the_editor_lists_the_gaps_and_disables_submit(home):
    page = editor_page(home.list_agent, home)

    assert f'href="{media_url(home, "documents")}"' in page and "Fix this" in page
    assert f"Upload the {LEAD_PAINT}." in page
    assert '<span class="readiness-count">1/2</span>' in page  # documents
    assert 'type="submit" disabled aria-describedby="submit-blocked"' in page
    assert "Every rule is met" not in page


def test_the_editor_enables_submit_once_nothing_is_missing(home):
    DocumentFactory(draft=home, name=LEAD_PAINT)

    page = editor_page(home.list_agent, home)

    assert "Nothing is missing." in page or "Worth a look" in page
    assert "100% ready" in page
    assert 'id="readiness-gaps"' not in page
    assert 'id="submit-blocked"' not in page and ">Submit for review</button>" in page


def test_numeric_and_postal_fields_bring_up_the_phone_keypad(agent):
    draft = Draft.start(by=agent, list_agent=agent)

    page = editor_page(agent, draft)

    assert 'data-autosave="postal_code"' in page and 'inputmode="numeric" autocomplete="postal-code"' in page
    assert 'data-autosave="list_price" aria-required="true" inputmode="decimal"' in page
