"""Profile health: consecutive failures, the first failure of a streak, deliveries failed since the
last success; a profile failing past the threshold turns abnormal (its deliveries held, not dropped)
and comes back when a connectivity test succeeds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
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
    last_failure: tuple[int | None, str, str] | None = None  # status, error class, detail

    def success(self, at: datetime) -> None:
        self.successes += 1
        self.last_success_at = at
        self.failures_since_success = 0
        self.first_failure_since_success_at = None
        self.exhausted_since_success = 0

    def failure(self, at: datetime, *, exhausted: bool, cause: tuple[int | None, str, str] | None = None) -> None:
        self.failures += 1
        self.last_failure = cause or self.last_failure
        self.failures_since_success += 1
        self.first_failure_at = self.first_failure_at or at
        self.first_failure_since_success_at = self.first_failure_since_success_at or at
        self.last_failure_at = at
        self.exhausted += exhausted
        self.exhausted_since_success += exhausted


ERROR_CLASS_WORDS = {
    "connect_timeout": "no connection within the connect timeout",
    "connect_refused": "the connection was refused",
    "connect_error": "could not connect",
    "dns_error": "the host name does not resolve",
    "response_timeout": "no answer within the response timeout",
    "envelope_invalid": "answered 2xx without a valid status envelope",
    "envelope_900": "answered status_code 900 (not delivered)",
    "envelope_901": "answered status_code 901 (bad request parameters)",
    "envelope_999": "answered status_code 999 (critical error)",
    "render_error": "the request could not be built from the profile's settings",
}
MAX_ERROR_WORDS_CHARS = 300


def failure_words(*, status: int | None, error_class: str, detail: str = "") -> str:
    """One failure as a customer reads it: "HTTP 503 Service Unavailable", "the connection was refused"."""
    if error_class in ERROR_CLASS_WORDS:
        words = ERROR_CLASS_WORDS[error_class]
    elif status:
        try:
            words = f"HTTP {status} {HTTPStatus(status).phrase}"
        except ValueError:
            words = f"HTTP {status}"
    else:
        words = error_class.replace("_", " ") or "failed"
    if detail and not status:
        words = f"{words}: {detail}"
    return words[:MAX_ERROR_WORDS_CHARS]


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
        error = {}
        if tally.last_failure is not None:
            status, error_class, detail = tally.last_failure
            error["last_error"] = failure_words(status=status, error_class=error_class, detail=detail)
        if tally.successes:
            rows.update(
                **error,
                consecutive_failures=tally.failures_since_success,
                first_failure_at=tally.first_failure_since_success_at,
                exhausted_deliveries=tally.exhausted_since_success,
                last_success_at=tally.last_success_at,
                last_failure_at=Coalesce(Value(tally.last_failure_at), F("last_failure_at")),
            )
        else:
            rows.update(
                **error,
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
