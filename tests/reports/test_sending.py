"""Sending reports: due at 17:00 local, the right period and counts, exactly once, late rather than never."""

from __future__ import annotations

import datetime as dt
import socket
import zoneinfo

import pytest
from django.core import mail

from callbacks import event_types
from reports.models import Report
from reports.periods import period_latest
from reports.services import report_claim, report_settings_update, reports_send_due
from reports.services.sending import CLAIM_LEASE, MAX_CATCH_UP_PERIODS
from tests.factories import AccountFactory, CallbackProfileFactory
from tests.metrics_helpers import metric_value
from tests.reports.factories import DeliveryStatsFactory

UTC = dt.UTC


def at(timezone: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(timezone))


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def subscribed_account(timezone: str, frequencies: list[str], since: dt.datetime, **fields):
    account = AccountFactory(timezone=timezone, **fields)
    report_settings_update(account=account, frequencies=frequencies, recipients="ops@example.com", now=since)
    return account


@pytest.mark.parametrize(
    ("timezone", "day", "expected_start_utc", "expected_end_utc"),
    [
        # Berlin's spring change: 17:00 CET → 17:00 CEST is 23 hours
        ("Europe/Berlin", (2026, 3, 29), (2026, 3, 28, 16), (2026, 3, 29, 15)),
        # Berlin's autumn change: 25 hours
        ("Europe/Berlin", (2026, 10, 25), (2026, 10, 24, 15), (2026, 10, 25, 16)),
        ("America/New_York", (2026, 3, 8), (2026, 3, 7, 22), (2026, 3, 8, 21)),
        ("Asia/Kolkata", (2026, 3, 29), (2026, 3, 28, 11, 30), (2026, 3, 29, 11, 30)),
    ],
)
def test_daily_report_is_sent_at_17_local_for_the_right_period(db, timezone, day, expected_start_utc, expected_end_utc):
    # given an account subscribed to daily reports a week earlier
    account = subscribed_account(timezone, ["daily"], since=at(timezone, *day) - dt.timedelta(days=1, hours=1))

    # when the schedule runs a minute before 17:00 local (after the previous days were sent)
    reports_send_due(now=at(timezone, *day, 16, 58))
    mail.outbox.clear()
    early = reports_send_due(now=at(timezone, *day, 16, 59))

    # then nothing is due; at 17:00 local exactly the day's report goes out
    assert early == []
    assert mail.outbox == []
    sent = reports_send_due(now=at(timezone, *day, 17, 0))
    assert len(sent) == 1
    report = sent[0]
    assert report.account == account
    assert report.period_start == dt.datetime(*expected_start_utc, tzinfo=UTC)
    assert report.period_end == dt.datetime(*expected_end_utc, tzinfo=UTC)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]


@pytest.mark.parametrize(
    ("timezone", "frequency", "due", "not_yet"),
    [
        ("Europe/Berlin", "weekly", (2026, 4, 1, 17, 0), (2026, 4, 1, 16, 55)),
        ("America/New_York", "weekly", (2026, 11, 4, 17, 0), (2026, 11, 4, 16, 55)),
        ("Asia/Kolkata", "monthly", (2026, 6, 25, 17, 0), (2026, 6, 25, 16, 55)),
        ("Europe/Berlin", "monthly", (2026, 10, 25, 17, 0), (2026, 10, 25, 16, 55)),
    ],
)
def test_weekly_on_wednesday_and_monthly_on_the_25th_at_17_local(db, timezone, frequency, due, not_yet):
    # given a subscription started just after the previous send time
    previous_end = period_latest(frequency=frequency, timezone=timezone, now=at(timezone, *not_yet)).end
    subscribed_account(timezone, [frequency], since=previous_end + dt.timedelta(minutes=1))

    # when the schedule runs five minutes before, then at the send time
    before = reports_send_due(now=at(timezone, *not_yet))
    sent = reports_send_due(now=at(timezone, *due))

    # then the report is sent only at 17:00 local, covering from the previous send time
    assert before == []
    assert len(sent) == 1
    assert sent[0].frequency == frequency
    assert sent[0].period_end == at(timezone, *due)
    assert sent[0].period_start == previous_end
    local_end = sent[0].period_end.astimezone(zoneinfo.ZoneInfo(timezone))
    assert local_end.weekday() == 2 if frequency == "weekly" else local_end.day == 25


def test_report_counts_only_the_period_and_the_account(db):
    # given rollups inside the Berlin day 2026-03-28 17:00 CET .. 2026-03-29 17:00 CEST (16:00 .. 15:00 UTC)
    account = subscribed_account("Europe/Berlin", ["daily"], since=dt.datetime(2026, 3, 1, tzinfo=UTC))
    orders = CallbackProfileFactory(account=account, name="Orders")
    billing = CallbackProfileFactory(account=account, name="Billing")
    DeliveryStatsFactory(profile=orders, hour=dt.datetime(2026, 3, 28, 16, tzinfo=UTC), delivered=5, failed=1)
    DeliveryStatsFactory(
        profile=orders,
        event_type=event_types.OTP_SENT,
        hour=dt.datetime(2026, 3, 29, 14, tzinfo=UTC),
        delivered=7,
        failed=2,
        failed_attempts=6,
        failures_by_class={"connect": 4, "response_timeout": 2},
    )
    DeliveryStatsFactory(profile=billing, hour=dt.datetime(2026, 3, 29, 2, tzinfo=UTC), delivered=30, failed=0)
    # and rollups just outside it, and of another account inside it
    DeliveryStatsFactory(profile=orders, hour=dt.datetime(2026, 3, 28, 15, tzinfo=UTC), delivered=1000)
    DeliveryStatsFactory(profile=orders, hour=dt.datetime(2026, 3, 29, 15, tzinfo=UTC), delivered=2000)
    DeliveryStatsFactory(hour=dt.datetime(2026, 3, 29, 2, tzinfo=UTC), delivered=4000)

    # when the daily report is sent at 17:00 CEST
    sent = reports_send_due(now=at("Europe/Berlin", 2026, 3, 29, 17, 0, 30))

    # then it counts the three rollups in the period and nothing else
    report = Report.objects.get(pk=sent[-1].pk)
    assert (report.delivered_count, report.failed_count) == (42, 3)
    assert report.success_rate == pytest.approx(93.33, abs=0.01)
    assert {row["profile_name"]: (row["delivered"], row["failed"]) for row in report.per_profile_counts} == {
        "Billing": (30, 0),
        "Orders": (12, 3),
    }
    assert report.failures_by_class == {"connect": 4, "response_timeout": 2, "http_status": 1}
    assert report.busiest_hour == dt.datetime(2026, 3, 29, 2, tzinfo=UTC)
    assert report.busiest_hour_count == 30
    # the chart has one bar per hour of the 23-hour day
    assert len(report.chart_series) == 23
    assert sum(bucket["delivered"] for bucket in report.chart_series) == 42
    assert sent[-1].sent_at == at("Europe/Berlin", 2026, 3, 29, 17, 0, 30)


def test_each_period_is_sent_once_however_often_the_schedule_runs(db):
    subscribed_account("America/New_York", ["daily", "weekly"], since=at("America/New_York", 2026, 6, 1))
    now = at("America/New_York", 2026, 6, 10, 17, 2)
    sent_before = {
        frequency: metric_value("callbacks_reports_sent_total", frequency=frequency)
        for frequency in ("daily", "weekly")
    }

    first = reports_send_due(now=now)
    second = reports_send_due(now=now + dt.timedelta(minutes=5))
    third = reports_send_due(now=now + dt.timedelta(hours=3))

    # 2026-06-10 is a Wednesday: the daily reports since 1 June and the weekly one of 3 and 10 June
    assert [
        (report.frequency, report.period_end.astimezone(zoneinfo.ZoneInfo("America/New_York")).day) for report in first
    ] == [
        *[("daily", day) for day in range(4, 11)],
        ("weekly", 3),
        ("weekly", 10),
    ]
    assert second == [] and third == []
    assert len(mail.outbox) == len(first) == Report.objects.filter(sent_at__isnull=False).count()
    assert metric_value("callbacks_reports_sent_total", frequency="daily") - sent_before["daily"] == 7
    assert metric_value("callbacks_reports_sent_total", frequency="weekly") - sent_before["weekly"] == 2


def test_a_worker_that_finds_the_period_claimed_sends_nothing(db):
    # given worker A has claimed today's report and is still building it
    account = subscribed_account("Asia/Kolkata", ["daily"], since=at("Asia/Kolkata", 2026, 6, 9, 18))
    now = at("Asia/Kolkata", 2026, 6, 10, 17, 1)
    period = period_latest(frequency="daily", timezone="Asia/Kolkata", now=now)
    claimed = report_claim(account=account, period=period, worker_id="worker-a", now=now)

    # when worker B runs the schedule at the same moment
    sent_by_b = reports_send_due(now=now, worker_id="worker-b")

    # then B sends nothing and cannot claim the row; A holds it
    assert claimed is not None
    assert sent_by_b == []
    assert mail.outbox == []
    assert report_claim(account=account, period=period, worker_id="worker-b", now=now) is None
    assert Report.objects.get().claimed_by == "worker-a"


def test_a_claim_left_by_a_dead_worker_is_sent_after_the_lease(db):
    # given worker A claimed the report and died before sending it
    account = subscribed_account("Europe/Berlin", ["daily"], since=at("Europe/Berlin", 2026, 6, 9, 18))
    now = at("Europe/Berlin", 2026, 6, 10, 17, 1)
    period = period_latest(frequency="daily", timezone="Europe/Berlin", now=now)
    report_claim(account=account, period=period, worker_id="worker-a", now=now)

    # when the schedule runs within the lease, and again after it
    within = reports_send_due(now=now + CLAIM_LEASE - dt.timedelta(seconds=1), worker_id="worker-b")
    after = reports_send_due(now=now + CLAIM_LEASE, worker_id="worker-b")

    # then the period is sent once, late, by the next worker
    assert within == []
    assert len(after) == 1 and after[0].claimed_by == "worker-b"
    assert len(mail.outbox) == 1


def test_a_period_missed_while_the_cluster_was_down_is_sent_late(db):
    # given daily and weekly reports since Monday 2026-06-01 and no schedule run from Tuesday to Thursday
    subscribed_account("Europe/Berlin", ["daily", "weekly"], since=at("Europe/Berlin", 2026, 6, 1, 9))
    reports_send_due(now=at("Europe/Berlin", 2026, 6, 2, 17, 3))
    mail.outbox.clear()

    # when the cluster is back on Thursday morning
    sent = reports_send_due(now=at("Europe/Berlin", 2026, 6, 4, 9, 30))

    # then the daily reports of Wednesday and the weekly report of Wednesday 3 June go out, oldest first
    assert [(report.frequency, report.period_end) for report in sent] == [
        ("daily", at("Europe/Berlin", 2026, 6, 3, 17)),
        ("weekly", at("Europe/Berlin", 2026, 6, 3, 17)),
    ]
    assert all(report.sent_at == at("Europe/Berlin", 2026, 6, 4, 9, 30) for report in sent)
    assert len(mail.outbox) == 2


def test_a_long_outage_sends_a_bounded_backlog(db):
    # given daily reports since January and a cluster that never ran
    subscribed_account("UTC", ["daily", "monthly"], since=dt.datetime(2026, 1, 1, tzinfo=UTC))

    # when it first runs in June
    sent = reports_send_due(now=dt.datetime(2026, 6, 10, 18, tzinfo=UTC))

    # then only the most recent periods are sent, not months of history
    daily = [report for report in sent if report.frequency == "daily"]
    monthly = [report for report in sent if report.frequency == "monthly"]
    assert len(daily) == MAX_CATCH_UP_PERIODS["daily"]
    assert daily[-1].period_end == dt.datetime(2026, 6, 10, 17, tzinfo=UTC)
    assert len(monthly) == MAX_CATCH_UP_PERIODS["monthly"]
    assert monthly[-1].period_end == dt.datetime(2026, 5, 25, 17, tzinfo=UTC)


def test_periods_before_the_subscription_began_are_not_sent(db):
    # given monthly reports turned on the 26th, the day after a send time
    subscribed_account("UTC", ["monthly"], since=dt.datetime(2026, 5, 26, tzinfo=UTC))

    # when the schedule runs until just before the next 25th
    sent = reports_send_due(now=dt.datetime(2026, 6, 25, 16, 59, tzinfo=UTC))

    assert sent == []
    assert reports_send_due(now=dt.datetime(2026, 6, 25, 17, tzinfo=UTC))[0].period_start == dt.datetime(
        2026, 5, 25, 17, tzinfo=UTC
    )


def test_a_mail_server_failure_keeps_the_report_for_the_next_run(db, settings):
    # given an SMTP server that refuses connections
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    subscribed_account("UTC", ["daily"], since=dt.datetime(2026, 6, 9, 18, tzinfo=UTC))
    now = dt.datetime(2026, 6, 10, 17, 1, tzinfo=UTC)

    # when the report is due
    failed = reports_send_due(now=now)

    # then it is stored unsent with the error, and the next run sends it
    report = Report.objects.get()
    assert failed == []
    assert report.sent_at is None and report.send_attempts == 1
    assert "ConnectionRefusedError" in report.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    retried = reports_send_due(now=now + dt.timedelta(minutes=5))
    assert [item.pk for item in retried] == [report.pk]
    assert len(mail.outbox) == 1


def test_turning_reports_off_stops_them(db):
    account = subscribed_account("UTC", ["daily"], since=dt.datetime(2026, 6, 1, tzinfo=UTC))
    report_settings_update(account=account, frequencies=[], recipients="ops@example.com")

    assert reports_send_due(now=dt.datetime(2026, 6, 10, 18, tzinfo=UTC)) == []


def test_one_broken_account_does_not_hold_back_the_others(db):
    # given an account whose stored time zone no longer exists, created before a healthy one
    broken = subscribed_account("UTC", ["daily"], since=dt.datetime(2026, 6, 9, 18, tzinfo=UTC))
    type(broken).objects.filter(pk=broken.pk).update(timezone="Mars/Olympus_Mons")
    healthy = subscribed_account("UTC", ["daily"], since=dt.datetime(2026, 6, 9, 18, tzinfo=UTC))

    # when the schedule runs
    sent = reports_send_due(now=dt.datetime(2026, 6, 10, 17, 1, tzinfo=UTC))

    # then the healthy account still gets its report
    assert [report.account_id for report in sent] == [healthy.pk]
    assert len(mail.outbox) == 1


def test_a_time_zone_change_leaves_no_gap_and_no_overlap(db):
    # given daily reports sent in UTC up to 2026-06-10 17:00 UTC
    account = subscribed_account("UTC", ["daily"], since=dt.datetime(2026, 6, 9, 18, tzinfo=UTC))
    reports_send_due(now=dt.datetime(2026, 6, 10, 17, 1, tzinfo=UTC))

    # when the account moves to Asia/Kolkata (17:00 IST is 11:30 UTC) and the schedule runs the next days
    account.timezone = "Asia/Kolkata"
    account.save()
    first = reports_send_due(now=dt.datetime(2026, 6, 11, 11, 31, tzinfo=UTC))
    second = reports_send_due(now=dt.datetime(2026, 6, 12, 11, 31, tzinfo=UTC))

    # then the first Kolkata report starts where the last UTC one ended, and the next is a whole day
    periods = [(report.period_start, report.period_end) for report in Report.objects.order_by("period_start")]
    assert periods == [
        (dt.datetime(2026, 6, 9, 17, tzinfo=UTC), dt.datetime(2026, 6, 10, 17, tzinfo=UTC)),
        (dt.datetime(2026, 6, 10, 17, tzinfo=UTC), dt.datetime(2026, 6, 11, 11, 30, tzinfo=UTC)),
        (dt.datetime(2026, 6, 11, 11, 30, tzinfo=UTC), dt.datetime(2026, 6, 12, 11, 30, tzinfo=UTC)),
    ]
    assert len(first) == len(second) == 1


def test_a_dead_claim_behind_a_later_sent_report_is_still_sent(db):
    # given two missed days: worker A claimed the older and died, worker B then sent the newer
    account = subscribed_account("Europe/Berlin", ["daily"], since=at("Europe/Berlin", 2026, 6, 8, 18))
    now = at("Europe/Berlin", 2026, 6, 10, 18)
    older = period_latest(frequency="daily", timezone="Europe/Berlin", now=now - dt.timedelta(days=1))
    report_claim(account=account, period=older, worker_id="worker-a", now=now)
    by_b = reports_send_due(now=now, worker_id="worker-b")
    assert [report.period_end for report in by_b] == [at("Europe/Berlin", 2026, 6, 10, 17)]

    # when the schedule runs after A's lease ended
    later = reports_send_due(now=now + CLAIM_LEASE, worker_id="worker-c")

    # then the older day is sent late, not skipped
    assert [report.period_end for report in later] == [older.end]
    assert Report.objects.filter(sent_at__isnull=True).count() == 0
    assert len(mail.outbox) == 2


def test_checking_when_nothing_is_due_costs_three_queries_whatever_the_accounts(db, django_assert_num_queries):
    # given eight accounts whose reports are all sent
    for number in range(8):
        subscribed_account(
            ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York"][number % 4],
            ["daily", "weekly", "monthly"],
            since=dt.datetime(2026, 6, 9, 12, tzinfo=UTC),
        )
    now = dt.datetime(2026, 6, 11, 0, 0, tzinfo=UTC)
    reports_send_due(now=now)

    # when the schedule runs again
    with django_assert_num_queries(3):
        again = reports_send_due(now=now + dt.timedelta(minutes=5))

    # then it sends nothing, with one query for the subscriptions and two for the reports
    assert again == []
