"""Reading and changing an account's report settings: which frequencies, which addresses."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from callbacks.models import Account
from reports.models import Frequency, ReportSubscription, recipients_parse

logger = logging.getLogger(__name__)


def report_settings_get(*, account: Account) -> ReportSubscription:
    """The account's subscription; an unsaved one with nothing enabled when it never chose any."""
    subscription = ReportSubscription.objects.select_related("account").filter(account=account).first()
    return subscription or ReportSubscription(account=account)


def report_settings_update(
    *,
    account: Account,
    frequencies: Iterable[str],
    recipients: str | Iterable[str] | None,
    now: dt.datetime | None = None,
) -> ReportSubscription:
    """Set which reports the account receives and to whom (comma-separated string or list, up to 5).

    Raises ValidationError naming the field (`frequencies` or `recipients`) and the bad value.
    """
    now = now or timezone.now()
    if isinstance(frequencies, str):
        frequencies = [part for part in frequencies.replace(" ", "").split(",") if part]
    frequencies = list(frequencies)
    unknown = [value for value in frequencies if value not in Frequency.values]
    if unknown:
        raise ValidationError(
            {"frequencies": f"“{unknown[0]}” is not a report frequency; choose from {', '.join(Frequency.values)}."}
        )
    try:
        addresses = recipients_parse(
            recipients if isinstance(recipients, str) or recipients is None else list(recipients)
        )
    except ValidationError as error:
        raise ValidationError({"recipients": error.messages}) from None

    with transaction.atomic():
        subscription, _ = ReportSubscription.objects.select_for_update().get_or_create(account=account)
        for frequency in Frequency.values:
            enabled = frequency in frequencies
            if enabled and not getattr(subscription, frequency):
                setattr(subscription, f"{frequency}_since", now)
            elif not enabled:
                setattr(subscription, f"{frequency}_since", None)
            setattr(subscription, frequency, enabled)
        subscription.recipients = addresses
        subscription.save()
    logger.info(
        "report_settings.updated",
        extra={"account_id": str(account.pk), "frequencies": subscription.frequencies, "recipients": len(addresses)},
    )
    return subscription
