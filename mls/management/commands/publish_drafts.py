"""Publish approved drafts to the MLS, as a reviewer's "Publish" button does:
`manage.py publish_drafts --by fran.admin 12 14`.

Each draft goes to "publishing" and its job is queued; a worker makes the live listing (at once
when one runs, else when one starts: beat's sweep queues every due job).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from drafts.models import Draft, TransitionNotAllowed
from mls import publishing


class Command(BaseCommand):
    help = "Publish approved drafts to the MLS, as the reviewer named by --by."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("draft_ids", nargs="+", type=int)
        parser.add_argument("--by", required=True, help="The reviewer's username.")

    def handle(self, *args: Any, draft_ids: list[int], by: str, **options: Any) -> None:
        reviewer = User.objects.filter(username=by).first()
        if reviewer is None:
            raise CommandError(f"No user named {by!r}.")
        for draft in Draft.objects.filter(pk__in=draft_ids).order_by("pk"):
            try:
                publishing.start(draft, by=reviewer)
            except TransitionNotAllowed as refusal:
                self.stdout.write(f"Draft #{draft.pk} ({draft}): not published. {refusal}")
                continue
            self.stdout.write(f"Draft #{draft.pk} ({draft}): publishing; a worker makes it live.")
