"""OTP verifications: one row per `otp.sent`, marked by `otp.verified`, timed out when overdue."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alerts.models import AlertSettings, Verification
from callbacks import clock, event_types
from callbacks.models import Account
from callbacks.services.events import event_emit

logger = logging.getLogger(__name__)

TIMEOUT_BATCH_SIZE = 500
RETENTION = timedelta(days=8)  # longer than the longest rate window (7 days)
PURGE_BATCH_SIZE = 5000


def _when(value: Any, default: datetime) -> datetime:
    """An ISO timestamp from the event's data, or `default` when it is missing or not one."""
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        return default
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def verification_record_sent(*, account: Account, data: dict[str, Any], at: datetime) -> Verification | None:
    """Keep the OTP of an `otp.sent` event (once per message id); None when it names no message."""
    message_id = str(data.get("message_id") or "").strip()[:200]
    if not message_id:
        return None
    try:
        with transaction.atomic():
            verification, _ = Verification.objects.get_or_create(
                account=account,
                message_id=message_id,
                defaults={"phone": str(data.get("phone") or "")[:64], "sent_at": _when(data.get("sent_at"), at)},
            )
    except IntegrityError:  # the same OTP recorded at the same moment by another worker
        verification = Verification.objects.get(account=account, message_id=message_id)
    return verification


def verification_mark_verified(*, account: Account, data: dict[str, Any], at: datetime) -> Verification | None:
    """Mark the OTP of an `otp.verified` event verified (recording it if its `otp.sent` came later)."""
    message_id = str(data.get("message_id") or "").strip()[:200]
    if not message_id:
        return None
    verified_at = _when(data.get("verified_at"), at)
    updated = Verification.objects.filter(account=account, message_id=message_id, verified_at__isnull=True).update(
        verified_at=verified_at
    )
    if not updated:
        verification = verification_record_sent(account=account, data=data, at=verified_at)
        Verification.objects.filter(pk=verification.pk, verified_at__isnull=True).update(verified_at=verified_at)
    return Verification.objects.get(account=account, message_id=message_id)


def verification_timeouts_emit(*, account: Account, now: datetime | None = None) -> int:
    """Emit `otp.verification_timeout` once for each OTP of `account` not verified in time; returns how many."""
    now = now or clock.now()
    alert_settings = AlertSettings.objects.filter(account=account, timeout_enabled=True).first()
    if alert_settings is None:
        return 0
    deadline = now - timedelta(minutes=alert_settings.timeout_minutes)
    overdue = list(
        Verification.objects.filter(
            account=account, verified_at__isnull=True, timed_out_at__isnull=True, sent_at__lte=deadline
        ).order_by("sent_at")[:TIMEOUT_BATCH_SIZE]
    )
    emitted = 0
    for verification in overdue:
        with transaction.atomic():
            # Claiming the row first makes the event once-only however many checks run at once.
            claimed = Verification.objects.filter(pk=verification.pk, timed_out_at__isnull=True).update(
                timed_out_at=now
            )
            if not claimed:
                continue
            event_emit(
                account=account,
                type=event_types.OTP_VERIFICATION_TIMEOUT,
                data={
                    "message_id": verification.message_id,
                    "phone": verification.phone,
                    "sent_at": verification.sent_at.isoformat().replace("+00:00", "Z"),
                    "timeout_minutes": alert_settings.timeout_minutes,
                },
                idempotency_key=f"otp-timeout:{verification.message_id}",
            )
            emitted += 1
    if emitted:
        logger.info("verification.timeouts", extra={"account_id": str(account.pk), "count": emitted})
    return emitted


def verifications_purge(*, now: datetime | None = None, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Delete verifications sent before the retention period, in bounded batches; returns how many."""
    cutoff = (now or clock.now()) - RETENTION
    deleted = 0
    while True:
        ids = list(Verification.objects.filter(sent_at__lt=cutoff).values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += Verification.objects.filter(pk__in=ids).delete()[0]
