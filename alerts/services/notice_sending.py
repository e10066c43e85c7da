"""Sending alerts and failure notices to their receivers (run by the django-q2 workers, never inline)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from alerts.failure_classes import failure_class_text
from alerts.models import Alert, AlertRecipients
from alerts.notices import (
    alert_figures,
    alert_subject,
    alert_text,
    failure_notice_context,
    local_time,
    screen_link,
    url_mask,
)
from alerts.notifiers.email import email_send
from alerts.telegram import telegram_is_configured, telegram_message_send
from callbacks import clock, metrics
from callbacks.models import Attempt, CallbackProfile, Delivery

logger = logging.getLogger(__name__)


def alert_notice_send(*, alert: Alert, notice: str, sleep: Callable[[float], None] = time.sleep) -> list[dict]:
    """Send one notice of `alert` to the bound Telegram chat and the alert e-mails; record where it went."""
    recipients = AlertRecipients.objects.filter(account=alert.account).first()
    sent: list[dict] = []
    now = clock.now().isoformat()
    text = alert_text(alert=alert, notice=notice)
    if recipients and recipients.telegram_chat_id is not None and telegram_is_configured():
        result = telegram_message_send(chat_id=recipients.telegram_chat_id, text=text, sleep=sleep)
        sent.append(
            {
                "notice": notice,
                "channel": "telegram",
                "to": recipients.telegram_chat_label or str(recipients.telegram_chat_id),
                "ok": result.ok,
                "error": result.error,
                "at": now,
            }
        )
    if recipients and recipients.emails:
        entry = {"notice": notice, "channel": "email", "to": list(recipients.emails), "ok": True, "at": now}
        try:
            email_send(
                to=recipients.emails,
                subject=alert_subject(alert=alert, notice=notice),
                template="alert",
                context={
                    "alert": alert,
                    "account": alert.account,
                    "notice": notice,
                    "text": text,
                    "figures": alert_figures(alert=alert),
                    "fired_at": local_time(alert.fired_at, alert.account),
                    "resolved_at": local_time(alert.resolved_at, alert.account),
                    "link": screen_link("alerts_configure"),
                },
            )
        except Exception as error:  # the mail server refused: record it with the alert, like Telegram's failures
            logger.exception("alert.email_failed", extra={"alert_id": str(alert.pk)})
            entry.update(ok=False, error=f"{error.__class__.__name__}: {error}"[:300])
        sent.append(entry)
    if sent:
        Alert.objects.filter(pk=alert.pk).update(sent_to=[*alert.sent_to, *sent])
    for entry in sent:
        if entry["ok"]:
            metrics.alerts_sent.labels(channel=entry["channel"]).inc()
    logger.info("alert.sent", extra={"alert_id": str(alert.pk), "notice": notice, "channels": len(sent)})
    return sent


def _notice_send(*, kind: str, profile: CallbackProfile, subject: str, template: str, context: dict) -> bool:
    """E-mail a notice about `profile` to its failure-notice addresses, counted in the metrics when sent."""
    sent = email_send(to=profile.failure_notice_recipients, subject=subject, template=template, context=context)
    if sent:
        metrics.failure_notices_sent.labels(kind=kind).inc()
    return sent


def failure_notice_send(*, delivery: Delivery, attempt: Attempt | None, failure: str) -> bool:
    """E-mail the first failure of a streak to the profile's failure-notice address."""
    profile = delivery.profile
    context = failure_notice_context(delivery=delivery, attempt=attempt, failure=failure, profile=profile)
    status = f"HTTP {context['status']}" if context["status"] else failure_class_text(failure).label
    return _notice_send(
        kind="first",
        profile=profile,
        subject=f"Callback to “{profile.name}” failed: {status}",
        template="failure_notice",
        context=context,
    )


def failure_digest_send(
    *, profile: CallbackProfile, counts: dict[str, int], since: datetime, until: datetime, last_attempt: Attempt | None
) -> bool:
    """E-mail the failures counted since the last notice, per failure class."""
    total = sum(counts.values())
    rows = [(failure_class_text(failure).label, count) for failure, count in sorted(counts.items())]
    context = {
        "profile": profile,
        "account": profile.account,
        "total": total,
        "rows": rows,
        "since": local_time(since, profile.account),
        "until": local_time(until, profile.account),
        "url": url_mask(profile.url),
        "last": failure_notice_context(
            delivery=last_attempt.delivery, attempt=last_attempt, failure=next(iter(counts), ""), profile=profile
        )
        if last_attempt
        else None,
        "link": screen_link("callbacks_delivery_changelist", query=f"?profile={profile.pk}"),
    }
    noun = "failure" if total == 1 else "failures"
    return _notice_send(
        kind="digest",
        profile=profile,
        subject=f"{total} callback {noun} for “{profile.name}” in the last hour",
        template="failure_digest",
        context=context,
    )


def _profile_state_context(profile: CallbackProfile, **extra: object) -> dict:
    return {
        "profile": profile,
        "account": profile.account,
        "url": url_mask(profile.url),
        "link": screen_link("callbacks_callbackprofile_change", profile.pk),
        **extra,
    }


def profile_abnormal_notice_send(*, profile: CallbackProfile, reason: str) -> bool:
    """E-mail that the profile turned abnormal: it is no longer called until it recovers."""
    since = local_time(profile.abnormal_since or clock.now(), profile.account)
    return _notice_send(
        kind="abnormal",
        profile=profile,
        subject=f"Callback profile “{profile.name}” disabled: it kept failing",
        template="profile_abnormal",
        context=_profile_state_context(profile, reason=reason, since=since),
    )


def profile_recovered_notice_send(*, profile: CallbackProfile) -> bool:
    """E-mail that the abnormal profile answered again and is called again."""
    return _notice_send(
        kind="recovered",
        profile=profile,
        subject=f"Callback profile “{profile.name}” recovered",
        template="profile_recovered",
        context=_profile_state_context(profile, at=local_time(clock.now(), profile.account)),
    )
