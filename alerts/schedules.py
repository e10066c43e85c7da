"""The alerts app's django-q2 schedules, registered (created or updated by name) after every migrate."""

from __future__ import annotations

from typing import Any

SCHEDULES = (
    # name, task, minutes between runs
    ("alerts.alerts_check", "alerts.tasks.alerts_check_all", 1),
    ("alerts.failure_digests", "alerts.tasks.failure_digests_flush", 1),
    ("alerts.verifications_purge", "alerts.tasks.verifications_purge", 60),
)


def schedules_register(*args: Any, **kwargs: Any) -> None:
    """Create or update the alerts schedules; running it again changes nothing."""
    from django_q.models import Schedule

    for name, func, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1}
        )
