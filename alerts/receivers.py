"""What the alerts app does when the callbacks app announces something. Each receiver stays cheap:
it records a row or queues a task on commit, never sends mail or calls Telegram itself."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from alerts.services.checks import balance_alert_check
from alerts.services.failure_notices import failure_record, profile_abnormal_record, profile_recovered_record
from alerts.services.verifications import verification_mark_verified, verification_record_sent
from callbacks import event_types
from callbacks.models import Account, Attempt, CallbackProfile, Delivery, Event

logger = logging.getLogger(__name__)


def on_event_received(sender: Any, event: Event, **kwargs: Any) -> None:
    """Track OTPs and take reported balances from the platform's events."""
    data = event.payload if isinstance(event.payload, dict) else {}
    if event.type == event_types.OTP_SENT:
        verification_record_sent(account=event.account, data=data, at=event.created_at)
    elif event.type == event_types.OTP_VERIFIED:
        verification_mark_verified(account=event.account, data=data, at=event.created_at)
    elif event.type == event_types.ACCOUNT_BALANCE:
        from callbacks.services.accounts import account_balance_set

        try:
            balance = Decimal(str(data.get("balance_usd")))
        except InvalidOperation:
            logger.info("alert.balance_event_ignored", extra={"event_id": str(event.pk)})
            return
        if balance.is_finite():
            account_balance_set(account=event.account, balance_usd=balance)


def on_account_balance_changed(sender: Any, account: Account, **kwargs: Any) -> None:
    """Judge the insufficient-balance alert against the new balance."""
    balance_alert_check(account=account)


def on_delivery_failed(
    sender: Any, delivery: Delivery, attempt: Attempt | None = None, failure_class: str = "", **kwargs: Any
) -> None:
    failure_record(delivery=delivery, attempt=attempt, failure_class=failure_class)


def on_endpoint_disabled(sender: Any, profile: CallbackProfile, reason: str = "", **kwargs: Any) -> None:
    profile_abnormal_record(profile=profile, reason=reason)


def on_endpoint_recovered(sender: Any, profile: CallbackProfile, **kwargs: Any) -> None:
    profile_recovered_record(profile=profile)
