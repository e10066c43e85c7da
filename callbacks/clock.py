"""The engine's notion of "now": wall-clock time plus an offset that tests can move forward.

Retry timing, leases and health thresholds read `clock.now()`, so a test can jump five minutes or
five days ahead without sleeping. Durations of HTTP calls use `time.monotonic()` instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

_offset = timedelta(0)


def now() -> datetime:
    return timezone.now() + _offset


def advance(*, seconds: float) -> datetime:
    """Move the clock forward (tests only); returns the new now."""
    global _offset
    _offset += timedelta(seconds=seconds)
    return now()


def reset() -> None:
    global _offset
    _offset = timedelta(0)


def from_timestamp(seconds: float) -> datetime:
    """A `time.time()` reading on this clock (with the test offset)."""
    return datetime.fromtimestamp(seconds, tz=UTC) + _offset
