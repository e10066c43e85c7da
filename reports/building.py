"""Building a report's content from the hourly rollups: totals, per profile, failure classes, busiest
hour, the chart's series and the CSV of per-profile, per-event-type counts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo

from callbacks.models import Account, CallbackProfile
from reports import periods, rollups
from reports.models import Report
from reports.periods import Period

# Chart buckets: hours for a day, quarter days for a week, days for a month (about 24 to 31 bars).
BUCKET_HOURS = {periods.DAILY: 1, periods.WEEKLY: 6, periods.MONTHLY: 24}
CSV_COLUMNS = ("profile_id", "profile_name", "event_type", "delivered", "failed", "attempts", "failed_attempts")
_COUNT_FIELDS = ("delivered", "failed", "attempts", "failed_attempts")
ONE_HOUR = dt.timedelta(hours=1)


def report_build(*, account: Account, period: Period, now: dt.datetime, report: Report | None = None) -> Report:
    """Fill `report` (or a new, unsaved one) with the period's counts. Reads rollups only."""
    if report is None:
        report = Report(
            account=account,
            frequency=period.frequency,
            period_start=period.start,
            period_end=period.end,
            timezone=period.timezone,
        )
    type_counts = rollups.counts_by_profile_and_type(account=account, start=period.start, end=period.end)
    hour_counts = rollups.counts_by_hour(account=account, start=period.start, end=period.end)

    names = {str(pk): name for pk, name in CallbackProfile.objects.filter(account=account).values_list("pk", "name")}
    gone = {row.profile_id for row in type_counts} - set(names)
    if gone:
        # A deleted callback's history still counts in the periods it was used, under its old name.
        deleted = CallbackProfile.all_objects.filter(account=account, pk__in=gone).values_list("pk", "name")
        names.update({str(pk): f"{name} (deleted callback)" for pk, name in deleted})
    per_profile = {
        profile_id: {"profile_id": profile_id, "profile_name": name, **dict.fromkeys(_COUNT_FIELDS, 0)}
        for profile_id, name in names.items()
    }
    event_type_rows = []
    for row in type_counts:
        counts = {field: getattr(row, field) for field in _COUNT_FIELDS}
        name = names.get(row.profile_id, row.profile_id)
        totals = per_profile.setdefault(
            row.profile_id, {"profile_id": row.profile_id, "profile_name": name, **dict.fromkeys(_COUNT_FIELDS, 0)}
        )
        for field, value in counts.items():
            totals[field] += value
        event_type_rows.append(
            {"profile_id": row.profile_id, "profile_name": name, "event_type": row.event_type, **counts}
        )

    report.per_profile_counts = sorted(
        per_profile.values(), key=lambda item: (item["profile_name"].lower(), item["profile_id"])
    )
    report.event_type_counts = sorted(
        event_type_rows, key=lambda item: (item["profile_name"].lower(), item["profile_id"], item["event_type"])
    )
    report.delivered_count = sum(row.delivered for row in type_counts)
    report.failed_count = sum(row.failed for row in type_counts)
    report.attempt_count = sum(row.attempts for row in type_counts)
    report.failed_attempt_count = sum(row.failed_attempts for row in type_counts)
    report.failures_by_class = rollups.failures_by_class(account=account, start=period.start, end=period.end)

    busiest = max(hour_counts, key=lambda item: (item.delivered + item.failed, -item.hour.timestamp()), default=None)
    if busiest is not None and busiest.delivered + busiest.failed > 0:
        report.busiest_hour, report.busiest_hour_count = busiest.hour, busiest.delivered + busiest.failed
    else:
        report.busiest_hour, report.busiest_hour_count = None, 0
    report.chart_series = chart_series(period=period, hour_counts=hour_counts)
    report.built_at = now
    return report


def _bucket_key(period: Period, hour: dt.datetime, tz: zoneinfo.ZoneInfo) -> tuple:
    local = hour.astimezone(tz)
    if period.frequency == periods.DAILY:
        return (hour,)
    if period.frequency == periods.WEEKLY:
        return (local.date(), local.hour // BUCKET_HOURS[periods.WEEKLY])
    return (local.date(),)


def _bucket_label(period: Period, hour: dt.datetime, tz: zoneinfo.ZoneInfo) -> str:
    local = hour.astimezone(tz)
    if period.frequency == periods.DAILY:
        return f"{local:%H:%M}"
    if period.frequency == periods.WEEKLY:
        return f"{local:%a %H:%M}"
    return f"{local:%d %b}"


def chart_series(*, period: Period, hour_counts: list[rollups.HourCounts]) -> list[dict]:
    """Delivered and failed per bucket over the whole period, empty buckets included."""
    tz = zoneinfo.ZoneInfo(period.timezone)
    first_hour = period.start.replace(minute=0, second=0, microsecond=0)
    if first_hour < period.start:
        first_hour += ONE_HOUR
    buckets: dict[tuple, dict] = {}
    hour = first_hour
    while hour < period.end:
        key = _bucket_key(period, hour, tz)
        if key not in buckets:
            buckets[key] = {
                "start": hour.isoformat(),
                "label": _bucket_label(period, hour, tz),
                "delivered": 0,
                "failed": 0,
            }
        hour += ONE_HOUR
    for row in hour_counts:
        bucket = buckets.get(_bucket_key(period, row.hour, tz))
        if bucket is not None:
            bucket["delivered"] += row.delivered
            bucket["failed"] += row.failed
    return list(buckets.values())


def report_csv(*, report: Report) -> str:
    """The per-profile, per-event-type counts as CSV, with a header row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in report.event_type_counts:
        writer.writerow({**row, "profile_name": _csv_safe(row["profile_name"])})
    return buffer.getvalue()


def _csv_safe(value: str) -> str:
    # Spreadsheets run cells starting with these as formulas; a leading quote keeps them text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
