"""Aggregates over the hourly `DeliveryStats` rollups of one account and period (never over attempts).

An hourly bucket counts in the period that contains the start of its hour, so every bucket falls in
exactly one period even where 17:00 local is not on a UTC hour (Asia/Kolkata: 11:30 UTC).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet, Sum

from callbacks.models import Account, DeliveryStats


@dataclass(frozen=True)
class ProfileTypeCounts:
    profile_id: str
    event_type: str
    delivered: int
    failed: int
    attempts: int
    failed_attempts: int


@dataclass(frozen=True)
class HourCounts:
    hour: dt.datetime
    delivered: int
    failed: int


def stats_in_period(*, account: Account, start: dt.datetime, end: dt.datetime) -> QuerySet[DeliveryStats]:
    # Uses the (account, hour) index: the cost follows the period's rows, not the history.
    return DeliveryStats.objects.filter(account=account, hour__gte=start, hour__lt=end)


def counts_by_profile_and_type(*, account: Account, start: dt.datetime, end: dt.datetime) -> list[ProfileTypeCounts]:
    rows = (
        stats_in_period(account=account, start=start, end=end)
        .order_by()
        .values_list("profile_id", "event_type")
        .annotate(
            delivered_sum=Sum("delivered"),
            failed_sum=Sum("failed"),
            attempts_sum=Sum("attempts"),
            failed_attempts_sum=Sum("failed_attempts"),
        )
    )
    return [
        ProfileTypeCounts(str(profile_id), event_type, delivered or 0, failed or 0, attempts or 0, failed_attempts or 0)
        for profile_id, event_type, delivered, failed, attempts, failed_attempts in rows
    ]


def counts_by_hour(*, account: Account, start: dt.datetime, end: dt.datetime) -> list[HourCounts]:
    rows = (
        stats_in_period(account=account, start=start, end=end)
        .order_by()
        .values_list("hour")
        .annotate(delivered_sum=Sum("delivered"), failed_sum=Sum("failed"))
        .order_by("hour")
    )
    return [HourCounts(hour, delivered or 0, failed or 0) for hour, delivered, failed in rows]


def failures_by_class(*, account: Account, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Failed attempts per error class, summed inside the database where it can expand JSON."""
    rows = stats_in_period(account=account, start=start, end=end).filter(failed_attempts__gt=0).order_by()
    # The inner SQL is Django's own, with its values passed as parameters.
    inner_sql, params = rows.values("failures_by_class").query.sql_with_params()
    if connection.vendor == "sqlite":
        sql = (
            "SELECT classes.key, SUM(classes.value) FROM (" + inner_sql + ") AS stats, "  # noqa: S608
            "json_each(stats.failures_by_class) AS classes GROUP BY classes.key"
        )
    elif connection.vendor == "postgresql":
        sql = (
            "SELECT classes.key, SUM(classes.value::bigint) FROM (" + inner_sql + ") AS stats, "  # noqa: S608
            "jsonb_each_text(stats.failures_by_class) AS classes GROUP BY classes.key"
        )
    else:
        totals: Counter[str] = Counter()
        for by_class in rows.values_list("failures_by_class", flat=True):
            totals.update({str(key): int(value) for key, value in (by_class or {}).items()})
        return dict(totals.most_common())
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        result = cursor.fetchall()
    totals = Counter({str(key): int(value) for key, value in result if value})
    return dict(totals.most_common())
