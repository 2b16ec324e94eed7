"""Who hears about a review step, in the inbox and by email.

Called by the Draft status changes inside their transaction: the inbox rows are written
with the change, the emails leave after commit, one per recipient (nobody sees another's
address). A mail server that refuses is logged and never undoes the change: the inbox
already has the message.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from accounts.models import Notification, Role, User

if TYPE_CHECKING:
    from .models import Draft

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[Listing drafts] "
SUBJECT_MAX = 200


def reviewers_of(draft: Draft) -> list[User]:
    """The office admins of the draft's office; its company admins when the office has none."""
    active = User.objects.filter(is_active=True).order_by("pk")
    admins = list(active.filter(office_id=draft.office_id, role=Role.OFFICE_ADMIN))
    if admins:
        return admins
    return list(active.filter(office__company_id=draft.office.company_id, role=Role.COMPANY_ADMIN))


def agents_of(draft: Draft) -> list[User]:
    agents = [draft.list_agent, draft.co_list_agent]
    return [agent for agent in agents if agent is not None and agent.is_active]


def _title(draft: Draft) -> str:
    return draft.unparsed_first_line_address or f"Draft #{draft.pk}"


def draft_submitted(draft: Draft, *, by: User) -> None:
    _notify(
        [user for user in reviewers_of(draft) if user.pk != by.pk],
        text=f"{by} submitted {_title(draft)} for review.",
        url=reverse("drafts:draft_review", args=[draft.pk]),
        subject=f"{_title(draft)}: submitted for review",
    )


def changes_requested(draft: Draft, *, by: User, reason: str) -> None:
    _notify(
        [user for user in agents_of(draft) if user.pk != by.pk],
        text=f"{by} asked for changes to {_title(draft)}: {reason}",
        url=reverse("drafts:draft_edit", args=[draft.pk]),
        subject=f"{_title(draft)}: changes requested",
        body=f"{by} asked for changes to {_title(draft)}:\n\n{reason}",
    )


def draft_approved(draft: Draft, *, by: User) -> None:
    _notify(
        [user for user in agents_of(draft) if user.pk != by.pk],
        text=f"{by} approved {_title(draft)}.",
        url=reverse("drafts:draft_edit", args=[draft.pk]),
        subject=f"{_title(draft)}: approved",
    )


def draft_live(draft: Draft) -> None:
    _notify(
        agents_of(draft),
        text=f"{_title(draft)} is live (listing {draft.live_listing_id}).",
        url=reverse("drafts:draft_edit", args=[draft.pk]),
        subject=f"{_title(draft)}: live",
    )


def promotion_failed(draft: Draft, *, reason: str) -> None:
    """The agents, and the reviewers, who are the ones to retry."""
    _notify(
        [*agents_of(draft), *reviewers_of(draft)],
        text=f"Publishing {_title(draft)} failed: {reason}",
        url=reverse("drafts:draft_edit", args=[draft.pk]),
        subject=f"{_title(draft)}: publishing failed",
        body=f"Publishing {_title(draft)} failed:\n\n{reason}",
    )


def _notify(recipients: list[User], *, text: str, url: str, subject: str, body: str = "") -> None:
    """Inbox rows now (inside the caller's transaction), emails after commit."""
    notified = Notification.send(recipients, text=text, url=url)
    addresses = [row.recipient.email for row in notified if row.recipient.email]
    if not addresses:
        return
    link = settings.PORTAL_BASE_URL.rstrip("/") + url
    message = f"{body or text}\n\nOpen it in the portal: {link}\n"
    # A subject is one line, whatever the address holds.
    subject = " ".join((SUBJECT_PREFIX + subject).split())[:SUBJECT_MAX]
    transaction.on_commit(lambda: send_emails(subject, message, addresses))


def send_emails(subject: str, message: str, addresses: list[str]) -> int:
    """Send one email to each address; a failure is logged, never raised. How many left."""
    sent = 0
    for address in addresses:
        try:
            sent += send_mail(subject, message, None, [address])
        except Exception:
            logger.exception("Could not email %s about %r; the inbox has it", address, subject)
    return sent
