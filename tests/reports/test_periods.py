"""Period arithmetic in the account's time zone, daylight-saving changes included."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest

from reports.periods import (
    DAILY,
    MONTHLY,
    WEEKLY,
    period_ending_at,
    period_latest,
    periods_due,
    send_time_latest,
    send_time_next,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
KOLKATA = "Asia/Kolkata"


def at(timezone: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(timezone))


@pytest.mark.parametrize("timezone", [BERLIN, NEW_YORK, KOLKATA, "UTC", "Pacific/Auckland"])
def test_daily_send_time_is_17_local_every_day(timezone):
    # given a moment a minute before and a minute after 17:00 local
    before = at(timezone, 2026, 6, 10, 16, 59)
    after = at(timezone, 2026, 6, 10, 17, 1)

    # when the latest send time is asked
    latest_before = send_time_latest(frequency=DAILY, timezone=timezone, now=before)
    latest_after = send_time_latest(frequency=DAILY, timezone=timezone, now=after)

    # then it is 17:00 local the day before, then 17:00 local that day
    assert latest_before == at(timezone, 2026, 6, 9, 17)
    assert latest_after == at(timezone, 2026, 6, 10, 17)
    assert latest_after.tzinfo == dt.UTC


def test_send_time_is_due_exactly_at_17_00():
    # given the very instant of 17:00 in Kolkata (11:30 UTC)
    now = dt.datetime(2026, 6, 10, 11, 30, tzinfo=dt.UTC)

    # when / then that instant is the latest send time
    assert send_time_latest(frequency=DAILY, timezone=KOLKATA, now=now) == now


@pytest.mark.parametrize("timezone", [BERLIN, NEW_YORK, KOLKATA])
def test_weekly_period_runs_wednesday_17_to_wednesday_17(timezone):
    # given Saturday 2026-06-13 in the account's zone
    now = at(timezone, 2026, 6, 13, 9)

    # when the latest weekly period is computed
    period = period_latest(frequency=WEEKLY, timezone=timezone, now=now)

    # then it ended Wednesday 10 June 17:00 and started Wednesday 3 June 17:00, local
    assert period.end == at(timezone, 2026, 6, 10, 17)
    assert period.start == at(timezone, 2026, 6, 3, 17)
    assert period.end.astimezone(zoneinfo.ZoneInfo(timezone)).weekday() == 2


def test_weekly_on_wednesday_before_17_is_the_previous_week():
    now = at(BERLIN, 2026, 6, 10, 16, 59)

    period = period_latest(frequency=WEEKLY, timezone=BERLIN, now=now)

    assert (period.start, period.end) == (at(BERLIN, 2026, 5, 27, 17), at(BERLIN, 2026, 6, 3, 17))


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        ((2026, 6, 25, 17, 0), (2026, 5, 25, 17), (2026, 6, 25, 17)),
        ((2026, 6, 25, 16, 59), (2026, 4, 25, 17), (2026, 5, 25, 17)),
        ((2026, 1, 3, 8, 0), (2025, 11, 25, 17), (2025, 12, 25, 17)),
        ((2026, 3, 1, 0, 0), (2026, 1, 25, 17), (2026, 2, 25, 17)),
    ],
)
def test_monthly_period_runs_25th_17_to_25th_17(now, start, end):
    period = period_latest(frequency=MONTHLY, timezone=NEW_YORK, now=at(NEW_YORK, *now))

    assert period.start == at(NEW_YORK, *start)
    assert period.end == at(NEW_YORK, *end)


def test_berlin_spring_forward_day_is_23_hours():
    # given the evening of 2026-03-29, when Berlin moved from CET to CEST at 02:00
    now = at(BERLIN, 2026, 3, 29, 18)

    # when the daily period is computed
    period = period_latest(frequency=DAILY, timezone=BERLIN, now=now)

    # then it runs from 17:00 CET to 17:00 CEST: 23 hours, 16:00 UTC to 15:00 UTC
    assert period.start == dt.datetime(2026, 3, 28, 16, tzinfo=dt.UTC)
    assert period.end == dt.datetime(2026, 3, 29, 15, tzinfo=dt.UTC)
    assert period.duration == dt.timedelta(hours=23)


def test_berlin_fall_back_day_is_25_hours():
    now = at(BERLIN, 2026, 10, 25, 17, 30)

    period = period_latest(frequency=DAILY, timezone=BERLIN, now=now)

    assert period.start == dt.datetime(2026, 10, 24, 15, tzinfo=dt.UTC)
    assert period.end == dt.datetime(2026, 10, 25, 16, tzinfo=dt.UTC)
    assert period.duration == dt.timedelta(hours=25)


def test_new_york_dst_days_and_send_times_in_utc():
    # given New York's changes on 2026-03-08 and 2026-11-01
    spring = period_latest(frequency=DAILY, timezone=NEW_YORK, now=at(NEW_YORK, 2026, 3, 8, 17))
    autumn = period_latest(frequency=DAILY, timezone=NEW_YORK, now=at(NEW_YORK, 2026, 11, 1, 17))

    # then 17:00 EST is 22:00 UTC and 17:00 EDT is 21:00 UTC
    assert (spring.start.hour, spring.end.hour, spring.duration) == (22, 21, dt.timedelta(hours=23))
    assert (autumn.start.hour, autumn.end.hour, autumn.duration) == (21, 22, dt.timedelta(hours=25))


def test_weekly_and_monthly_periods_across_dst_lose_or_gain_an_hour():
    # the week of Wednesday 2026-03-25 .. 2026-04-01 contains Berlin's spring change
    week = period_latest(frequency=WEEKLY, timezone=BERLIN, now=at(BERLIN, 2026, 4, 1, 17))
    # the month 2026-10-25 17:00 .. 2026-11-25 17:00 starts just after the autumn change
    month = period_latest(frequency=MONTHLY, timezone=BERLIN, now=at(BERLIN, 2026, 11, 25, 17))
    previous_month = period_latest(frequency=MONTHLY, timezone=BERLIN, now=at(BERLIN, 2026, 10, 25, 17))

    assert week.duration == dt.timedelta(days=7, hours=-1)
    assert month.duration == dt.timedelta(days=31)
    assert previous_month.duration == dt.timedelta(days=30, hours=1)


@pytest.mark.parametrize("frequency", [DAILY, WEEKLY, MONTHLY])
@pytest.mark.parametrize("timezone", [BERLIN, NEW_YORK, KOLKATA])
def test_consecutive_periods_meet_exactly_through_a_year(frequency, timezone):
    # given every period of 2026
    periods = periods_due(
        frequency=frequency, timezone=timezone, now=at(timezone, 2027, 1, 1), since=at(timezone, 2026, 1, 1), limit=400
    )

    # then each starts where the previous ended (no gap, no overlap) and ends at 17:00 local
    assert periods
    for previous, current in itertools.pairwise(periods):
        assert current.start == previous.end
    for period in periods:
        local_end = period.end.astimezone(zoneinfo.ZoneInfo(timezone))
        assert (local_end.hour, local_end.minute) == (17, 0)


def test_periods_due_are_bounded_and_oldest_first():
    # given a cluster down for ten days and a daily subscription from long ago
    now = at(KOLKATA, 2026, 6, 20, 18)

    periods = periods_due(frequency=DAILY, timezone=KOLKATA, now=now, since=None, limit=7)

    assert len(periods) == 7
    assert periods[0].end == at(KOLKATA, 2026, 6, 14, 17)
    assert periods[-1].end == at(KOLKATA, 2026, 6, 20, 17)


def test_periods_due_start_after_the_subscription_began():
    # given weekly reports turned on Thursday 2026-06-04
    since = at(BERLIN, 2026, 6, 4, 10)

    periods = periods_due(frequency=WEEKLY, timezone=BERLIN, now=at(BERLIN, 2026, 6, 18, 9), since=since, limit=10)

    # then the weeks ending 10 and 17 June are due: the one ending 3 June predates the subscription
    assert [period.end for period in periods] == [at(BERLIN, 2026, 6, 10, 17), at(BERLIN, 2026, 6, 17, 17)]


def test_next_send_time_and_period_ending_at_agree():
    now = at(NEW_YORK, 2026, 2, 26, 8)

    next_end = send_time_next(frequency=MONTHLY, timezone=NEW_YORK, now=now)
    period = period_ending_at(frequency=MONTHLY, timezone=NEW_YORK, end=next_end)

    assert next_end == at(NEW_YORK, 2026, 3, 25, 17)
    assert period.start == at(NEW_YORK, 2026, 2, 25, 17)
