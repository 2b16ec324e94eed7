"""The MLS's metadata kept by the portal (mls/metadata.py) against the sandbox: a refresh stores
every service, a second one sends the validators and rewrites nothing on 304, a failed one keeps
the last copy and says why, and a new install without the MLS says so; the readers the editor
will use; the "MLS lists" page and its refresh button (office and company admins only)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from listings_portal.celery import app as celery_app
from mls import metadata
from mls.models import MetadataService, MlsMetadata

pytestmark = pytest.mark.django_db(transaction=True)


def copy(service: MetadataService, key: str = "") -> MlsMetadata:
    return MlsMetadata.objects.get(mls_id="", service=service, key=key)


@pytest.fixture
def eager_tasks():
    """The button's task runs in the request, so the test sees what it did."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_a_refresh_keeps_every_service(sync_env):
    report = metadata.refresh()
    assert report.failed == []
    kept = set(MlsMetadata.objects.values_list("service", "key"))
    assert {
        ("standard_fields", ""),
        ("property_types", ""),
        ("field_order", ""),
        ("custom_fields", ""),
        ("room_fields", ""),
        ("unit_fields", ""),
        ("standard_field", "PropertySubType"),
        ("custom_field", "Heating"),
        ("room_field", "RoomName"),
        ("unit_field", "unit_nbr"),
        ("listing_rules", "A"),
        ("listing_rules", "F"),
    } <= kept
    assert ("custom_field", "Garage Stalls") not in kept  # no list, nothing to read
    assert report.changed == len(kept)
    fields = copy(MetadataService.STANDARD_FIELDS)
    assert fields.etag and fields.last_modified and fields.fetched_at and fields.checked_at
    assert copy(MetadataService.PROPERTY_TYPES).etag == ""  # not a conditional service


def test_a_second_refresh_sends_validators_and_rewrites_nothing(sync_env):
    metadata.refresh()
    before = {(row.service, row.key): row for row in MlsMetadata.objects.all()}
    calls_before = sync_env.control.calls()["counts"]
    report = metadata.refresh()
    assert report.changed == 0 and report.unchanged == len(before) and report.failed == []
    journal = sync_env.control.calls()["journal"]
    conditional = [call for call in journal if call["route"] in ("standardfields.list", "customfields.list")]
    assert [call["status"] for call in conditional[-2:]] == [304, 304]
    for row in MlsMetadata.objects.all():
        old = before[(row.service, row.key)]
        assert row.payload == old.payload and row.fetched_at == old.fetched_at
        assert row.checked_at > old.checked_at
    assert sync_env.control.calls()["counts"]["fieldorder.list"] == calls_before["fieldorder.list"] + 1


def test_new_validators_from_the_mls_are_kept(sync_env):
    metadata.refresh()
    old = copy(MetadataService.CUSTOM_FIELDS)
    sync_env.control.options(metadata_revision=1)
    metadata.refresh()
    # The lists are the same, their validators new: kept, so the next check is a 304 again.
    new = copy(MetadataService.CUSTOM_FIELDS)
    assert new.etag != old.etag and new.last_modified != old.last_modified
    assert new.payload == old.payload and new.fetched_at == old.fetched_at
    metadata.refresh()
    journal = sync_env.control.calls()["journal"]
    assert [c["status"] for c in journal if c["route"] == "customfields.list"][-1] == 304


def test_a_failed_refresh_keeps_the_last_copy_and_says_why(sync_env):
    metadata.refresh()
    kept = copy(MetadataService.STANDARD_FIELDS)
    sync_env.control.faults({"kind": "server_error", "status": 503, "routes": ["standardfields.list"]})
    report = metadata.refresh()
    assert len(report.failed) == 1
    row = copy(MetadataService.STANDARD_FIELDS)
    assert row.payload == kept.payload and row.fetched_at == kept.fetched_at
    assert (
        row.last_try_failed
        and "could not be reached or was busy" in row.failure
        and "HTTP 503" in row.failure
    )
    # The lists of single fields still come from the copy, and the editor's readers still serve.
    assert [(c.value, c.label) for c in sub_type_choices()] == [
        ("SF", "Single Family"),
        ("CN", "Condominium"),
        ("TH", "Townhouse"),
    ]
    sync_env.control.clear_faults()
    metadata.refresh()
    assert not copy(MetadataService.STANDARD_FIELDS).last_try_failed


def sub_type_choices() -> tuple[metadata.Choice, ...]:
    listing = next(section for section in metadata.fields_for("A") if section.label == "Listing Information")
    return next(field for field in listing.fields if field.name == "PropertySubType").choices


def test_the_editor_reads_sections_lists_and_custom_groups(sync_env):
    assert metadata.fields_for("A") == []  # nothing read yet
    metadata.refresh()
    sections = metadata.fields_for("A")
    assert [s.label for s in sections] == [
        "Listing Information",
        "Location",
        "Property Details",
        "Features",
        "Remarks",
    ]
    by_name = {f.name: f for s in sections for f in s.fields}
    assert by_name["PropertySubType"].label == "Property Sub-Type"
    assert [c.label for c in by_name["PropertySubType"].choices] == [
        "Single Family",
        "Condominium",
        "Townhouse",
    ]
    assert by_name["StreetDirPrefix"].choices[0] == metadata.Choice("N", "N")
    heating = by_name["Heating"]
    assert heating.domain == "CustomFields" and heating.custom_group == "Features" and heating.multi_select
    assert by_name["ListPrice"].type == "Decimal" and not by_name["ListPrice"].has_list
    assert "Zoning" not in by_name and "LotSizeAcres" in by_name
    land = {f.name for s in metadata.fields_for("C") for f in s.fields}
    assert "BedsTotal" not in land and "Zoning" in land
    assert [(t.code, t.name) for t in metadata.property_types()][:2] == [
        ("A", "Residential"),
        ("B", "Multi Family"),
    ]
    rooms = {f.name: f for f in metadata.room_fields("A")}
    assert rooms["RoomFeature"].multi_select and rooms["LevelOrFloor"].choices[1].label == "Main"
    assert metadata.unit_fields("A") == [] and metadata.unit_fields("B")
    assert any(rule["Field"] == "BedsTotal" for rule in metadata.listing_rules("A"))


def test_a_new_install_without_the_mls_says_so(sync_env, settings, client, office_admin):
    settings.SPARK_API_URL = "http://127.0.0.1:9/sandbox"  # nothing listens there
    settings.SPARK_CONNECT_TIMEOUT = 0.5
    report = metadata.refresh()
    assert report.changed == 0 and report.failed
    assert metadata.fields_for("A") == []
    client.force_login(office_admin)
    page = client.get(reverse("mls:mls_lists"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "The MLS&#x27;s field lists have not been read yet: the last try failed" in text
    assert "could not be reached" in text


def test_a_new_install_that_never_tried_says_so(db, client, office_admin):
    client.force_login(office_admin)
    text = client.get(reverse("mls:mls_lists")).content.decode()
    assert "The MLS&#x27;s field lists have not been read yet: the portal has not tried yet" in text


def test_only_admins_see_and_refresh_the_lists(db, client, agent):
    client.force_login(agent)
    assert client.get(reverse("mls:mls_lists")).status_code == 403
    assert client.post(reverse("mls:mls_lists_refresh")).status_code == 403
    assert not MlsMetadata.objects.exists()


@pytest.mark.parametrize("role", ["office_admin", "company_admin"])
def test_an_admin_refreshes_the_lists(sync_env, eager_tasks, client, request, role):
    client.force_login(request.getfixturevalue(role))
    response = client.post(reverse("mls:mls_lists_refresh"), follow=True)
    assert response.status_code == 200
    assert copy(MetadataService.FIELD_ORDER).is_read
    text = response.content.decode()
    assert "being read again" in text and "Field order" in text and "not been read yet" not in text


def test_the_refresh_button_wants_a_post(db, client, office_admin):
    client.force_login(office_admin)
    assert client.get(reverse("mls:mls_lists_refresh")).status_code == 405


def test_beat_refreshes_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["mls-refresh-metadata"]
    assert entry == {"task": "mls.refresh_metadata", "schedule": settings.MLS_METADATA_REFRESH_SECONDS}
    assert celery_app.tasks["mls.refresh_metadata"].name == "mls.refresh_metadata"


def test_room_fields_keep_the_mls_order_on_every_database(sync_env):
    """jsonb (PostgreSQL) sorts an object's keys; the room form lists the fields in the MLS's
    order, so the refresh keeps that order beside the copy."""
    assert not metadata.refresh().failed
    row = MlsMetadata.objects.get(service=MetadataService.ROOM_FIELDS, key="")
    assert row.key_order == [["RoomName", "LevelOrFloor", "Length", "Width", "Description", "RoomFeature"]]
    assert [spec.name for spec in metadata.room_fields("A")] == row.key_order[0]
    assert [spec.label for spec in metadata.room_fields("A")][:2] == ["Room Name", "Room Level"]


def test_a_copy_made_before_the_key_order_was_kept_still_reads(db):
    MlsMetadata.objects.create(
        service=MetadataService.ROOM_FIELDS,
        payload=[{"Width": {"Label": "Width", "MlsVisible": ["A"]}}],
    )
    assert [spec.name for spec in metadata.room_fields("A")] == ["Width"]


def test_a_live_listing_reads_in_the_mls_words(sync_env):
    """The live listing page: the MLS's labels, list values by name, no bookkeeping or masks."""
    assert not metadata.refresh().failed
    rows = dict(
        metadata.readable_fields(
            {
                "ListingKey": "20261207011249341139000000",
                "PropertyType": "A",
                "PropertySubType": "SF",
                "StateOrProvince": "ND",
                "PrivateRemarks": "********",
                "City": "Fargo",
                "BedsTotal": 3,
            },
            "A",
        )
    )
    assert "ListingKey" not in rows and "PrivateRemarks" not in rows
    assert "Single Family" in rows.values() and "North Dakota" in rows.values()
    assert "Residential" in rows.values() and "Fargo" in rows.values()
    assert rows["Property Sub-Type"] == "Single Family" and rows["State"] == "North Dakota"
