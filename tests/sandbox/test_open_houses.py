"""The sandbox's open houses as its page shows them (the service itself: tests/spark/
test_contract_open_houses.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from sandbox.models import Listing, OpenHouse
from tests.sandbox.test_access import control_on, staff_client  # noqa: F401 (fixtures)


@pytest.mark.django_db
def test_the_page_shows_a_listing_s_open_houses(staff_client):  # noqa: F811
    now = timezone.now()
    listing = Listing.objects.create(
        spark_id="20260101000000000000000009", is_incomplete=False, created_at=now, modified_at=now
    )
    OpenHouse.objects.create(
        listing=listing,
        spark_id="20260101000000000000000010",
        date=dt.date(2030, 5, 4),
        start=dt.time(13),
        end=dt.time(15, 30),
        comments="Cookies",
        modified_at=now,
    )
    page = staff_client.get("/sandbox/").content.decode()
    assert "Open houses (1)" in page
    assert "05/04/2030 01:00 PM to 03:30 PM · Cookies" in page
