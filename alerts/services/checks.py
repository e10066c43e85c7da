"""Judging each alert's condition: insufficient balance, low verification rate, verification timeouts."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from alerts.models import Alert, AlertSettings
from alerts.selectors import alert_settings_get, verification_rate_get, verification_timeouts_count
from alerts.services.alerting import Reading, alert_evaluate
from alerts.services.verifications import verification_timeouts_emit
from callbacks import clock
from callbacks.models import Account

TIMEOUT_DIGEST_WINDOW = timedelta(hours=1)


def _alert_close_quietly(*, account: Account, kind: str, now: datetime) -> None:
    """An alert turned off stops firing without a "resolved" notice; turned on again it can fire anew."""
    Alert.objects.filter(account=account, kind=kind, resolved_at__isnull=True).update(
        resolved_at=now, details={"closed": "alert turned off"}
    )


def _quiet_period(alert_settings: AlertSettings) -> timedelta:
    return timedelta(hours=alert_settings.reminder_quiet_hours)


def balance_alert_check(
    *, account: Account, now: datetime | None = None, alert_settings: AlertSettings | None = None
) -> str | None:
    """Fire, remind or resolve the insufficient-balance alert from the stored balance."""
    now = now or clock.now()
    alert_settings = alert_settings or alert_settings_get(account=account)
    if not alert_settings.balance_enabled:
        _alert_close_quietly(account=account, kind=Alert.Kind.BALANCE_LOW, now=now)
        return None
    balance = Account.objects.values_list("balance_usd", flat=True).get(pk=account.pk)
    threshold = Decimal(alert_settings.balance_threshold_usd)
    crossed = balance < threshold
    reading = Reading(
        crossed=crossed,
        value=balance,
        threshold=threshold,
        message=(
            f"Balance ${balance:.2f} is below the ${threshold:.0f} threshold: top up to keep sending."
            if crossed
            else f"Balance ${balance:.2f} is back above the ${threshold:.0f} threshold."
        ),
        details={"balance_usd": f"{balance:.2f}", "threshold_usd": alert_settings.balance_threshold_usd},
    )
    return alert_evaluate(
        account=account,
        kind=Alert.Kind.BALANCE_LOW,
        reading=reading,
        now=now,
        quiet_period=_quiet_period(alert_settings),
    )


def verification_rate_alert_check(
    *, account: Account, now: datetime | None = None, alert_settings: AlertSettings | None = None
) -> str | None:
    """Fire, remind or resolve the low-verification-rate alert over the rolling window."""
    now = now or clock.now()
    alert_settings = alert_settings or alert_settings_get(account=account)
    if not alert_settings.rate_enabled:
        _alert_close_quietly(account=account, kind=Alert.Kind.VERIFICATION_RATE_LOW, now=now)
        return None
    rate = verification_rate_get(account=account, alert_settings=alert_settings, now=now)
    threshold = Decimal(alert_settings.rate_min_percent)
    # Too few OTPs to judge (None): the alert keeps its state.
    crossed = None if rate.sent < alert_settings.rate_min_sample else rate.percent < threshold
    window = alert_settings.rate_window_minutes
    reading = Reading(
        crossed=crossed,
        value=rate.percent.quantize(Decimal("0.01")),
        threshold=threshold,
        message=(
            f"Verification rate {rate.percent:.1f}% ({rate.verified} of {rate.sent} OTPs) over the last "
            f"{window} minutes is below the {threshold:.0f}% minimum."
            if crossed
            else f"Verification rate {rate.percent:.1f}% over the last {window} minutes is back above "
            f"the {threshold:.0f}% minimum."
        ),
        details={
            "rate_percent": float(rate.percent.quantize(Decimal("0.1"))),
            "threshold_percent": alert_settings.rate_min_percent,
            "window_minutes": window,
            "sent": rate.sent,
            "verified": rate.verified,
        },
    )
    return alert_evaluate(
        account=account,
        kind=Alert.Kind.VERIFICATION_RATE_LOW,
        reading=reading,
        now=now,
        quiet_period=_quiet_period(alert_settings),
    )


def verification_timeout_alert_check(
    *, account: Account, now: datetime | None = None, alert_settings: AlertSettings | None = None
) -> str | None:
    """The digest alert: "N verifications timed out in the last hour", once per streak of timeouts."""
    now = now or clock.now()
    alert_settings = alert_settings or alert_settings_get(account=account)
    if not alert_settings.timeout_enabled:
        _alert_close_quietly(account=account, kind=Alert.Kind.VERIFICATION_TIMEOUT, now=now)
        return None
    count = verification_timeouts_count(account=account, since=now - TIMEOUT_DIGEST_WINDOW, until=now)
    noun = "verification" if count == 1 else "verifications"
    reading = Reading(
        crossed=count > 0,
        value=Decimal(count),
        threshold=Decimal(alert_settings.timeout_minutes),
        message=(
            f"{count} {noun} timed out in the last hour (not verified within {alert_settings.timeout_minutes} minutes)."
            if count
            else "No verification timed out in the last hour."
        ),
        details={"timed_out_last_hour": count, "timeout_minutes": alert_settings.timeout_minutes},
    )
    return alert_evaluate(
        account=account,
        kind=Alert.Kind.VERIFICATION_TIMEOUT,
        reading=reading,
        now=now,
        quiet_period=_quiet_period(alert_settings),
    )


def alerts_check(*, account: Account, now: datetime | None = None) -> None:
    """One scheduled pass over an account: emit overdue timeouts, then judge every alert."""
    now = now or clock.now()
    alert_settings = alert_settings_get(account=account)
    verification_timeouts_emit(account=account, now=now)
    verification_timeout_alert_check(account=account, now=now, alert_settings=alert_settings)
    verification_rate_alert_check(account=account, now=now, alert_settings=alert_settings)
    balance_alert_check(account=account, now=now, alert_settings=alert_settings)


def alerts_check_all(*, now: datetime | None = None) -> int:
    """Run `alerts_check` for every account with an alert turned on or still open; returns how many."""
    now = now or clock.now()
    enabled = (
        AlertSettings.objects.filter(timeout_enabled=True)
        | AlertSettings.objects.filter(rate_enabled=True)
        | AlertSettings.objects.filter(balance_enabled=True)
    )
    account_ids = set(enabled.values_list("account_id", flat=True))
    account_ids |= set(Alert.objects.filter(resolved_at__isnull=True).values_list("account_id", flat=True))
    for account in Account.objects.filter(pk__in=account_ids):
        alerts_check(account=account, now=now)
    return len(account_ids)
