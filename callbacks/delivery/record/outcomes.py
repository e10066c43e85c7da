"""What a transport result means: delivered, retry, permanent failure, or gone (410 disables the
profile); and when a retry is due (the profile's schedule with jitter, `Retry-After` within bounds).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings

from callbacks.delivery.send.transport import TransportResult

DELIVERED = "delivered"
RETRY = "retry"
PERMANENT = "permanent"
GONE = "gone"

# 4xx answers that say "not now" rather than "never".
RETRYABLE_4XX = frozenset({408, 409, 423, 425, 429})
ENVELOPE_DELIVERED = frozenset({"000", "001"})
ENVELOPE_PERMANENT = frozenset({"901"})
ENVELOPE_RETRY = frozenset({"900", "999"})
JITTER_FRACTION = 0.1
DEFAULT_RETRY_AFTER_MAX_S = 3600
MAX_RECEIVER_DELIVERY_ID_CHARS = 200


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # DELIVERED, RETRY, PERMANENT or GONE
    error_class: str = ""  # "" when delivered; e.g. http_503, response_timeout, envelope_901
    retry_after_s: float | None = None
    receiver_delivery_id: str = ""

    @property
    def succeeded(self) -> bool:
        return self.kind == DELIVERED


def _envelope(body: bytes) -> dict | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "status_code" in value else None


def _envelope_code(value: object) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return f"{value:03d}"
    return str(value).strip()


def retry_after_parse(value: str | None, *, now: datetime) -> float | None:
    """Seconds from a `Retry-After` header (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - now).total_seconds())


def outcome_classify(result: TransportResult, *, envelope_contract: bool, now: datetime) -> Outcome:
    """The meaning of one result under the profile's response contract."""
    if result.error_class:
        return Outcome(RETRY, result.error_class)
    status = result.status or 0
    if 200 <= status < 300:
        if not envelope_contract:
            return Outcome(DELIVERED)
        envelope = _envelope(result.body)
        if envelope is None:
            return Outcome(RETRY, "envelope_invalid")
        code = _envelope_code(envelope.get("status_code"))
        receiver_id = str(envelope.get("delivery_id") or "")[:MAX_RECEIVER_DELIVERY_ID_CHARS]
        if code in ENVELOPE_DELIVERED:
            return Outcome(DELIVERED, receiver_delivery_id=receiver_id)
        if code in ENVELOPE_PERMANENT:
            return Outcome(PERMANENT, f"envelope_{code}", receiver_delivery_id=receiver_id)
        if code in ENVELOPE_RETRY:
            return Outcome(RETRY, f"envelope_{code}", receiver_delivery_id=receiver_id)
        return Outcome(RETRY, "envelope_invalid", receiver_delivery_id=receiver_id)
    retry_after = retry_after_parse(result.headers.get("retry-after"), now=now)
    if status == 410:
        return Outcome(GONE, "http_410")
    if 400 <= status < 500 and status not in RETRYABLE_4XX:
        return Outcome(PERMANENT, f"http_{status}")
    return Outcome(RETRY, f"http_{status}", retry_after_s=retry_after)


def retry_delay_s(*, schedule: tuple[float, ...], attempts_made: int, retry_after_s: float | None) -> float | None:
    """Seconds until the next attempt after `attempts_made` attempts, or None when the schedule is spent.

    The schedule's delay gets ±10 % jitter so retries of a burst spread out; a `Retry-After` lengthens
    the wait up to CALLBACKS_RETRY_AFTER_MAX_S, never shortens it.
    """
    index = attempts_made - 1
    if index >= len(schedule):
        return None
    delay = schedule[index] * random.uniform(1 - JITTER_FRACTION, 1 + JITTER_FRACTION)
    if retry_after_s is not None:
        bound = float(getattr(settings, "CALLBACKS_RETRY_AFTER_MAX_S", DEFAULT_RETRY_AFTER_MAX_S))
        delay = max(delay, min(retry_after_s, bound))
    return delay


def next_attempt_at(*, now: datetime, delay_s: float) -> datetime:
    return now + timedelta(seconds=delay_s)
