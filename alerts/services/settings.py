"""Reading and changing an account's alert thresholds and e-mail receivers, with field-named errors."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from alerts.models import MAX_ALERT_EMAILS, AlertSettings
from alerts.selectors import alert_recipients_get
from alerts.services.checks import balance_alert_check
from callbacks.email_addresses import email_addresses_parse
from callbacks.models import Account

MAX_TIMEOUT_MINUTES = 24 * 60
MAX_RATE_WINDOW_MINUTES = 7 * 24 * 60
MAX_REMINDER_QUIET_HOURS = 30 * 24

TRUE_WORDS = ("true", "1", "on", "yes")
FALSE_WORDS = ("false", "0", "off", "no", "")
_UNSET: Any = object()
# What `alert_settings_update` accepts (the API and the screens offer the same).
EDITABLE_FIELDS = (
    "timeout_enabled",
    "timeout_minutes",
    "rate_enabled",
    "rate_min_percent",
    "rate_window_minutes",
    "rate_min_sample",
    "balance_enabled",
    "balance_threshold_usd",
    "reminder_quiet_hours",
    "emails",
)


def _whole_number(value: Any, *, field: str, label: str, minimum: int, maximum: int, unit: str) -> int:
    """`value` as an int within bounds, or a ValidationError naming `field` that says what is wrong."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError({field: f"Enter the {label} as a whole number of {unit}."})
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError({field: f"“{value}” is not a number: enter the {label} in whole {unit}."}) from None
    if not number.is_finite():
        raise ValidationError({field: f"Enter the {label} as a whole number of {unit}."})
    if number != number.to_integral_value():
        raise ValidationError({field: f"The {label} must be a whole number of {unit}, without decimals (got {value})."})
    if number <= 0:
        raise ValidationError({field: f"The {label} must be a positive whole number of {unit} (got {value})."})
    if number < minimum:
        raise ValidationError({field: f"The {label} must be at least {minimum} {unit}."})
    if number > maximum:
        raise ValidationError({field: f"The {label} must be at most {maximum} {unit}."})
    return int(number)


def alert_emails_parse(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Comma-separated (or listed) addresses, each checked; at most five. Raises ValidationError on `emails`."""
    try:
        return email_addresses_parse(value, maximum=MAX_ALERT_EMAILS)
    except ValidationError as error:
        raise ValidationError({"emails": error.messages}) from None


def alert_settings_update(
    *,
    account: Account,
    timeout_enabled: bool = _UNSET,
    timeout_minutes: Any = _UNSET,
    rate_enabled: bool = _UNSET,
    rate_min_percent: Any = _UNSET,
    rate_window_minutes: Any = _UNSET,
    rate_min_sample: Any = _UNSET,
    balance_enabled: bool = _UNSET,
    balance_threshold_usd: Any = _UNSET,
    reminder_quiet_hours: Any = _UNSET,
    emails: str | list[str] = _UNSET,
) -> AlertSettings:
    """Change any of the thresholds and the e-mail receivers; the arguments left out stay as they are.

    Every value is checked before anything is saved. A changed balance threshold is judged at once.
    """
    numbers = {
        "timeout_minutes": (timeout_minutes, "verification timeout", 1, MAX_TIMEOUT_MINUTES, "minutes"),
        "rate_min_percent": (rate_min_percent, "minimum verification rate", 1, 100, "percent"),
        "rate_window_minutes": (rate_window_minutes, "rate window", 1, MAX_RATE_WINDOW_MINUTES, "minutes"),
        "rate_min_sample": (rate_min_sample, "minimum sample", 1, 1_000_000, "OTPs"),
        "balance_threshold_usd": (balance_threshold_usd, "balance threshold", 1, 1_000_000_000, "USD"),
        "reminder_quiet_hours": (reminder_quiet_hours, "reminder quiet period", 1, MAX_REMINDER_QUIET_HOURS, "hours"),
    }
    changes: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field, (value, label, minimum, maximum, unit) in numbers.items():
        if value is _UNSET:
            continue
        try:
            changes[field] = _whole_number(value, field=field, label=label, minimum=minimum, maximum=maximum, unit=unit)
        except ValidationError as error:
            errors.update(error.message_dict)
    for field, value in (
        ("timeout_enabled", timeout_enabled),
        ("rate_enabled", rate_enabled),
        ("balance_enabled", balance_enabled),
    ):
        if value is _UNSET:
            continue
        if str(value).lower() in TRUE_WORDS:
            changes[field] = True
        elif str(value).lower() in FALSE_WORDS:
            changes[field] = False
        else:
            errors[field] = [f"Enter true or false (got {value!r})."]
    parsed_emails = None
    if emails is not _UNSET:
        try:
            parsed_emails = alert_emails_parse(emails)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        alert_settings = AlertSettings.objects.select_for_update().filter(account=account).first()
        if alert_settings is None:
            alert_settings = AlertSettings.objects.create(account=account)
        for field, value in changes.items():
            setattr(alert_settings, field, value)
        alert_settings.save()
        if parsed_emails is not None:
            recipients = alert_recipients_get(account=account)
            recipients.emails = parsed_emails
            recipients.save(update_fields=["emails", "updated_at"])
        if {"balance_enabled", "balance_threshold_usd"} & changes.keys():
            balance_alert_check(account=account)
    return alert_settings
