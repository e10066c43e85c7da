"""DeliveryStats rollups: counters per profile × event type × hour, upserted in bulk as attempts are
recorded, and the reads that answer "event statistics" from them (never from the attempts).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Sum

from callbacks.delivery import sql
from callbacks.models import DeliveryStats

StatsKey = tuple[Any, Any, str, datetime]  # account id, profile id, event type, hour


@dataclass(slots=True)
class StatsCounts:
    delivered: int = 0
    failed: int = 0
    attempts: int = 0
    failed_attempts: int = 0
    failures_by_class: Counter = field(default_factory=Counter)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class StatsBuffer:
    """Counts gathered while a batch's outcomes are recorded, written by `flush` in one statement."""

    def __init__(self) -> None:
        self.counts: dict[StatsKey, StatsCounts] = {}

    def add(
        self,
        *,
        account_id: Any,
        profile_id: Any,
        event_type: str,
        at: datetime,
        delivered: bool,
        failed: bool,
        error_class: str,
    ) -> None:
        key = (account_id, profile_id, event_type, hour_of(at))
        counts = self.counts.get(key)
        if counts is None:
            counts = self.counts[key] = StatsCounts()
        counts.attempts += 1
        counts.delivered += delivered
        counts.failed += failed
        if error_class:
            counts.failed_attempts += 1
            counts.failures_by_class[error_class] += 1

    def flush(self) -> None:
        """Add the buffered counts to the rollups (INSERT … ON CONFLICT DO UPDATE on both databases)."""
        if not self.counts:
            return
        table = DeliveryStats._meta.db_table
        if sql.is_postgresql():
            merged = (
                "(SELECT COALESCE(jsonb_object_agg(key, total), '{}'::jsonb) FROM (SELECT key, SUM(value::int) AS total"  # noqa: S608
                f" FROM (SELECT * FROM jsonb_each_text({table}.failures_by_class) UNION ALL"
                " SELECT * FROM jsonb_each_text(EXCLUDED.failures_by_class)) AS pairs GROUP BY key) AS sums)"
            )
            json_placeholder = "%s::jsonb"
        else:
            merged = (
                "(SELECT COALESCE(json_group_object(key, total), '{}') FROM (SELECT key, SUM(value) AS total"  # noqa: S608
                f" FROM (SELECT key, value FROM json_each({table}.failures_by_class) UNION ALL"
                " SELECT key, value FROM json_each(excluded.failures_by_class)) GROUP BY key))"
            )
            json_placeholder = "%s"
        statement = (
            f"INSERT INTO {table} (account_id, profile_id, event_type, hour, delivered, failed, attempts,"  # noqa: S608
            f" failed_attempts, failures_by_class) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, {json_placeholder})"
            " ON CONFLICT (profile_id, event_type, hour) DO UPDATE SET"
            f" delivered = {table}.delivered + excluded.delivered,"
            f" failed = {table}.failed + excluded.failed,"
            f" attempts = {table}.attempts + excluded.attempts,"
            f" failed_attempts = {table}.failed_attempts + excluded.failed_attempts,"
            f" failures_by_class = CASE WHEN excluded.failed_attempts = 0 THEN {table}.failures_by_class"
            f" ELSE {merged} END"
        )
        # A stable order keeps two workers from locking the same rows in opposite orders.
        rows = sorted(self.counts.items(), key=lambda item: (str(item[0][1]), item[0][2], item[0][3]))
        params = [
            (
                sql.uuid_param(account_id),
                sql.uuid_param(profile_id),
                event_type,
                sql.datetime_param(hour),
                counts.delivered,
                counts.failed,
                counts.attempts,
                counts.failed_attempts,
                sql.json_param(dict(counts.failures_by_class)),
            )
            for (account_id, profile_id, event_type, hour), counts in rows
        ]
        with connection.cursor() as cursor:
            cursor.executemany(statement, params)
        self.counts.clear()


def profile_stats(*, profile_id: Any, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Totals and per-event-type counts of one profile from the rollups (hours in [since, until))."""
    rows = DeliveryStats.objects.filter(profile_id=profile_id)
    if since is not None:
        rows = rows.filter(hour__gte=hour_of(since))
    if until is not None:
        rows = rows.filter(hour__lt=until)
    sums = {"delivered": Sum("delivered"), "failed": Sum("failed"), "attempts": Sum("attempts")}
    sums["failed_attempts"] = Sum("failed_attempts")
    totals = {name: value or 0 for name, value in rows.aggregate(**sums).items()}
    by_type = [
        {name: value or 0 if name != "event_type" else value for name, value in row.items()}
        for row in rows.values("event_type").annotate(**sums).order_by("event_type")
    ]
    failures: Counter = Counter()
    for by_class in rows.exclude(failed_attempts=0).values_list("failures_by_class", flat=True):
        failures.update({name: int(count) for name, count in (by_class or {}).items()})
    return {**totals, "by_event_type": by_type, "failures_by_class": dict(failures)}
