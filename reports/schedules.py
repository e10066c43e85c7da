"""The reports app's django-q2 schedule, registered (created or updated by name) after every migrate."""

from __future__ import annotations

from typing import Any

SEND_DUE_SCHEDULE_NAME = "reports.send_due"
SEND_DUE_TASK = "reports.tasks.reports_send_due_task"
SEND_DUE_EVERY_MINUTES = 5


def schedules_register(*args: Any, **kwargs: Any) -> None:
    """Create or update the reports schedule; running it again changes nothing."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=SEND_DUE_SCHEDULE_NAME,
        defaults={
            "func": SEND_DUE_TASK,
            "schedule_type": Schedule.MINUTES,
            "minutes": SEND_DUE_EVERY_MINUTES,
            "repeats": -1,
        },
    )
