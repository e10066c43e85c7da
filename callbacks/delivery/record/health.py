"""Profile health: consecutive failures, the first failure of a streak, deliveries failed since the
last success; a profile failing past the threshold turns abnormal (its deliveries held, not dropped)
and comes back when a connectivity test succeeds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Value
from django.db.models.functions import Coalesce

from callbacks import signals
from callbacks.models import CallbackProfile, Delivery

logger = logging.getLogger(__name__)

DEFAULT_ABNORMAL_AFTER_S = 5 * 24 * 3600
DEFAULT_ABNORMAL_AFTER_EXHAUSTED = 50


@dataclass(slots=True)
class HealthTally:
    """One profile's outcomes in one recorded batch, in the order they completed."""

    successes: int = 0
    failures: int = 0
    failures_since_success: int = 0  # after the batch's last success
    first_failure_since_success_at: datetime | None = None
    first_failure_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_success_at: datetime | None = None
    exhausted: int = 0
    exhausted_since_success: int = 0

    def success(self, at: datetime) -> None:
        self.successes += 1
        self.last_success_at = at
        self.failures_since_success = 0
        self.first_failure_since_success_at = None
        self.exhausted_since_success = 0

    def failure(self, at: datetime, *, exhausted: bool) -> None:
        self.failures += 1
        self.failures_since_success += 1
        self.first_failure_at = self.first_failure_at or at
        self.first_failure_since_success_at = self.first_failure_since_success_at or at
        self.last_failure_at = at
        self.exhausted += exhausted
        self.exhausted_since_success += exhausted


def abnormal_after() -> tuple[timedelta, int]:
    seconds = getattr(settings, "CALLBACKS_ABNORMAL_AFTER_S", DEFAULT_ABNORMAL_AFTER_S)
    exhausted = getattr(settings, "CALLBACKS_ABNORMAL_AFTER_EXHAUSTED", DEFAULT_ABNORMAL_AFTER_EXHAUSTED)
    return timedelta(seconds=seconds), int(exhausted)


def health_apply(tallies: dict[Any, HealthTally]) -> list[Any]:
    """Write the tallies (one UPDATE per profile, inside the caller's transaction); returns the ids of
    profiles that are failing now, for `abnormal_check`."""
    failing = []
    for profile_id in sorted(tallies, key=str):
        tally = tallies[profile_id]
        rows = CallbackProfile.objects.filter(pk=profile_id)
        if tally.successes:
            rows.update(
                consecutive_failures=tally.failures_since_success,
                first_failure_at=tally.first_failure_since_success_at,
                exhausted_deliveries=tally.exhausted_since_success,
                last_success_at=tally.last_success_at,
                last_failure_at=Coalesce(Value(tally.last_failure_at), F("last_failure_at")),
            )
        else:
            rows.update(
                consecutive_failures=F("consecutive_failures") + tally.failures,
                first_failure_at=Coalesce(F("first_failure_at"), Value(tally.first_failure_at)),
                exhausted_deliveries=F("exhausted_deliveries") + tally.exhausted,
                last_failure_at=tally.last_failure_at,
            )
        if tally.failures_since_success:
            failing.append(profile_id)
    return failing


@dataclass(frozen=True, slots=True)
class Disabled:
    profile_id: Any
    reason: str


def abnormal_check(profile_ids: list[Any], *, now: datetime) -> list[Disabled]:
    """Turn abnormal the enabled profiles among `profile_ids` past the threshold (caller's transaction)."""
    if not profile_ids:
        return []
    window, exhausted = abnormal_after()
    candidates = CallbackProfile.objects.filter(pk__in=profile_ids, status=CallbackProfile.Status.ENABLED).values_list(
        "pk", "first_failure_at", "exhausted_deliveries"
    )
    disabled = []
    for profile_id, first_failure_at, exhausted_count in candidates:
        if exhausted_count >= exhausted:
            reason = f"{exhausted_count} deliveries failed in a row since the last success"
        elif first_failure_at is not None and first_failure_at <= now - window:
            reason = f"failing since {first_failure_at:%Y-%m-%d %H:%M} UTC"
        else:
            continue
        if profile_disable(profile_id=profile_id, reason=reason, now=now):
            disabled.append(Disabled(profile_id, reason))
    return disabled


def profile_disable(*, profile_id: Any, reason: str, now: datetime) -> bool:
    """Mark an enabled profile abnormal and hold its pending deliveries (caller's transaction).
    Returns False when it was not enabled (someone else got there first)."""
    changed = CallbackProfile.objects.filter(pk=profile_id, status=CallbackProfile.Status.ENABLED).update(
        status=CallbackProfile.Status.ABNORMAL, status_reason=reason[:300], abnormal_since=now
    )
    if changed:
        # Leased rows are held too; their in-flight result still lands (see the engine's record).
        Delivery.objects.filter(profile_id=profile_id, state=Delivery.State.PENDING).update(state=Delivery.State.HELD)
    return bool(changed)


def disabled_announce(disabled: list[Disabled]) -> None:
    """After commit: the `endpoint_disabled` signal for each profile that turned abnormal (the services
    emit the `callback.profile_disabled` event on it, and alerts send the notice)."""
    for item in disabled:
        profile = CallbackProfile.objects.select_related("account").filter(pk=item.profile_id).first()
        if profile is None:
            continue
        logger.warning("profile.abnormal", extra={"profile_id": str(profile.pk), "reason": item.reason})
        signals.endpoint_disabled.send(sender=CallbackProfile, profile=profile, reason=item.reason)
