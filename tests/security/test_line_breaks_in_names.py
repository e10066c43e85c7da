"""A name stored with a line break (before they were refused) no longer stops its e-mails."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from alerts.notifiers.email import email_send
from reports.services import report_settings_update, reports_send_due
from tests.factories import AccountFactory, CallbackProfileFactory
from tests.reports.factories import DeliveryStatsFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def test_a_report_for_an_account_named_over_two_lines_is_sent():
    # given an account whose stored name holds a line break, with a daily report due
    account = AccountFactory(name="Acme\r\nBcc: attacker@example.com")
    report_settings_update(
        account=account,
        frequencies=["daily"],
        recipients="ops@example.com",
        now=dt.datetime(2026, 6, 9, 12, tzinfo=UTC),
    )
    profile = CallbackProfileFactory(account=account)
    DeliveryStatsFactory(profile=profile, hour=dt.datetime(2026, 6, 9, 18, tzinfo=UTC), delivered=3, failed=0)
    # when the reports are sent
    sent = reports_send_due(now=dt.datetime(2026, 6, 10, 18, 1, tzinfo=UTC))
    # then each due report went out, on one subject line, to its recipient only
    assert sent and all(report.sent_at is not None for report in sent)
    assert len(mail.outbox) == len(sent)
    for message in mail.outbox:
        assert "\n" not in message.subject and "\r" not in message.subject
        assert message.recipients() == ["ops@example.com"]
        headers = message.message().as_string().split("\n\n", 1)[0]
        assert not any(line.lower().startswith("bcc:") for line in headers.splitlines())


def test_a_notice_subject_with_a_line_break_is_sent_on_one_line():
    # given a subject built from a profile name stored over two lines / when the notice is sent
    sent = email_send(
        to=["ops@example.com"], subject="Callback to “Orders\nBcc: x@example.com” failed", template="alert", context={}
    )
    # then it leaves on one line (Django refuses a header with a line break: BadHeaderError)
    assert sent is True
    assert mail.outbox[-1].subject == "[Callback Center] Callback to “Orders Bcc: x@example.com” failed"
    assert mail.outbox[-1].recipients() == ["ops@example.com"]
