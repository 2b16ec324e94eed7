"""SQLite's planner statistics (drafts/tasks.py): without them it guesses its way past the
coordinates index for an agent's nearby drafts; the hourly task gives it the real figures."""

from __future__ import annotations

import pytest
from django.db import connection

from drafts.models import Draft
from drafts.tasks import refresh_planner_statistics, refresh_planner_statistics_task
from tests.factories import DraftFactory

pytestmark = pytest.mark.django_db


def _nearby_plan(draft: Draft, user) -> str:
    candidates = (
        Draft.objects.visible_to(user)
        .active()
        .filter(office__company_id=draft.office.company_id)
        .exclude(pk=draft.pk)
        .within_box(draft.latitude, draft.longitude, 0.5)
    )
    return candidates.explain()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's statistics; PostgreSQL keeps its own")
def test_the_nearby_drafts_read_the_coordinates_index_once_the_statistics_are_there(agent):
    # An agent with many drafts spread over a city: the box around one holds a handful.
    template = DraftFactory.build(list_agent=agent)
    Draft.objects.bulk_create(
        [
            Draft(
                office=agent.office,
                list_agent=agent,
                created_by=agent,
                updated_by=agent,
                property_type=template.property_type,
                city="Fargo",
                latitude=46.80 + (n % 50) * 0.004,
                longitude=-96.85 + (n // 50) * 0.004,
            )
            for n in range(2000)
        ]
    )
    draft = Draft.objects.filter(list_agent=agent).order_by("pk")[1000]

    assert refresh_planner_statistics() is True

    with connection.cursor() as cursor:
        cursor.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = %s", [Draft._meta.db_table])
        analyzed = {row[0] for row in cursor.fetchall()}
    assert "draft_coordinates" in analyzed
    assert "draft_coordinates" in _nearby_plan(draft, agent)


def test_the_task_is_a_no_op_where_the_database_keeps_its_own(agent):
    DraftFactory(list_agent=agent)
    assert refresh_planner_statistics_task() is (connection.vendor == "sqlite")
