"""The django-q2 schedule that checks for due reports, registered after migrate, and its task."""

from __future__ import annotations

import datetime as dt

from django.core import mail
from django.utils import timezone
from django_q.models import Schedule

from reports.schedules import SEND_DUE_SCHEDULE_NAME, schedules_register
from reports.services import report_settings_update
from reports.tasks import reports_send_due_task


def test_the_schedule_exists_after_migrate_and_registering_again_changes_nothing(db):
    # given the database as migrate left it
    schedule = Schedule.objects.get(name=SEND_DUE_SCHEDULE_NAME)

    # when the post-migrate handler runs again
    schedules_register()

    # then there is still one schedule, every five minutes, forever, calling the task
    assert Schedule.objects.filter(name=SEND_DUE_SCHEDULE_NAME).count() == 1
    again = Schedule.objects.get(name=SEND_DUE_SCHEDULE_NAME)
    assert (again.func, again.schedule_type, again.minutes, again.repeats) == (
        "reports.tasks.reports_send_due_task",
        Schedule.MINUTES,
        5,
        -1,
    )
    assert again.next_run == schedule.next_run


def test_the_task_sends_what_is_due_now(account):
    # given daily reports turned on three days ago
    report_settings_update(
        account=account, frequencies=["daily"], recipients="ops@example.com", now=timezone.now() - dt.timedelta(days=3)
    )

    # when the scheduled task runs, twice
    first = reports_send_due_task()
    second = reports_send_due_task()

    # then the three daily periods that ended since are sent, once
    assert first == 3
    assert second == 0
    assert len(mail.outbox) == first
