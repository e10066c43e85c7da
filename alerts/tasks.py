"""django-q2 entry points of the alerts app: each loads its rows by id and calls a service."""

from __future__ import annotations

import logging

from django.utils.dateparse import parse_datetime

from alerts.models import Alert
from alerts.services import checks, failure_notices, notice_sending, verifications
from alerts.telegram import telegram_message_send
from callbacks.models import Attempt, CallbackProfile, Delivery

logger = logging.getLogger(__name__)


def alerts_check_all() -> int:
    """Every minute: emit overdue verification timeouts and judge every alert of every account."""
    return checks.alerts_check_all()


def failure_digests_flush() -> int:
    """Every minute: queue the hourly failure digests that are due."""
    return failure_notices.failure_digests_flush()


def verifications_purge() -> int:
    """Every hour: forget OTPs older than any rate window."""
    return verifications.verifications_purge()


def alert_notify(alert_id: str, notice: str) -> None:
    alert = Alert.objects.select_related("account").filter(pk=alert_id).first()
    if alert is None:
        logger.info("alert.gone", extra={"alert_id": alert_id})
        return
    notice_sending.alert_notice_send(alert=alert, notice=notice)


def failure_notice_send(delivery_id: str, attempt_id: str | None, failure: str) -> None:
    delivery = Delivery.objects.select_related("profile__account", "event").filter(pk=delivery_id).first()
    if delivery is None:
        logger.info("failure_notice.delivery_gone", extra={"delivery_id": delivery_id})
        return
    attempt = Attempt.objects.filter(pk=attempt_id).first() if attempt_id else None
    notice_sending.failure_notice_send(delivery=delivery, attempt=attempt, failure=failure)


def failure_digest_send(
    profile_id: str, counts: dict[str, int], since: str, until: str, last_attempt_id: str | None
) -> None:
    profile = _profile_get(profile_id)
    if profile is None:
        return
    last_attempt = (
        Attempt.objects.select_related("delivery__event").filter(pk=last_attempt_id).first()
        if last_attempt_id
        else None
    )
    notice_sending.failure_digest_send(
        profile=profile,
        counts=counts,
        since=parse_datetime(since),
        until=parse_datetime(until),
        last_attempt=last_attempt,
    )


def profile_abnormal_notice_send(profile_id: str, reason: str) -> None:
    profile = _profile_get(profile_id)
    if profile is not None:
        notice_sending.profile_abnormal_notice_send(profile=profile, reason=reason)


def profile_recovered_notice_send(profile_id: str) -> None:
    profile = _profile_get(profile_id)
    if profile is not None:
        notice_sending.profile_recovered_notice_send(profile=profile)


def _profile_get(profile_id: str) -> CallbackProfile | None:
    profile = CallbackProfile.objects.select_related("account").filter(pk=profile_id).first()
    if profile is None:
        logger.info("failure_notice.profile_gone", extra={"profile_id": profile_id})
    return profile


def telegram_reply_send(chat_id: int, text: str) -> None:
    """Answer a chat that wrote to the bot (sent from a worker, not from the webhook request)."""
    telegram_message_send(chat_id=chat_id, text=text)
