"""Each alert fires once on crossing, stays quiet while crossed, reminds after the quiet period and resolves."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from alerts.models import Alert, Verification
from alerts.services.checks import (
    alerts_check,
    balance_alert_check,
    verification_rate_alert_check,
    verification_timeout_alert_check,
)
from alerts.services.settings import alert_settings_update
from alerts.services.verifications import (
    verification_mark_verified,
    verification_record_sent,
)
from callbacks import clock, event_types
from callbacks.models import Delivery, Event, EventType
from callbacks.services.accounts import account_balance_set
from tests.factories import CallbackProfileFactory
from tests.metrics_helpers import metric_value

pytestmark = pytest.mark.django_db


@pytest.fixture
def receivers(account, fake_telegram, tasks_inline):
    """The account's alerts go to two addresses and a bound Telegram chat (through the fake Bot API)."""
    from alerts.selectors import alert_recipients_get

    alert_settings_update(account=account, emails="ops@acme.test, cto@acme.test")
    recipients = alert_recipients_get(account=account)
    recipients.telegram_chat_id, recipients.telegram_chat_label = 4242, "@ada"
    recipients.save()
    return fake_telegram


def _events(account, type_: str) -> list[Event]:
    return list(Event.objects.filter(account=account, type=type_).order_by("created_at"))


def _balance(account, usd: str, run) -> None:
    with run(execute=True):
        account_balance_set(account=account, balance_usd=usd)


def test_balance_alert_fires_once_resolves_and_fires_again(
    account, receivers, receiver, django_capture_on_commit_callbacks
):
    # given a balance alert at $50 and a profile subscribed to the business alerts
    profile = CallbackProfileFactory(account=account, url=receiver.url())
    profile.event_types.add(EventType.objects.get(code=event_types.ALERT_BALANCE_LOW))
    with django_capture_on_commit_callbacks(execute=True):
        account_balance_set(account=account, balance_usd="120.00")
        alert_settings_update(account=account, balance_enabled=True, balance_threshold_usd=50)
    assert Alert.objects.count() == 0
    sent_before = {
        channel: metric_value("callbacks_alerts_sent_total", channel=channel) for channel in ("telegram", "email")
    }

    # when the balance falls below the threshold, then falls further
    _balance(account, "42.50", django_capture_on_commit_callbacks)
    _balance(account, "30.00", django_capture_on_commit_callbacks)

    # then one alert fired, was sent once to Telegram and the e-mails, and emitted as events
    alert = Alert.objects.get()
    assert (alert.kind, alert.state, alert.value, alert.threshold) == ("balance_low", "firing", Decimal("30.00"), 50)
    assert [m.text for m in receivers.messages] == [
        f"Alert: Insufficient balance ({account.name})\n"
        "Balance $42.50 is below the $50 threshold: top up to keep sending."
    ]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@acme.test", "cto@acme.test"]
    assert "Insufficient balance" in mail.outbox[0].subject
    assert [e.payload for e in _events(account, event_types.ALERT_BALANCE_LOW)] == [
        {"balance_usd": "42.50", "threshold_usd": 50, "state": "firing", "reminder": False}
    ]
    assert [e.payload for e in _events(account, event_types.ACCOUNT_MIN_BALANCE)] == [
        {"balance_usd": "42.50", "threshold_usd": 50}
    ]
    assert Delivery.objects.filter(profile=profile, event_type=event_types.ALERT_BALANCE_LOW).count() == 1
    assert {entry["channel"] for entry in Alert.objects.get().sent_to} == {"telegram", "email"}
    # and the metrics count one notice on each channel
    for channel in ("telegram", "email"):
        assert metric_value("callbacks_alerts_sent_total", channel=channel) - sent_before[channel] == 1

    # when it is topped up, then the alert resolves (and says so)
    _balance(account, "75.00", django_capture_on_commit_callbacks)
    alert.refresh_from_db()
    assert alert.state == "resolved"
    assert receivers.messages[-1].text.startswith("Resolved: Insufficient balance")
    assert _events(account, event_types.ALERT_BALANCE_LOW)[-1].payload["state"] == "resolved"
    assert len(mail.outbox) == 2

    # when it falls again, then a new alert fires
    _balance(account, "10.00", django_capture_on_commit_callbacks)
    assert Alert.objects.filter(resolved_at__isnull=True).count() == 1
    assert Alert.objects.count() == 2


def test_raising_the_threshold_above_the_balance_fires_at_once(account, receivers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        account_balance_set(account=account, balance_usd="80.00")
        alert_settings_update(account=account, balance_enabled=True, balance_threshold_usd=100)
    assert Alert.objects.get().message == "Balance $80.00 is below the $100 threshold: top up to keep sending."


def test_a_firing_alert_reminds_after_the_quiet_period_only(account, receivers, django_capture_on_commit_callbacks):
    # given a firing balance alert with a 24-hour quiet period
    with django_capture_on_commit_callbacks(execute=True):
        account_balance_set(account=account, balance_usd="10.00")
        alert_settings_update(account=account, balance_enabled=True, balance_threshold_usd=50)
    start = Alert.objects.get().fired_at
    with django_capture_on_commit_callbacks(execute=True):
        # when the checks run through the next day
        notices = [
            balance_alert_check(account=account, now=start + timedelta(hours=hours)) for hours in (1, 12, 23.9, 24, 25)
        ]
    # then the only notice is the reminder at 24 hours
    assert notices == [None, None, None, "reminder", None]
    alert = Alert.objects.get()
    assert alert.reminders_sent == 1
    assert receivers.messages[-1].text.startswith("Still firing: Insufficient balance")
    assert len(receivers.messages) == 2
    assert len(mail.outbox) == 2
    assert mail.outbox[1].subject.startswith("[Callback Center] Reminder: Insufficient balance")


def _sent(account, count: int, at, *, verified: int = 0, prefix: str = "otp") -> None:
    for number in range(count):
        data = {"message_id": f"{prefix}-{number}", "phone": f"+1415555{number:04d}"}
        verification_record_sent(account=account, data=data, at=at)
        if number < verified:
            verification_mark_verified(account=account, data=data, at=at + timedelta(seconds=30))


def test_low_verification_rate_needs_the_minimum_sample_then_fires_once_and_resolves(
    account, receivers, django_capture_on_commit_callbacks
):
    now = clock.now()
    with django_capture_on_commit_callbacks(execute=True):
        alert_settings_update(
            account=account, rate_enabled=True, rate_min_percent=70, rate_window_minutes=60, rate_min_sample=20
        )
    sent_at = now - timedelta(minutes=30)
    # given 19 OTPs sent, none verified: below the minimum sample, nothing fires
    _sent(account, 19, sent_at)
    with django_capture_on_commit_callbacks(execute=True):
        assert verification_rate_alert_check(account=account, now=now) is None
    # when the 20th OTP makes the sample (20 sent, 1 verified = 5%), then it fires
    _sent(account, 1, sent_at, verified=1, prefix="late")
    with django_capture_on_commit_callbacks(execute=True):
        assert verification_rate_alert_check(account=account, now=now) == "fired"
        assert verification_rate_alert_check(account=account, now=now + timedelta(minutes=1)) is None
    alert = Alert.objects.get(kind=Alert.Kind.VERIFICATION_RATE_LOW)
    assert alert.value == Decimal("5.00")
    assert alert.message == "Verification rate 5.0% (1 of 20 OTPs) over the last 60 minutes is below the 70% minimum."
    assert [e.payload for e in _events(account, event_types.ALERT_VERIFICATION_RATE_LOW)] == [
        {
            "rate_percent": 5.0,
            "threshold_percent": 70,
            "window_minutes": 60,
            "sent": 20,
            "verified": 1,
            "state": "firing",
            "reminder": False,
        }
    ]
    # when most of them get verified (19 of 20 = 95%), then it resolves
    for number in range(18):
        verification_mark_verified(account=account, data={"message_id": f"otp-{number}"}, at=now)
    with django_capture_on_commit_callbacks(execute=True):
        assert verification_rate_alert_check(account=account, now=now + timedelta(minutes=2)) == "resolved"
    assert receivers.messages[-1].text.startswith("Resolved: Low verification rate")


def test_the_rate_window_ignores_otps_still_within_their_timeout_and_old_ones(account, tasks_inline):
    now = clock.now()
    alert_settings_update(account=account, rate_enabled=True, rate_min_sample=5, timeout_minutes=5)
    _sent(account, 10, now - timedelta(minutes=2), prefix="fresh")  # still within the 5 minutes
    _sent(account, 10, now - timedelta(minutes=70), prefix="old")  # before the 60-minute window
    assert verification_rate_alert_check(account=account, now=now) is None
    assert Alert.objects.count() == 0


def test_each_otp_times_out_once_and_a_digest_alert_counts_them(
    account, receivers, receiver, django_capture_on_commit_callbacks
):
    # given a 5-minute verification timeout and a profile subscribed to timeouts
    profile = CallbackProfileFactory(account=account, url=receiver.url())
    profile.event_types.add(EventType.objects.get(code=event_types.OTP_VERIFICATION_TIMEOUT))
    alert_settings_update(account=account, timeout_enabled=True, timeout_minutes=5)
    sent_at = clock.now()
    _sent(account, 12, sent_at, verified=0)
    _sent(account, 3, sent_at, verified=3, prefix="ok")

    with django_capture_on_commit_callbacks(execute=True):
        # when the check runs after 4 minutes: nothing is overdue yet
        alerts_check(account=account, now=sent_at + timedelta(minutes=4))
        assert _events(account, event_types.OTP_VERIFICATION_TIMEOUT) == []
        # when it runs at 5 and 6 minutes
        alerts_check(account=account, now=sent_at + timedelta(minutes=5))
        alerts_check(account=account, now=sent_at + timedelta(minutes=6))

    # then each unverified OTP emitted its timeout event exactly once, to the subscribed profile too
    timeouts = _events(account, event_types.OTP_VERIFICATION_TIMEOUT)
    assert sorted(e.payload["message_id"] for e in timeouts) == sorted(f"otp-{n}" for n in range(12))
    assert timeouts[0].payload["timeout_minutes"] == 5
    assert Delivery.objects.filter(profile=profile).count() == 12
    assert Verification.objects.filter(timed_out_at__isnull=False).count() == 12
    # and one digest alert says how many
    alert = Alert.objects.get(kind=Alert.Kind.VERIFICATION_TIMEOUT)
    assert alert.message == "12 verifications timed out in the last hour (not verified within 5 minutes)."
    assert [m.text.splitlines()[1] for m in receivers.messages] == [alert.message]
    # and its e-mail gives the count as a count and the timeout in minutes, never "Value: 12.00"
    (email,) = [m for m in mail.outbox if "Verifications timed out" in m.subject]
    html = email.alternatives[0][0]
    for body in (email.body, html):
        assert "12 verifications" in body and "not verified within 5 minutes" in body
        assert "12.00" not in body and "5.00" not in body

    # when an hour passes without new timeouts, then the digest alert resolves
    with django_capture_on_commit_callbacks(execute=True):
        assert verification_timeout_alert_check(account=account, now=sent_at + timedelta(minutes=66)) == "resolved"


def test_otp_events_record_verifications_through_the_signal(account, tasks_inline, django_capture_on_commit_callbacks):
    from callbacks.services.events import event_emit

    with django_capture_on_commit_callbacks(execute=True):
        event_emit(account=account, type=event_types.OTP_SENT, data={"message_id": "m-1", "phone": "+14155550123"})
        event_emit(account=account, type=event_types.OTP_SENT, data={"message_id": "m-2", "phone": "+14155550124"})
        event_emit(account=account, type=event_types.OTP_VERIFIED, data={"message_id": "m-1"})
    rows = {v.message_id: v for v in Verification.objects.filter(account=account)}
    assert set(rows) == {"m-1", "m-2"}
    assert rows["m-1"].verified_at is not None
    assert rows["m-2"].verified_at is None
    assert rows["m-2"].phone == "+14155550124"


def test_account_balance_events_set_the_balance_and_judge_the_alert(
    account, receivers, django_capture_on_commit_callbacks
):
    from callbacks.services.events import event_emit

    alert_settings_update(account=account, balance_enabled=True, balance_threshold_usd=50)
    with django_capture_on_commit_callbacks(execute=True):
        event_emit(account=account, type=event_types.ACCOUNT_BALANCE, data={"balance_usd": "12.34"})
    account.refresh_from_db()
    assert account.balance_usd == Decimal("12.34")
    assert Alert.objects.get().kind == Alert.Kind.BALANCE_LOW


def test_turning_an_alert_off_closes_it_without_a_resolved_notice(
    account, receivers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alert_settings_update(account=account, balance_enabled=True, balance_threshold_usd=50)
        account_balance_set(account=account, balance_usd="10.00")
        alert_settings_update(account=account, balance_enabled=False)
    assert Alert.objects.get().resolved_at is not None
    assert len(receivers.messages) == 1


def test_alerts_are_stored_per_account_and_checked_for_each(account, other_account, tasks_inline):
    alert_settings_update(account=account, balance_enabled=True, balance_threshold_usd=50)
    account_balance_set(account=other_account, balance_usd="20.00")
    alert_settings_update(account=other_account, balance_enabled=True, balance_threshold_usd=5)
    from alerts.services.checks import alerts_check_all

    assert alerts_check_all(now=timezone.now()) == 2
    assert list(Alert.objects.values_list("account_id", flat=True)) == [account.pk]


def test_a_malformed_balance_event_is_ignored_without_failing_its_sender(
    account, tasks_inline, django_capture_on_commit_callbacks
):
    from callbacks.services.events import event_emit

    account_balance_set(account=account, balance_usd="75.00")
    with django_capture_on_commit_callbacks(execute=True):
        event_emit(account=account, type=event_types.ACCOUNT_BALANCE, data={"balance_usd": "lots"})
    account.refresh_from_db()
    assert account.balance_usd == Decimal("75.00")


def test_old_verifications_are_purged_in_batches(account):
    from alerts.services.verifications import verifications_purge

    now = clock.now()
    _sent(account, 7, now - timedelta(days=9), prefix="old")
    _sent(account, 2, now - timedelta(days=6), prefix="recent")
    assert verifications_purge(now=now, batch_size=3) == 7
    assert sorted(Verification.objects.values_list("message_id", flat=True)) == ["recent-0", "recent-1"]
