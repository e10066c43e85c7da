"""What the alerts app does when the callbacks app announces something. Each receiver stays cheap:
it records a row or queues a task on commit, never sends mail or calls Telegram itself."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError

from alerts.services.checks import balance_alert_check
from alerts.services.failure_notices import failure_record, profile_abnormal_record, profile_recovered_record
from alerts.services.verifications import verification_mark_verified, verification_record_sent
from callbacks import event_types
from callbacks.models import Account, Attempt, CallbackProfile, Delivery, Event
from callbacks.services.accounts import account_balance_set

logger = logging.getLogger(__name__)


def on_event_received(sender: Any, event: Event, **kwargs: Any) -> None:
    """Track OTPs and take reported balances from the platform's events.

    The event is already stored and accepted: nothing here may fail its sender, so errors are logged.
    """
    data = event.payload if isinstance(event.payload, dict) else {}
    try:
        if event.type == event_types.OTP_SENT:
            verification_record_sent(account=event.account, data=data, at=event.created_at)
        elif event.type == event_types.OTP_VERIFIED:
            verification_mark_verified(account=event.account, data=data, at=event.created_at)
        elif event.type == event_types.ACCOUNT_BALANCE:
            _balance_take(event=event, data=data)
    except Exception:
        logger.exception("alerts.event_receiver_failed", extra={"event_id": str(event.pk), "type": event.type})


def _balance_take(*, event: Event, data: dict[str, Any]) -> None:
    try:
        account_balance_set(account=event.account, balance_usd=data.get("balance_usd"))
    except ValidationError as error:
        logger.info("alerts.balance_event_ignored", extra={"event_id": str(event.pk), "error": error.messages[0]})


def on_account_balance_changed(sender: Any, account: Account, **kwargs: Any) -> None:
    """Judge the insufficient-balance alert against the new balance (the balance is stored already)."""
    try:
        balance_alert_check(account=account)
    except Exception:
        logger.exception("alerts.balance_check_failed", extra={"account_id": str(account.pk)})


def on_delivery_failed(
    sender: Any, delivery: Delivery, attempt: Attempt | None = None, failure_class: str = "", **kwargs: Any
) -> None:
    failure_record(delivery=delivery, attempt=attempt, failure_class=failure_class)


def on_endpoint_disabled(sender: Any, profile: CallbackProfile, reason: str = "", **kwargs: Any) -> None:
    profile_abnormal_record(profile=profile, reason=reason)


def on_endpoint_recovered(sender: Any, profile: CallbackProfile, **kwargs: Any) -> None:
    profile_recovered_record(profile=profile)
