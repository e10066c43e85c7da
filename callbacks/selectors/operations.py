"""What an operator watches that the database knows: the due backlog and profiles by health state.

Read at each scrape of `/metrics`, so each is one indexed query: the backlog through the partial index
`delivery_due` (counted up to DUE_COUNT_CAP, whatever the history), the profiles grouped by state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, Q

from callbacks import clock
from callbacks.delivery import sql
from callbacks.models import CallbackProfile, Delivery

DUE_COUNT_CAP = 100_000  # a backlog deeper than this reads as this: the scrape stays cheap
HEALTH_STATES = ("enabled", "failing", "abnormal", "disabled")


@dataclass(frozen=True)
class DueBacklog:
    count: int
    oldest_due_at: datetime | None


def due_backlog(*, now: datetime | None = None) -> DueBacklog:
    """Pending deliveries due now (leased ones are not due until their lease ends), and the earliest due time."""
    now = now or clock.now()
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        # Literal state and one range, as the claim reads it, so both use the partial index `delivery_due`.
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE state = 'pending' AND next_attempt_at <= %s LIMIT %s) due",  # noqa: S608
            [sql.datetime_param(now), DUE_COUNT_CAP],
        )
        count = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT MIN(next_attempt_at) FROM {table} WHERE state = 'pending' AND next_attempt_at <= %s",  # noqa: S608
            [sql.datetime_param(now)],
        )
        oldest = cursor.fetchone()[0]
    return DueBacklog(count=count, oldest_due_at=sql.datetime_value(oldest) if oldest is not None else None)


def profiles_by_health() -> dict[str, int]:
    """Profiles per health state: enabled (answering), failing (enabled, its last attempts failed),
    abnormal (paused by the system), disabled (by a person)."""
    counts = dict.fromkeys(HEALTH_STATES, 0)
    rows = CallbackProfile.objects.values("status").annotate(
        total=Count("id"), failing=Count("id", filter=Q(consecutive_failures__gt=0))
    )
    for row in rows:
        if row["status"] == CallbackProfile.Status.ENABLED:
            counts["failing"] += row["failing"]
            counts["enabled"] += row["total"] - row["failing"]
        else:
            counts[row["status"]] = counts.get(row["status"], 0) + row["total"]
    return counts
