"""Several workers running the schedule at the same moment send each report exactly once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection

from reports.models import Report
from reports.services import report_settings_update, reports_send_due
from tests.factories import AccountFactory, CallbackProfileFactory
from tests.reports.factories import DeliveryStatsFactory

UTC = dt.UTC
WORKERS = 4

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(settings.DATABASE_IS_SQLITE, reason="concurrent writers need PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def test_workers_racing_send_each_period_exactly_once():
    # given five accounts with daily and weekly reports and a four-day backlog each
    for number in range(5):
        account = AccountFactory(timezone=["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC", "UTC"][number])
        report_settings_update(
            account=account,
            frequencies=["daily", "weekly"],
            recipients=f"ops{number}@example.com",
            now=dt.datetime(2026, 6, 7, tzinfo=UTC),
        )
        profile = CallbackProfileFactory(account=account)
        DeliveryStatsFactory(profile=profile, hour=dt.datetime(2026, 6, 9, 3, tzinfo=UTC), delivered=number + 1)
    now = dt.datetime(2026, 6, 11, 0, 0, tzinfo=UTC)
    start = threading.Barrier(WORKERS)
    sent_by_worker: dict[str, list[Report]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            start.wait(timeout=10)
            sent_by_worker[name] = reports_send_due(now=now, worker_id=name)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    # when four workers run the schedule at the same instant
    threads = [threading.Thread(target=worker, args=(f"worker-{number}",)) for number in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then every due period was sent once, by exactly one of them, and mailed once
    assert errors == []
    sent = [report for reports in sent_by_worker.values() for report in reports]
    keys = [(report.account_id, report.frequency, report.period_start) for report in sent]
    assert len(keys) == len(set(keys))
    # 4 daily (7, 8, 9, 10 June) + 1 weekly (Wednesday 10 June) per account
    assert len(sent) == 5 * 5
    assert Report.objects.filter(sent_at__isnull=False).count() == 25
    assert len(mail.outbox) == 25
    assert sorted(set(sent_by_worker)) == [f"worker-{number}" for number in range(WORKERS)]
