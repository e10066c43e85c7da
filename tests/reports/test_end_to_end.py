"""From events to the report: callbacks delivered to real receivers by the engine, then counted."""

from __future__ import annotations

import csv
import datetime as dt
import io

from django.core import mail

from callbacks import clock, event_types
from callbacks.delivery.engine import dispatch_batch
from callbacks.services.events import event_emit
from reports.models import Report
from reports.periods import DAILY, period_ending_at, send_time_next
from reports.services import report_settings_update, reports_send_due
from tests.factories import CallbackProfileFactory


def test_events_delivered_by_the_engine_are_counted_in_the_report(account, receiver_factory):
    # given an account in Berlin with daily reports, one healthy endpoint and one that refuses
    account.timezone = "Europe/Berlin"
    account.save()
    healthy, refusing = receiver_factory(), receiver_factory()
    refusing.respond_with(status=400)  # a 4xx other than 408/409/423/425/429 is not retried
    orders = CallbackProfileFactory(account=account, name="Orders", url=healthy.url("/hooks"))
    orders.event_types.set([event_types.MESSAGE_STATUS, event_types.OTP_SENT])
    legacy = CallbackProfileFactory(account=account, name="Legacy", url=refusing.url("/hooks"), retry_schedule_s=[])
    legacy.event_types.set([event_types.OTP_SENT])

    # when three status events and two OTP events are emitted and dispatched
    for number in range(3):
        event_emit(account=account, type=event_types.MESSAGE_STATUS, data={"n": number})
    for number in range(2):
        event_emit(account=account, type=event_types.OTP_SENT, data={"n": number})
    while dispatch_batch(worker_id="test"):
        pass
    healthy.wait_for(5)
    refusing.wait_for(2)

    # and daily reports are on since the hour the rollups use, and the schedule runs just after the
    # next 17:00 in Berlin (subscribing a minute earlier would also send the day before's report
    # when the test runs in the first minute after 17:00)
    hour = clock.now().replace(minute=0, second=0, microsecond=0)
    report_settings_update(account=account, frequencies=[DAILY], recipients="ops@example.com", now=hour)
    end = send_time_next(frequency=DAILY, timezone=account.timezone, now=hour)
    period = period_ending_at(frequency=DAILY, timezone=account.timezone, end=end)
    sent = reports_send_due(now=end + dt.timedelta(minutes=1))

    # then the report of that day counts 5 delivered and 2 failed, per profile and event type
    report = Report.objects.get(account=account, frequency=DAILY, period_start=period.start)
    assert sent == [report]
    assert (report.delivered_count, report.failed_count) == (5, 2)
    assert {row["profile_name"]: (row["delivered"], row["failed"]) for row in report.per_profile_counts} == {
        "Legacy": (0, 2),
        "Orders": (5, 0),
    }
    assert report.failures_by_class == {"http_400": 2}
    (message,) = [item for item in mail.outbox if "callback report" in item.subject]
    assert "Delivered:     5" in message.body and "Failed:        2" in message.body
    rows = list(csv.DictReader(io.StringIO(message.attachments[0][1])))
    assert {(row["profile_name"], row["event_type"], row["delivered"], row["failed"]) for row in rows} == {
        ("Orders", event_types.MESSAGE_STATUS, "3", "0"),
        ("Orders", event_types.OTP_SENT, "2", "0"),
        ("Legacy", event_types.OTP_SENT, "0", "2"),
    }
