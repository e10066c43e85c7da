"""Reads of the alerts app: verification rates, timeout counts, alerts fired."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, QuerySet

from alerts.models import Alert, AlertRecipients, AlertSettings, Verification
from callbacks.models import Account


@dataclass(frozen=True)
class VerificationRate:
    sent: int
    verified: int
    window_start: datetime
    window_end: datetime

    @property
    def percent(self) -> Decimal:
        if not self.sent:
            return Decimal(100)
        return Decimal(self.verified * 100) / Decimal(self.sent)


def verification_rate_get(*, account: Account, alert_settings: AlertSettings, now: datetime) -> VerificationRate:
    """The share of OTPs verified among those sent in the rolling window.

    The window ends `timeout_minutes` ago: OTPs still within their time to be verified are not judged yet.
    """
    window_end = now - timedelta(minutes=alert_settings.timeout_minutes)
    window_start = window_end - timedelta(minutes=alert_settings.rate_window_minutes)
    counts = Verification.objects.filter(account=account, sent_at__gt=window_start, sent_at__lte=window_end).aggregate(
        sent=Count("id"), verified=Count("id", filter=Q(verified_at__isnull=False))
    )
    return VerificationRate(
        sent=counts["sent"], verified=counts["verified"], window_start=window_start, window_end=window_end
    )


def verification_timeouts_count(*, account: Account, since: datetime, until: datetime) -> int:
    """How many OTPs of `account` timed out between `since` and `until`."""
    return Verification.objects.filter(account=account, timed_out_at__gt=since, timed_out_at__lte=until).count()


def alerts_list(*, account: Account, kind: str | None = None, state: str | None = None) -> QuerySet[Alert]:
    """The alerts `account` fired, newest first; `state` is "firing" or "resolved"."""
    alerts = Alert.objects.filter(account=account)
    if kind:
        alerts = alerts.filter(kind=kind)
    if state == "firing":
        alerts = alerts.filter(resolved_at__isnull=True)
    elif state == "resolved":
        alerts = alerts.filter(resolved_at__isnull=False)
    return alerts.order_by("-fired_at")


def alert_settings_get(*, account: Account) -> AlertSettings:
    """The account's alert settings, created with the defaults on first use."""
    alert_settings, _ = AlertSettings.objects.get_or_create(account=account)
    return alert_settings


def alert_recipients_get(*, account: Account) -> AlertRecipients:
    """The account's alert receivers (Telegram binding and e-mails), created empty on first use."""
    recipients, _ = AlertRecipients.objects.get_or_create(account=account)
    return recipients
