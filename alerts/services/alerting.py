"""The life of an alert: fire once on crossing, remind after a quiet period, resolve when it clears."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction

from alerts.enqueue import task_enqueue_on_commit
from alerts.models import Alert, AlertSettings
from callbacks import clock, event_types
from callbacks.models import Account

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


def alert_evaluate(*, account: Account, kind: str, reading: Reading, now: datetime | None = None) -> str | None:
    """Move the account's alert of `kind` along with `reading`; returns the notice sent, if any.

    Crossing fires a new alert; staying crossed updates its value and reminds once the quiet period
    has passed since its last notice; clearing resolves it. Each notice is stored, queued for
    Telegram and e-mail, and emitted as the alert's business event.
    """
    now = now or clock.now()
    if reading.crossed is None:
        return None
    with transaction.atomic():
        # Locking the settings row serializes evaluations of one account's alerts.
        alert_settings = AlertSettings.objects.select_for_update().filter(account=account).first()
        quiet_period = timedelta(hours=alert_settings.reminder_quiet_hours if alert_settings else 24)
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
        elif reading.crossed:
            alert.value, alert.threshold, alert.details = reading.value, reading.threshold, reading.details
            alert.message = reading.message
            if now - alert.last_notified_at >= quiet_period:
                alert.last_notified_at = now
                alert.reminders_sent += 1
                notice = Notice.REMINDER
            alert.save()
        elif alert is not None:
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


def _alert_event_emit(*, alert: Alert, notice: str) -> None:
    """Emit the alert's business event(s) to the profiles subscribed to them."""
    from callbacks.services.events import event_emit

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
