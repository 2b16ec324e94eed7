"""Open houses of live listings: the model's checks (in the office's time zone), the push to the
listing's open-houses service (the sandbox over real HTTP; a lost answer adopted, not doubled),
and the live listing page's forms and who may use them.

docs/spark-protocol.md#open-houses
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import Office
from drafts.models import Draft, DraftStatus
from mls import open_houses
from mls.models import OpenHouse
from mls.remote import client
from sandbox.models import OpenHouse as SandboxOpenHouse
from tests.factories import AgentFactory, DraftFactory, OfficeAdminFactory, OfficeFactory
from tests.spark.conftest import MINIMAL_DRAFT

HTMX = {"HTTP_HX_REQUEST": "true"}
# Session, user, the draft (with its office and sync row), its open houses.
QUERIES_FOR_THE_REGION = 4


def in_days(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)  # the office zone is settings.TIME_ZONE


def live(draft: Draft, listing_id: str = "20260101000000000000000001") -> Draft:
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.LIVE, live_listing_id=listing_id)
    draft.refresh_from_db()
    return draft


# --- The model's checks ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_checks_name_the_field(agent):
    draft = live(DraftFactory(list_agent=agent))
    cases = [
        ({"date": in_days(3), "start": dt.time(14), "end": dt.time(13)}, "end", "after the start"),
        ({"date": in_days(3), "start": dt.time(8), "end": dt.time(17)}, "end", "8 hours at most"),
        ({"date": in_days(-1), "start": dt.time(13), "end": dt.time(15)}, "date", "in the past"),
        (
            {"date": in_days(3), "start": dt.time(13), "end": dt.time(15), "comments": "x" * 501},
            "comments",
            "500 characters",
        ),
    ]
    for values, field, words in cases:
        with pytest.raises(ValidationError) as refused:
            OpenHouse.schedule(draft, by=agent, **values)
        assert list(refused.value.message_dict) == [field]
        assert words in refused.value.message_dict[field][0]
    assert not OpenHouse.objects.exists()


@pytest.mark.django_db
def test_today_is_the_office_s_today(agent):
    """At 02:00 UTC it is still yesterday evening in Chicago: an open house at 21:30 there is
    not in the past (21:00 there); in Tokyo (11:00 already) one at 10:00 is."""
    moment = dt.datetime(2030, 6, 1, 2, 0, tzinfo=dt.UTC)
    draft = live(DraftFactory(list_agent=agent))
    Office.objects.filter(pk=draft.office_id).update(time_zone="America/Chicago")
    draft.office.refresh_from_db()
    OpenHouse.check_times(draft, dt.date(2030, 5, 31), dt.time(21, 30), dt.time(22), "", now=moment)
    draft.office.time_zone = "Asia/Tokyo"
    with pytest.raises(ValidationError) as refused:
        OpenHouse.check_times(draft, dt.date(2030, 6, 1), dt.time(10), dt.time(12), "", now=moment)
    assert list(refused.value.message_dict) == ["start"]


@pytest.mark.django_db
def test_only_live_listings_get_open_houses(agent):
    draft = DraftFactory(list_agent=agent)
    with pytest.raises(ValidationError, match="once the listing is live"):
        OpenHouse.schedule(draft, by=agent, date=in_days(3), start=dt.time(13), end=dt.time(15))


@pytest.mark.django_db
def test_an_office_time_zone_must_be_a_zone_name():
    office = OfficeFactory()
    assert office.time_zone == "America/Chicago"  # settings.TIME_ZONE
    office.time_zone = "Mars/Olympus"
    with pytest.raises(ValidationError):
        office.full_clean()


# --- The push, against the sandbox -------------------------------------------------------------


@pytest.fixture
def live_draft(sync_env, agent, settings):
    settings.SYNC_AMBIGUOUS_SETTLE_SECONDS = 0.2
    listing_id = client().create_listing(MINIMAL_DRAFT).resource_id
    return live(DraftFactory(list_agent=agent), listing_id)


def remote_open_houses(draft: Draft) -> list[tuple[str, str, str, str]]:
    return [
        (item.date.isoformat(), f"{item.start:%H:%M}", f"{item.end:%H:%M}", item.comments)
        for item in SandboxOpenHouse.objects.filter(listing__spark_id=draft.live_listing_id)
    ]


def schedule(draft: Draft, by, **changes) -> OpenHouse:
    values = {"date": in_days(5), "start": dt.time(13), "end": dt.time(15), "comments": "Cookies"}
    return OpenHouse.schedule(draft, by=by, **{**values, **changes})


@pytest.mark.django_db(transaction=True)
def test_schedule_edit_cancel_reach_the_mls_once_each(sync_env, live_draft, agent):
    open_house = schedule(live_draft, agent)
    assert open_house.sync_state == "pending"
    assert open_houses.push_open_house(open_house.pk) == "created"
    assert open_houses.push_open_house(open_house.pk) == "nothing"  # idempotent: no call
    assert sync_env.count("openhouses.create") == 1
    day = in_days(5).isoformat()
    assert remote_open_houses(live_draft) == [(day, "13:00", "15:00", "Cookies")]
    open_house.refresh_from_db()
    assert open_house.remote_id and open_house.sync_state == "synced"

    open_house.edit(by=agent, date=in_days(5), start=dt.time(14), end=dt.time(16, 30), comments="")
    assert open_houses.push_open_house(open_house.pk) == "updated"
    assert remote_open_houses(live_draft) == [(day, "14:00", "16:30", "")]

    assert open_house.cancel(by=agent)
    assert not open_house.cancel(by=agent)  # once
    assert open_houses.push_open_house(open_house.pk) == "deleted"
    assert remote_open_houses(live_draft) == []
    assert (sync_env.count("openhouses.update"), sync_env.count("openhouses.delete")) == (1, 1)
    assert not OpenHouse.objects.filter(draft=live_draft).shown().exists()


@pytest.mark.django_db(transaction=True)
def test_a_lost_create_answer_is_adopted_not_doubled(sync_env, live_draft, agent):
    open_house = schedule(live_draft, agent)
    sync_env.control.faults({"kind": "drop_after_apply", "routes": ["openhouses.create"], "times": 1})
    assert open_houses.push_open_house(open_house.pk) == "retry"
    open_house.refresh_from_db()
    assert open_house.sending_since is not None and not open_house.remote_id
    assert open_house.sync_state == "retrying"
    time.sleep(0.3)  # past the settle time: a late arrival can no longer land
    OpenHouse.objects.filter(pk=open_house.pk).update(next_attempt_at=None)
    assert open_houses.push_open_house(open_house.pk) == "adopted"
    open_house.refresh_from_db()
    assert open_house.remote_id and open_house.sync_state == "synced"
    assert sync_env.count("openhouses.create") == 1 and sync_env.count("openhouses.list") == 1
    assert sync_env.count("openhouses.update") == 0
    assert len(remote_open_houses(live_draft)) == 1
    assert SandboxOpenHouse.objects.get().spark_id == open_house.remote_id


@pytest.mark.django_db(transaction=True)
def test_a_refusal_names_the_field_and_waits_for_an_edit(sync_env, live_draft, agent):
    open_house = schedule(live_draft, agent)
    sync_env.control.faults(
        {
            "kind": "error",
            "status": 400,
            "code": 1053,
            "message": "The open house is not valid",
            "routes": ["openhouses.create"],
            "times": 1,
        }
    )
    assert open_houses.push_open_house(open_house.pk) == "failed"
    open_house.refresh_from_db()
    assert open_house.sync_state == "failed"
    assert open_house.error_message.startswith("The MLS refused this open house")
    assert "400" not in open_house.error_message and "1053" not in open_house.error_message
    assert open_houses.push_open_house(open_house.pk) == "failed"  # not sent again
    assert not OpenHouse.objects.due().exists()
    assert sync_env.count("openhouses.create") == 1
    open_house.edit(by=agent, date=in_days(5), start=dt.time(13), end=dt.time(14), comments="")
    assert open_houses.push_open_house(open_house.pk) == "created"
    assert remote_open_houses(live_draft)[0][2] == "14:00"


def test_the_mls_words_for_a_field_are_kept_in_plain_words():
    from spark.errors import FieldError, SparkValidationError

    error = SparkValidationError(
        "The open house is not valid",
        status=400,
        code=1053,
        field_errors=[FieldError("InvalidAttribute", "EndTime", "EndTime must be after StartTime")],
    )
    assert open_houses.refusal_message(error) == (
        "The MLS refused the end time: EndTime must be after StartTime."
    )


@pytest.mark.django_db(transaction=True)
def test_the_sweep_queues_what_is_due(sync_env, live_draft, agent):
    open_house = schedule(live_draft, agent)
    assert [row.pk for row in OpenHouse.objects.due()] == [open_house.pk]
    open_houses.push_open_house(open_house.pk)
    assert not OpenHouse.objects.due().exists()


# --- The live listing page ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_agent_schedules_changes_and_cancels_on_the_live_page(sync_env, client, live_draft, agent):
    client.force_login(agent)
    url = reverse("mls:open_house_create", args=[live_draft.pk])
    form = {"date": in_days(4).isoformat(), "start": "13:00", "end": "15:00", "comments": "Cookies"}
    response = client.post(url, form, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="open_houses"' in body and "Sending to the MLS" in body and "Cookies" in body
    assert 'hx-trigger="every 3s"' in body  # polls until the MLS confirmed it
    open_house = OpenHouse.objects.get(draft=live_draft)
    open_houses.push_open_house(open_house.pk)
    region = client.get(reverse("mls:live_listing", args=[live_draft.pk]), **HTMX).content.decode()
    assert "In the MLS" in region and 'hx-trigger="every 3s"' not in region

    page = client.get(reverse("mls:live_listing", args=[live_draft.pk])).content.decode()
    assert f'id="open-house-{open_house.pk}"' in page and "In the MLS" in page

    edit = reverse("mls:open_house_edit", args=[live_draft.pk, open_house.pk])
    refused = client.post(edit, {**form, "end": "12:00"}, **HTMX)
    assert refused.status_code == 200  # the region, with the refused form in it
    assert "The end time must be after the start time." in refused.content.decode()
    assert client.post(edit, {**form, "end": "12:00"}).status_code == 400  # without htmx: the page
    assert client.post(edit, {**form, "end": "16:00"}).status_code == 302
    open_house.refresh_from_db()
    assert open_house.end == dt.time(16)

    cancel = reverse("mls:open_house_cancel", args=[live_draft.pk, open_house.pk])
    assert client.post(cancel).status_code == 302
    open_house.refresh_from_db()
    assert open_house.cancelled and open_house.sync_state == "cancelling"


@pytest.mark.django_db
def test_the_form_names_the_field_it_refuses(client, agent):
    draft = live(DraftFactory(list_agent=agent))
    client.force_login(agent)
    form = {"date": in_days(-2).isoformat(), "start": "13:00", "end": "15:00"}
    response = client.post(reverse("mls:open_house_create", args=[draft.pk]), form, **HTMX)
    assert "The date is in the past." in response.content.decode()
    assert not OpenHouse.objects.exists()


@pytest.mark.django_db
def test_who_may_change_open_houses(client, agent, office):
    draft = live(DraftFactory(list_agent=agent))
    open_house = OpenHouse.objects.create(draft=draft, date=in_days(3), start=dt.time(13), end=dt.time(15))
    urls = [
        reverse("mls:open_house_create", args=[draft.pk]),
        reverse("mls:open_house_edit", args=[draft.pk, open_house.pk]),
        reverse("mls:open_house_cancel", args=[draft.pk, open_house.pk]),
    ]
    form = {"date": in_days(4).isoformat(), "start": "10:00", "end": "11:00"}
    # Login required; GET rejected.
    for url in urls:
        assert client.post(url, form).status_code == 302
        assert OpenHouse.objects.count() == 1
    client.force_login(agent)
    for url in urls:
        assert client.get(url).status_code == 405
    # Another office: 404; another agent of the office does not see the draft either: 404. The
    # agent who created it for the listing agent sees it but may not change its open houses: 403.
    # The office's admin may.
    for stranger in (AgentFactory(office=OfficeFactory()), AgentFactory(office=office)):
        client.force_login(stranger)
        for url in urls:
            assert client.post(url, form).status_code == 404
    creator = AgentFactory(office=office)
    Draft.objects.filter(pk=draft.pk).update(created_by=creator)
    client.force_login(creator)
    for url in urls:
        assert client.post(url, form).status_code == 403
    open_house.refresh_from_db()
    assert not open_house.cancelled and open_house.change_seq == 1
    client.force_login(OfficeAdminFactory(office=office))
    assert client.post(urls[0], form).status_code == 302
    assert OpenHouse.objects.count() == 2


@pytest.mark.django_db
def test_the_region_reads_the_same_few_rows_however_many_open_houses(
    client, agent, django_assert_num_queries
):
    draft = live(DraftFactory(list_agent=agent))
    client.force_login(agent)
    url = reverse("mls:live_listing", args=[draft.pk])
    for day in (3, 4, 5, 6):
        OpenHouse.objects.create(draft=draft, date=in_days(day), start=dt.time(13), end=dt.time(15))
    with django_assert_num_queries(QUERIES_FOR_THE_REGION):
        body = client.get(url, **HTMX).content.decode()
    assert body.count('class="open-house"') == 4


@pytest.mark.django_db(transaction=True)
def test_the_push_is_queued_after_commit_only(agent):
    from django.db import transaction

    from mls import models as mls_models

    rung: list[int] = []
    mls_models.listen_open_houses(rung.append)
    try:
        draft = live(DraftFactory(list_agent=agent))
        with transaction.atomic():
            open_house = schedule(draft, agent)
            assert rung == []  # nothing is queued before the row is there for a worker to read
        assert rung == [open_house.pk]
        with transaction.atomic():
            open_house.cancel(by=agent)
            transaction.set_rollback(True)
        assert rung == [open_house.pk]  # rolled back: nothing to push, nothing queued
    finally:
        mls_models.stop_listening_open_houses(rung.append)
