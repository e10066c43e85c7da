"""A failure notice through a real SMTP server on 127.0.0.1, read back as the recipient gets it."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from callbacks import event_types, signals
from callbacks.models import Attempt, Delivery, Event
from tests.factories import CallbackProfileFactory

pytestmark = pytest.mark.django_db


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    mailbox = Mailbox()
    with socket.socket() as probe:  # aiosmtpd's readiness check needs a real port number
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield mailbox
    controller.stop()


def test_failure_notice_arrives_through_smtp(account, smtp_server, tasks_inline, django_capture_on_commit_callbacks):
    # given a profile whose endpoint answers 503
    profile = CallbackProfileFactory(account=account, name="Billing", failure_notice_emails=["oncall@acme.test"])
    event = Event.objects.create(
        account=account, type=event_types.MESSAGE_STATUS, payload={"phone": "+14155550123", "channel": "sms"}
    )
    delivery = Delivery.objects.create(account=account, event=event, profile=profile, event_type=event.type)
    attempt = Attempt.objects.create(
        delivery=delivery, number=1, request_method="POST", request_url=profile.url, response_status=503,
        response_body="Service Unavailable", outcome="retry",
    )  # fmt: skip
    # when the engine announces the failure
    with django_capture_on_commit_callbacks(execute=True):
        signals.delivery_failed.send(sender=Delivery, delivery=delivery, attempt=attempt, failure_class="http_status")
    # then the SMTP server received one multipart message for the notice address
    assert len(smtp_server.messages) == 1
    mail_from, recipients, raw = smtp_server.messages[0]
    assert recipients == ["oncall@acme.test"]
    assert "callbacks@localhost" in mail_from
    message = email.message_from_bytes(raw, policy=policy.default)
    assert str(message["Subject"]).strip() == "[Callback Center] Callback to “Billing” failed: HTTP 503"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for part in (text, html):
        assert str(delivery.pk) in part
        assert "HTTP 503" in part
        assert "Service Unavailable" in part
        assert "+14155550123" in part
    assert html.lstrip().startswith("<!doctype html>")


def test_an_unreachable_mail_server_is_recorded_with_the_alert(account, fake_telegram, settings, tasks_inline):
    from alerts.models import Alert
    from alerts.selectors import alert_recipients_get
    from alerts.services.notice_sending import alert_notice_send
    from alerts.services.settings import alert_settings_update

    # given receivers by e-mail and Telegram, and a mail server nobody listens on
    alert_settings_update(account=account, emails="ops@acme.test")
    recipients = alert_recipients_get(account=account)
    recipients.telegram_chat_id = 31337
    recipients.save()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    alert = Alert.objects.create(account=account, kind="balance_low", value=3, threshold=50, message="Balance low")
    # when its notice is sent
    sent = alert_notice_send(alert=alert, notice="fired")
    # then Telegram got it and the e-mail failure is kept with the alert
    assert [m.chat_id for m in fake_telegram.messages] == [31337]
    alert.refresh_from_db()
    by_channel = {entry["channel"]: entry for entry in alert.sent_to}
    assert by_channel["telegram"]["ok"] is True
    assert by_channel["email"]["ok"] is False
    assert "ConnectionRefusedError" in by_channel["email"]["error"]
    assert sent == alert.sent_to
