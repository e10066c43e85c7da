"""When reports are due and which period each covers, in the account's time zone.

Daily reports are sent every day at 17:00, weekly ones on Wednesday at 17:00, monthly ones on the
25th at 17:00, local time. A period ends at its send time and starts at the previous send time, so
consecutive periods meet exactly; across a daylight-saving change a day is 23 or 25 hours long.
Boundaries are returned as aware datetimes in UTC.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

SEND_HOUR = 17
WEEKLY_SEND_WEEKDAY = 2  # Wednesday (Monday is 0)
MONTHLY_SEND_DAY = 25

DAILY = "daily"
WEEKLY = "weekly"
MONTHLY = "monthly"
FREQUENCIES = (DAILY, WEEKLY, MONTHLY)


@dataclass(frozen=True)
class Period:
    frequency: str
    start: dt.datetime
    end: dt.datetime
    timezone: str

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(zoneinfo.ZoneInfo(self.timezone))


def _send_time_on(day: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """17:00 on `day` in `tz`, in UTC. Wall-clock arithmetic in zoneinfo gives the right offset for that day."""
    local = dt.datetime(day.year, day.month, day.day, SEND_HOUR, tzinfo=tz)
    # Round-trip through UTC so a wall time inside a gap (no real zone has one at 17:00) still normalises.
    return local.astimezone(dt.UTC)


def _month_back(day: dt.date) -> dt.date:
    return (day.replace(day=1) - dt.timedelta(days=1)).replace(day=day.day)


def _anchor_on_or_before(frequency: str, day: dt.date) -> dt.date:
    """The last send day of `frequency` on or before `day`."""
    if frequency == DAILY:
        return day
    if frequency == WEEKLY:
        return day - dt.timedelta(days=(day.weekday() - WEEKLY_SEND_WEEKDAY) % 7)
    if frequency == MONTHLY:
        anchor = day.replace(day=MONTHLY_SEND_DAY) if day.day >= MONTHLY_SEND_DAY else None
        return anchor or _month_back(day.replace(day=MONTHLY_SEND_DAY))
    raise ValueError(f"Unknown report frequency “{frequency}”; expected one of {', '.join(FREQUENCIES)}.")


def _previous_send_day(frequency: str, day: dt.date) -> dt.date:
    if frequency == DAILY:
        return day - dt.timedelta(days=1)
    if frequency == WEEKLY:
        return day - dt.timedelta(days=7)
    return _month_back(day)


def _next_send_day(frequency: str, day: dt.date) -> dt.date:
    if frequency == DAILY:
        return day + dt.timedelta(days=1)
    if frequency == WEEKLY:
        return day + dt.timedelta(days=7)
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=day.day)


def send_time_latest(*, frequency: str, timezone: str, now: dt.datetime) -> dt.datetime:
    """The latest send time of `frequency` at or before `now` (UTC)."""
    tz = zoneinfo.ZoneInfo(timezone)
    day = _anchor_on_or_before(frequency, now.astimezone(tz).date())
    send_time = _send_time_on(day, tz)
    if send_time > now:
        send_time = _send_time_on(_previous_send_day(frequency, day), tz)
    return send_time


def send_time_next(*, frequency: str, timezone: str, now: dt.datetime) -> dt.datetime:
    """The first send time of `frequency` strictly after `now` (UTC)."""
    tz = zoneinfo.ZoneInfo(timezone)
    latest = send_time_latest(frequency=frequency, timezone=timezone, now=now)
    return _send_time_on(_next_send_day(frequency, latest.astimezone(tz).date()), tz)


def period_ending_at(*, frequency: str, timezone: str, end: dt.datetime) -> Period:
    """The period whose send time is `end` (which must be a send time of `frequency`)."""
    tz = zoneinfo.ZoneInfo(timezone)
    start = _send_time_on(_previous_send_day(frequency, end.astimezone(tz).date()), tz)
    return Period(frequency=frequency, start=start, end=end.astimezone(dt.UTC), timezone=timezone)


def period_latest(*, frequency: str, timezone: str, now: dt.datetime) -> Period:
    """The most recent complete period at `now`: it ended at the latest send time."""
    end = send_time_latest(frequency=frequency, timezone=timezone, now=now)
    return period_ending_at(frequency=frequency, timezone=timezone, end=end)


def periods_due(
    *, frequency: str, timezone: str, now: dt.datetime, since: dt.datetime | None, limit: int
) -> list[Period]:
    """Complete periods that ended after `since` and at or before `now`, oldest first, at most the last `limit`."""
    periods: list[Period] = []
    period = period_latest(frequency=frequency, timezone=timezone, now=now)
    while len(periods) < limit and (since is None or period.end > since):
        periods.append(period)
        period = period_ending_at(frequency=frequency, timezone=timezone, end=period.start)
    return list(reversed(periods))
