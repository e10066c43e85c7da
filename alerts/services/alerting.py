"""The life of an alert: fire once on crossing, remind after a quiet period, resolve when it clears."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction

from alerts.enqueue import task_enqueue_on_commit
from alerts.models import DEFAULT_REMINDER_QUIET_HOURS, Alert, AlertSettings
from callbacks import clock, event_types
from callbacks.models import Account
from callbacks.services.events import event_emit

logger = logging.getLogger(__name__)


class Notice:
    FIRED = "fired"
    REMINDER = "reminder"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Reading:
    """One measurement of an alert's condition. `crossed` None means "not enough data to judge"."""

    crossed: bool | None
    value: Decimal
    threshold: Decimal
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def alert_evaluate(
    *,
    account: Account,
    kind: str,
    reading: Reading,
    now: datetime | None = None,
    quiet_period: timedelta | None = None,
) -> str | None:
    """Move the account's alert of `kind` along with `reading`; returns the notice sent, if any.

    Crossing fires a new alert; staying crossed updates its value and reminds once the quiet period
    (default: the account's `reminder_quiet_hours`) has passed since its last notice; clearing
    resolves it. Each notice is stored, queued for Telegram and e-mail, and emitted as the alert's
    business event.
    """
    now = now or clock.now()
    if reading.crossed is None:
        return None
    if quiet_period is None:
        hours = AlertSettings.objects.filter(account=account).values_list("reminder_quiet_hours", flat=True).first()
        quiet_period = timedelta(hours=hours or DEFAULT_REMINDER_QUIET_HOURS)
    # Most checks change nothing: find that out without a transaction or a lock.
    open_alert = Alert.objects.filter(account=account, kind=kind, resolved_at__isnull=True).first()
    if open_alert is None and not reading.crossed:
        return None
    if open_alert is not None and reading.crossed and now - open_alert.last_notified_at < quiet_period:
        _alert_reading_keep(alert=open_alert, reading=reading)
        return None
    with transaction.atomic():
        # Locking the settings row serializes the transitions of one account's alerts.
        AlertSettings.objects.select_for_update().filter(account=account).first()
        alert = Alert.objects.filter(account=account, kind=kind, resolved_at__isnull=True).first()
        notice = None
        if reading.crossed and alert is None:
            alert = Alert.objects.create(
                account=account,
                kind=kind,
                value=reading.value,
                threshold=reading.threshold,
                message=reading.message,
                details=reading.details,
                fired_at=now,
                last_notified_at=now,
            )
            notice = Notice.FIRED
        elif reading.crossed and now - alert.last_notified_at >= quiet_period:
            alert.value, alert.threshold, alert.details = reading.value, reading.threshold, reading.details
            alert.message = reading.message
            alert.last_notified_at = now
            alert.reminders_sent += 1
            alert.save()
            notice = Notice.REMINDER
        elif not reading.crossed and alert is not None:
            alert.value, alert.details, alert.message = reading.value, reading.details, reading.message
            alert.resolved_at = now
            alert.last_notified_at = now
            alert.save()
            notice = Notice.RESOLVED
        if notice is None:
            return None
        _alert_event_emit(alert=alert, notice=notice)
        task_enqueue_on_commit("alerts.tasks.alert_notify", str(alert.pk), notice)
    logger.info(
        "alert.notice", extra={"account_id": str(account.pk), "alert_id": str(alert.pk), "kind": kind, "notice": notice}
    )
    return notice


def _alert_reading_keep(*, alert: Alert, reading: Reading) -> None:
    """A firing alert keeps its latest value (written only when it changed)."""
    if (alert.value, alert.threshold, alert.message) == (reading.value, reading.threshold, reading.message):
        return
    Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(
        value=reading.value, threshold=reading.threshold, message=reading.message, details=reading.details
    )


def _alert_event_emit(*, alert: Alert, notice: str) -> None:
    """Emit the alert's business event(s) to the profiles subscribed to them."""
    state = "resolved" if notice == Notice.RESOLVED else "firing"
    key = f"alert:{alert.pk}:{notice}:{alert.reminders_sent}"
    details = alert.details
    if alert.kind == Alert.Kind.BALANCE_LOW:
        data = {"balance_usd": details["balance_usd"], "threshold_usd": details["threshold_usd"]}
        event_emit(
            account=alert.account,
            type=event_types.ALERT_BALANCE_LOW,
            data={**data, "state": state, "reminder": notice == Notice.REMINDER},
            idempotency_key=key,
        )
        if notice == Notice.FIRED:
            event_emit(
                account=alert.account, type=event_types.ACCOUNT_MIN_BALANCE, data=data, idempotency_key=f"{key}:min"
            )
    elif alert.kind == Alert.Kind.VERIFICATION_RATE_LOW:
        event_emit(
            account=alert.account,
            type=event_types.ALERT_VERIFICATION_RATE_LOW,
            data={**details, "state": state, "reminder": notice == Notice.REMINDER},
            idempotency_key=key,
        )
    # The timeout digest has no event of its own: each timed-out OTP emitted otp.verification_timeout.
