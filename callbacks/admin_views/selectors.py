"""Reads the screens need that no other module offers: event statistics from the hourly rollups."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from callbacks.models import Delivery, DeliveryStats

DAY = timedelta(hours=24)
MONTH = timedelta(days=30)


def profile_event_counts(*, profile_ids: Iterable, now: datetime | None = None) -> dict:
    """{profile_id: {"day"|"month": {"delivered", "failed", "retrying", "types": {code: (delivered, failed,
    retrying)}}}} over the last 24 hours and 30 days: delivered and failed from the hourly rollups,
    retrying from the deliveries still waiting after a failed attempt (the backlog, not the history)."""
    now = now or timezone.now()
    profile_ids = list(profile_ids)
    day_start = now - DAY
    rows = (
        DeliveryStats.objects.filter(profile_id__in=profile_ids, hour__gte=now - MONTH)
        .values("profile_id", "event_type")
        .annotate(
            month_delivered=Sum("delivered"),
            month_failed=Sum("failed"),
            day_delivered=Sum("delivered", filter=Q(hour__gte=day_start)),
            day_failed=Sum("failed", filter=Q(hour__gte=day_start)),
        )
    )
    retrying = _retrying(profile_ids, now).values("profile_id", "event_type").annotate(**_retrying_counts(now))
    counts: dict = {}
    for row in [*rows, *retrying]:
        profile = counts.setdefault(row["profile_id"], {period: _empty() for period in ("day", "month")})
        for period in ("day", "month"):
            numbers = [row.get(f"{period}_{kind}") or 0 for kind in KINDS]
            if not any(numbers):
                continue
            kept = profile[period]["types"].setdefault(row["event_type"], [0, 0, 0])
            for index, kind in enumerate(KINDS):
                profile[period][kind] += numbers[index]
                kept[index] += numbers[index]
    for profile in counts.values():
        for period in ("day", "month"):
            profile[period]["types"] = {code: tuple(values) for code, values in profile[period]["types"].items()}
    return counts


KINDS = ("delivered", "failed", "retrying")


def _retrying(profile_ids: Iterable, now: datetime):
    """Deliveries of the last 30 days still waiting after a failed attempt (read through the profile and
    state index: the size of the backlog, not of the history)."""
    return Delivery.objects.filter(
        profile_id__in=profile_ids,
        state__in=(Delivery.State.PENDING, Delivery.State.HELD),
        attempt_count__gt=0,
        created_at__gte=now - MONTH,
    )


def _retrying_counts(now: datetime) -> dict:
    return {"month_retrying": Count("pk"), "day_retrying": Count("pk", filter=Q(created_at__gte=now - DAY))}


def account_retrying(*, profile_ids: Iterable, now: datetime | None = None) -> dict[str, int]:
    """{"day": n, "month": n}: deliveries created in the last 24 hours / 30 days that are being retried."""
    counted = _retrying(profile_ids, now or timezone.now()).aggregate(**_retrying_counts(now or timezone.now()))
    return {period: counted[f"{period}_retrying"] or 0 for period in ("day", "month")}


def _empty() -> dict:
    return {"delivered": 0, "failed": 0, "retrying": 0, "types": {}}


def account_delivery_series(*, account=None, now: datetime | None = None) -> dict:
    """Delivered / failed per hour over 24 hours and per day over 30 days (all accounts if None)."""
    now = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    stats = DeliveryStats.objects.filter(hour__gt=now - MONTH)
    if account is not None:
        stats = stats.filter(account=account)
    by_hour: dict[datetime, tuple[int, int]] = {}
    for row in stats.values("hour").annotate(delivered=Sum("delivered"), failed=Sum("failed")):
        by_hour[row["hour"]] = (row["delivered"] or 0, row["failed"] or 0)
    hours = [now - timedelta(hours=offset) for offset in range(23, -1, -1)]
    day_series = [(hour, *by_hour.get(hour, (0, 0))) for hour in hours]
    days: dict = {}
    local_now = timezone.localtime(now)
    for offset in range(29, -1, -1):
        days[(local_now - timedelta(days=offset)).date()] = [0, 0]
    for hour, (delivered, failed) in by_hour.items():
        day = timezone.localtime(hour).date()
        if day in days:
            days[day][0] += delivered
            days[day][1] += failed
    month_series = [(day, delivered, failed) for day, (delivered, failed) in days.items()]
    return {"day": day_series, "month": month_series}
