"""Who hears about each review step: inbox rows with the change, emails after commit."""

import logging
from smtplib import SMTPException

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse

from accounts.models import Notification
from drafts.models import Draft, DraftStatus
from tests.factories import CompanyAdminFactory, DraftFactory, OfficeAdminFactory, OfficeFactory

from .conftest import make_complete
from .test_transitions import in_status

S = DraftStatus


class RefusingMailServer(BaseEmailBackend):
    """The network edge: an SMTP server that refuses every message."""

    def send_messages(self, email_messages):
        raise SMTPException("451 try again later")


def inbox_of(user) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user))


def recipients(outbox) -> list[str]:
    return sorted(address for message in outbox for address in message.to)


@pytest.fixture(autouse=True)
def ready(cast) -> Draft:
    """The cast's draft with nothing missing, so it may be submitted and approved."""
    return make_complete(cast.draft)


def test_submit_tells_the_office_admins(cast, mailoutbox, django_capture_on_commit_callbacks):
    second_admin = OfficeAdminFactory(office=cast.draft.office)

    with django_capture_on_commit_callbacks(execute=True):
        cast.draft.submit(by=cast.agent)

    review_url = reverse("drafts:draft_review", args=[cast.draft.pk])
    for admin in (cast.office_admin, second_admin):
        (notification,) = inbox_of(admin)
        assert notification.url == review_url
        assert str(cast.agent) in notification.text and "submitted" in notification.text
        assert not notification.is_read
    # Not the company admin (the office has admins), not the other office, not the agents.
    for nobody in (cast.company_admin, cast.other_office_admin, cast.agent, cast.co_agent):
        assert inbox_of(nobody) == []
    assert recipients(mailoutbox) == sorted([cast.office_admin.email, second_admin.email])
    assert all(len(message.to) == 1 for message in mailoutbox)  # nobody sees another's address
    message = mailoutbox[0]
    assert message.subject == f"[Listing drafts] {cast.draft}: submitted for review"
    assert "http://" in message.body and review_url in message.body


def test_an_office_without_admins_tells_the_company_admins(
    db, mailoutbox, django_capture_on_commit_callbacks
):
    office = OfficeFactory()
    company_admin = CompanyAdminFactory(office=OfficeFactory(company=office.company))
    CompanyAdminFactory(office=OfficeFactory())  # another company's
    draft = make_complete(DraftFactory(list_agent__office=office))

    with django_capture_on_commit_callbacks(execute=True):
        draft.submit(by=draft.list_agent)

    assert recipients(mailoutbox) == [company_admin.email]


def test_changes_requested_tells_both_agents_with_the_reason(
    cast, mailoutbox, django_capture_on_commit_callbacks
):
    draft = in_status(cast.draft, S.SUBMITTED)

    with django_capture_on_commit_callbacks(execute=True):
        draft.request_changes(by=cast.office_admin, reason="The kitchen photo is sideways.")

    assert recipients(mailoutbox) == sorted([cast.agent.email, cast.co_agent.email])
    assert "The kitchen photo is sideways." in mailoutbox[0].body
    (notification,) = inbox_of(cast.co_agent)
    assert "The kitchen photo is sideways." in notification.text
    assert notification.url == reverse("drafts:draft_edit", args=[draft.pk])
    assert inbox_of(cast.office_admin) == []


def test_approval_tells_the_agents(cast, ready, mailoutbox, django_capture_on_commit_callbacks):
    draft = in_status(ready, S.SUBMITTED)

    with django_capture_on_commit_callbacks(execute=True):
        draft.approve(by=cast.company_admin)

    assert recipients(mailoutbox) == sorted([cast.agent.email, cast.co_agent.email])
    assert mailoutbox[0].subject.endswith(": approved")


def test_live_and_failed_promotions_are_told(cast, ready, mailoutbox, django_capture_on_commit_callbacks):
    draft = in_status(ready, S.PROMOTING)

    with django_capture_on_commit_callbacks(execute=True):
        draft.mark_promotion_failed("The MLS refused the price.")
    failed = recipients(mailoutbox)
    mailoutbox.clear()
    draft.begin_promotion(by=cast.office_admin)
    with django_capture_on_commit_callbacks(execute=True):
        draft.mark_live("20240101000000000000000001")

    # A failure also goes to the reviewers, who are the ones to retry.
    assert failed == sorted([cast.agent.email, cast.co_agent.email, cast.office_admin.email])
    assert recipients(mailoutbox) == sorted([cast.agent.email, cast.co_agent.email])
    assert "20240101000000000000000001" in mailoutbox[0].body
    assert inbox_of(cast.agent)[0].text.endswith("is live (listing 20240101000000000000000001).")


def test_inactive_agents_and_the_actor_are_not_told(cast, mailoutbox, django_capture_on_commit_callbacks):
    cast.co_agent.is_active = False
    cast.co_agent.save()
    draft = in_status(cast.draft, S.SUBMITTED)

    with django_capture_on_commit_callbacks(execute=True):
        draft.request_changes(by=cast.office_admin, reason="Fix the ZIP.")

    assert recipients(mailoutbox) == [cast.agent.email]


def test_a_user_without_an_email_gets_the_inbox_only(cast, mailoutbox, django_capture_on_commit_callbacks):
    type(cast.agent).objects.filter(pk__in=[cast.agent.pk, cast.co_agent.pk]).update(email="")
    draft = in_status(cast.draft, S.SUBMITTED)

    with django_capture_on_commit_callbacks(execute=True):
        draft.request_changes(by=cast.office_admin, reason="Fix the ZIP.")

    assert mailoutbox == []
    assert len(inbox_of(cast.agent)) == 1


def test_emails_leave_only_after_commit(cast, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cast.draft.submit(by=cast.agent)

    assert mailoutbox == []
    assert len(inbox_of(cast.office_admin)) == 1  # written with the change
    for callback in callbacks:
        callback()
    assert len(mailoutbox) == 1


def test_a_refusing_mail_server_does_not_undo_the_transition(
    cast, settings, mailoutbox, caplog, django_capture_on_commit_callbacks
):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.RefusingMailServer"}}

    with (
        caplog.at_level(logging.ERROR, logger="drafts.notifications"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        cast.draft.submit(by=cast.agent)

    assert Draft.objects.get(pk=cast.draft.pk).status == S.SUBMITTED
    assert len(inbox_of(cast.office_admin)) == 1
    assert "Could not email" in caplog.text


def test_the_subject_is_one_line_whatever_the_address_holds(
    cast, mailoutbox, django_capture_on_commit_callbacks
):
    Draft.objects.filter(pk=cast.draft.pk).update(street_name="Elm\r\nBcc: x@example.com")
    cast.draft.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        cast.draft.submit(by=cast.agent)

    (message,) = mailoutbox
    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.bcc == []
