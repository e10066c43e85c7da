"""Callback profiles of one account, filtered the way the list screens and the API filter them."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db.models import QuerySet

from callbacks.models import Account, CallbackProfile
from callbacks.selectors.health import health_filter


def _day_start(day: dt.date, account: Account) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zoneinfo.ZoneInfo(account.timezone or "UTC"))


def _moment(value: dt.date | dt.datetime, account: Account, *, day_end: bool) -> dt.datetime:
    """A date means its whole day in the account's timezone; a naive date-time is read there too."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=zoneinfo.ZoneInfo(account.timezone or "UTC"))
        return value
    return _day_start(value + dt.timedelta(days=1) if day_end else value, account)


def created_between(
    rows: QuerySet,
    *,
    account: Account,
    created_after: dt.date | dt.datetime | None = None,
    created_before: dt.date | dt.datetime | None = None,
) -> QuerySet:
    """Rows whose `created_at` falls in the range; dates are whole days in the account's timezone."""
    if created_after is not None:
        rows = rows.filter(created_at__gte=_moment(created_after, account, day_end=False))
    if created_before is not None:
        end = _moment(created_before, account, day_end=True)
        # A date ends where the next day starts; a date-time is itself the last moment included.
        is_moment = isinstance(created_before, dt.datetime)
        rows = rows.filter(created_at__lte=end) if is_moment else rows.filter(created_at__lt=end)
    return rows


def profile_list(
    *,
    account: Account,
    name: str | None = None,
    http_method: str | None = None,
    status: str | None = None,
    health: str | None = None,
    created_after: dt.date | dt.datetime | None = None,
    created_before: dt.date | dt.datetime | None = None,
) -> QuerySet[CallbackProfile]:
    """The account's profiles, newest first. `created_after` / `created_before` dates include their whole day."""
    profiles = CallbackProfile.objects.filter(account=account).prefetch_related("event_types")
    if name:
        profiles = profiles.filter(name__icontains=name)
    if http_method:
        profiles = profiles.filter(http_method=http_method)
    if status:
        profiles = profiles.filter(status=status)
    if health:
        profiles = health_filter(profiles, health)
    profiles = created_between(profiles, account=account, created_after=created_after, created_before=created_before)
    return profiles.order_by("-created_at", "id")


def profile_get(*, account: Account, profile_id) -> CallbackProfile | None:
    """One profile of the account, or None (another account's profile is not found, by design)."""
    return CallbackProfile.objects.filter(account=account, pk=profile_id).prefetch_related("event_types").first()
