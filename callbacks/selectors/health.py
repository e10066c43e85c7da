"""A callback's health, the one answer the list, the dashboard, the API and the filters all show.

enabled   answering (or not tried yet)
failing   enabled, but its last attempts failed (or its last Refresh did): shown from the first failure
abnormal  paused by the system after persistent failure; its deliveries are held
disabled  switched off by a person
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from callbacks.models import CallbackProfile

ENABLED = "enabled"
FAILING = "failing"
ABNORMAL = "abnormal"
DISABLED = "disabled"
STATES = (ENABLED, FAILING, ABNORMAL, DISABLED)
LABELS = {ENABLED: "Enabled", FAILING: "Failing", ABNORMAL: "Abnormal", DISABLED: "Disabled"}
MEANINGS = {
    ENABLED: "answering",
    FAILING: "its last attempts failed; still being retried",
    ABNORMAL: "paused by the system after failing for long; deliveries are held until it answers",
    DISABLED: "switched off by a person; nothing is sent",
}
CHOICES = [(state, LABELS[state]) for state in STATES]

_CONDITIONS = {
    ENABLED: Q(status=CallbackProfile.Status.ENABLED, consecutive_failures=0),
    FAILING: Q(status=CallbackProfile.Status.ENABLED, consecutive_failures__gt=0),
    ABNORMAL: Q(status=CallbackProfile.Status.ABNORMAL),
    DISABLED: Q(status=CallbackProfile.Status.DISABLED),
}


@dataclass(frozen=True)
class Health:
    state: str
    label: str
    reason: str  # why, in words ("" when enabled and nothing to say)
    last_error: str
    check: str  # the last Refresh's result, while nothing newer is known ("" otherwise)
    check_ok: bool | None
    check_at: datetime | None


def health_state(profile: CallbackProfile) -> str:
    if profile.status == CallbackProfile.Status.ABNORMAL:
        return ABNORMAL
    if profile.status == CallbackProfile.Status.DISABLED:
        return DISABLED
    return FAILING if profile.consecutive_failures > 0 else ENABLED


def _check_is_latest(profile: CallbackProfile) -> bool:
    """A Refresh's result stays in view until a delivery tells something newer (or the next Refresh)."""
    if profile.last_check_at is None:
        return False
    newer = [moment for moment in (profile.last_success_at, profile.last_failure_at) if moment is not None]
    return all(moment <= profile.last_check_at for moment in newer)


def health_of(profile: CallbackProfile) -> Health:
    """The profile's health with the words that explain it."""
    state = health_state(profile)
    failures = profile.consecutive_failures
    if state == FAILING:
        attempts = f"{failures} attempt{'s' if failures != 1 else ''} in a row failed"
        reason = f"{attempts}: {profile.last_error}" if profile.last_error else attempts
    elif state == ABNORMAL:
        reason = profile.status_reason or "paused after failing for long"
        if profile.last_error:
            reason = f"{reason}; last error: {profile.last_error}"
    else:
        reason = profile.status_reason if state == DISABLED else ""
    latest = _check_is_latest(profile)
    if latest:
        verdict = "reachable" if profile.last_check_ok else "failed"
        check = (
            f"Refresh: {verdict}, {profile.last_check_detail}" if profile.last_check_detail else f"Refresh: {verdict}"
        )
    else:
        check = ""
    return Health(
        state=state,
        label=LABELS[state],
        reason=reason,
        last_error=profile.last_error if state in (FAILING, ABNORMAL) else "",
        check=check,
        check_ok=profile.last_check_ok if latest else None,
        check_at=profile.last_check_at if latest else None,
    )


def health_filter(profiles: QuerySet[CallbackProfile], state: str) -> QuerySet[CallbackProfile]:
    """Only the profiles in `state` (one of STATES)."""
    return profiles.filter(_CONDITIONS[state])


def health_counts(profiles: QuerySet[CallbackProfile]) -> dict[str, int]:
    """How many of `profiles` are in each state, in one query."""
    counted = profiles.aggregate(**{state: Count("pk", filter=condition) for state, condition in _CONDITIONS.items()})
    return {state: counted[state] or 0 for state in STATES}


def needing_attention(profiles: QuerySet[CallbackProfile], *, limit: int) -> list[CallbackProfile]:
    """Failing and abnormal profiles, the most recently failed first."""
    rows = profiles.filter(_CONDITIONS[FAILING] | _CONDITIONS[ABNORMAL])
    return list(rows.order_by("-last_failure_at", "name")[:limit])
