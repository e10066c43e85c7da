"""Reads of the report history, always scoped to one account."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from callbacks.models import Account
from reports.models import Report


def report_list(*, account: Account, frequency: str | None = None, sent_only: bool = False) -> QuerySet[Report]:
    """The account's reports, newest period first."""
    reports = Report.objects.filter(account=account)
    if frequency:
        reports = reports.filter(frequency=frequency)
    if sent_only:
        reports = reports.filter(sent_at__isnull=False)
    return reports.order_by("-period_end", "frequency")


def report_get(*, account: Account, report_id: uuid.UUID | str) -> Report | None:
    """One report of the account, or None (another account's report is as absent as a missing one)."""
    try:
        report_uuid = uuid.UUID(str(report_id))
    except ValueError:
        return None
    return Report.objects.filter(account=account, pk=report_uuid).first()
