"""What each notice says: masked URLs, the event's contact fields, times in the account's timezone."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from alerts.failure_classes import failure_class_text
from alerts.models import Alert
from callbacks.models import Account, Attempt, CallbackProfile, Delivery
from callbacks.redaction import url_redact

MASK = "****"
RESPONSE_BODY_PREVIEW_CHARS = 500
# The event's fields a notice shows, each with the payload keys it may come from.
EVENT_FIELDS = (
    ("resource", ("resource", "resource_url", "location", "url")),
    ("name", ("name", "full_name")),
    ("mobile", ("mobile", "phone", "msisdn", "to")),
    ("email", ("email",)),
    ("channel", ("channel",)),
    ("content", ("content", "text", "message")),
)


def url_mask(url: str) -> str:
    """`url` with its password and any secret query values replaced by **** (the log's rule)."""
    return url_redact(url, mask=MASK)


def screen_link(url_name: str, *args: Any, query: str = "") -> str:
    """The absolute address of an admin screen, e.g. a delivery in the delivery log, for links in notices."""
    return f"{settings.SITE_URL}{reverse(f'admin:{url_name}', args=args)}{query}"


def local_time(moment: datetime | None, account: Account) -> str:
    """`moment` in the account's timezone, e.g. "2026-11-23 10:32:00 CET"."""
    if moment is None:
        return ""
    try:
        zone = zoneinfo.ZoneInfo(account.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def event_fields(payload: Any) -> list[tuple[str, str]]:
    """The event's resource, name, mobile, e-mail, channel and content, those present, in that order."""
    data = payload if isinstance(payload, dict) else {}
    fields = []
    for label, keys in EVENT_FIELDS:
        value = next((data[key] for key in keys if data.get(key) not in (None, "")), None)
        if value is not None:
            fields.append((label, str(value)))
    return fields


def failure_notice_context(
    *, delivery: Delivery, attempt: Attempt | None, failure: str, profile: CallbackProfile
) -> dict[str, Any]:
    """Everything the failure-notice e-mail shows about one failed callback."""
    text = failure_class_text(failure)
    body = attempt.response_body if attempt else ""
    status = attempt.response_status if attempt else delivery.last_status_code
    error = (attempt.error_detail or attempt.error_class) if attempt else delivery.last_error_class
    if status and error == f"http_{status}":  # the status says it already
        error = ""
    return {
        "profile": profile,
        "account": profile.account,
        "callback_id": str(delivery.pk),
        "event_id": str(delivery.event_id),
        "event_type": delivery.event_type,
        "failed_at": local_time(attempt.started_at if attempt else delivery.created_at, profile.account),
        "attempt_number": attempt.number if attempt else delivery.attempt_count,
        "failure": failure,
        "failure_label": text.label,
        "advice": text.advice,
        "status": status,
        "error": error,
        "response_preview": body[:RESPONSE_BODY_PREVIEW_CHARS],
        "response_truncated": len(body) > RESPONSE_BODY_PREVIEW_CHARS,
        "url": url_mask(attempt.request_url if attempt and attempt.request_url else profile.url),
        "method": attempt.request_method if attempt and attempt.request_method else profile.http_method,
        "event_fields": event_fields(delivery.event.payload),
        "link": screen_link("callbacks_delivery_change", delivery.pk),
    }


def alert_text(*, alert: Alert, notice: str) -> str:
    """The alert as a short message for Telegram (and the e-mail's first line)."""
    heading = {"fired": "Alert", "reminder": "Still firing", "resolved": "Resolved"}.get(notice, "Alert")
    return f"{heading}: {alert.get_kind_display()} ({alert.account.name})\n{alert.message}"


def alert_figures(*, alert: Alert) -> list[tuple[str, str]]:
    """The alert's measured value and its threshold, each in its own unit (a count is not minutes)."""
    if alert.kind == Alert.Kind.VERIFICATION_TIMEOUT:
        count = int(alert.value)
        return [
            ("Timed out in the last hour", f"{count} verification{'' if count == 1 else 's'}"),
            ("Timeout", f"not verified within {int(alert.threshold)} minutes"),
        ]
    if alert.kind == Alert.Kind.VERIFICATION_RATE_LOW:
        return [("Verification rate", f"{alert.value:.1f} %"), ("Minimum", f"{alert.threshold:.0f} %")]
    if alert.kind == Alert.Kind.BALANCE_LOW:
        return [("Balance", f"{alert.value:.2f} USD"), ("Threshold", f"{alert.threshold:.0f} USD")]
    return [("Value", str(alert.value)), ("Threshold", str(alert.threshold))]


def alert_subject(*, alert: Alert, notice: str) -> str:
    prefix = {"fired": "Alert", "reminder": "Reminder", "resolved": "Resolved"}.get(notice, "Alert")
    return f"{prefix}: {alert.get_kind_display()} for {alert.account.name}"
