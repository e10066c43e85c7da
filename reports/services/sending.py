"""Sending due reports exactly once per (account, frequency, period), whatever the number of workers.

A worker claims a period by inserting its `Report` row (unique per account, frequency and period
start); a racing worker's insert fails and it moves on. The claim is a lease: if the claimer dies
before sending, the row stays unsent and the next run re-claims it once the lease has ended, so a
period is sent late rather than never. A period missed while the cluster was down is found on the
next run; at most `MAX_CATCH_UP_PERIODS` per frequency, oldest first, so a long outage does not
flood an inbox. A report is mailed at most once unless a worker dies between mailing and recording.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import uuid

from django.conf import settings
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from callbacks import metrics
from callbacks.models import Account
from reports import periods
from reports.building import report_build
from reports.emails import report_email_compose
from reports.models import Report, ReportSubscription
from reports.periods import Period

logger = logging.getLogger(__name__)

CLAIM_LEASE = dt.timedelta(minutes=10)
MAX_CATCH_UP_PERIODS = {periods.DAILY: 7, periods.WEEKLY: 4, periods.MONTHLY: 3}
MAX_ERROR_CHARS = 500
MAIL_TIMEOUT_S = 60


def worker_id_new() -> str:
    """A name for one run: host, process and a random part, unique across machines and threads."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def report_periods_due(*, subscription: ReportSubscription, frequency: str, now: dt.datetime) -> list[Period]:
    """Periods of `frequency` the subscription should have received by `now` and has not, oldest first."""
    account = subscription.account
    candidates = periods.periods_due(
        frequency=frequency,
        timezone=account.timezone,
        now=now,
        since=subscription.enabled_since(frequency),
        limit=MAX_CATCH_UP_PERIODS[frequency],
    )
    if not candidates:
        return []
    sent = list(
        Report.objects.filter(
            account=account, frequency=frequency, sent_at__isnull=False, period_end__gt=candidates[0].start
        ).values_list("period_start", "period_end")
    )
    due = []
    for period in candidates:
        # After a change of the account's time zone the boundaries move: a period that sent reports
        # already cover is skipped, and one they cover in part starts where they end (no overlap, no gap).
        covered_until = max((end for start, end in sent if period.start < end and start < period.end), default=None)
        if covered_until is None:
            due.append(period)
        elif covered_until < period.end:
            due.append(dataclasses.replace(period, start=max(period.start, covered_until)))
    return due


def report_claim(*, account: Account, period: Period, worker_id: str, now: dt.datetime) -> Report | None:
    """Claim the period's report for `worker_id`; None when it is sent or another worker holds it."""
    lease_ends = now + CLAIM_LEASE
    try:
        with transaction.atomic():
            return Report.objects.create(
                account=account,
                frequency=period.frequency,
                period_start=period.start,
                period_end=period.end,
                timezone=period.timezone,
                claimed_by=worker_id,
                claim_expires_at=lease_ends,
                created_at=now,
            )
    except IntegrityError:
        pass
    # The row exists: take it over only if unsent and nobody holds a live lease. One UPDATE with
    # the condition in its WHERE clause, so of two racing workers exactly one changes the row.
    with transaction.atomic():
        taken = (
            Report.objects.filter(
                account=account, frequency=period.frequency, period_start=period.start, sent_at__isnull=True
            )
            .filter(Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lte=now))
            .update(claimed_by=worker_id, claim_expires_at=lease_ends)
        )
    if not taken:
        return None
    return Report.objects.get(account=account, frequency=period.frequency, period_start=period.start)


def report_send(*, report: Report, recipients: list[str], now: dt.datetime) -> bool:
    """Build `report` from the rollups, mail it and record it as sent; False (and the error kept) if mailing failed."""
    report_build(account=report.account, period=report.period, now=now, report=report)
    report.recipients = recipients
    report.send_attempts += 1
    try:
        # A bounded wait on the mail server keeps a send well inside the claim's lease.
        connection = get_connection(timeout=settings.EMAIL_TIMEOUT or MAIL_TIMEOUT_S)
        message = report_email_compose(report=report, recipients=recipients)
        message.connection = connection
        message.send()
    except Exception as error:  # the mail server's errors vary; any of them means "retry next run"
        report.last_error = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
        report.claim_expires_at = None
        report.save()
        logger.warning(
            "report.send_failed",
            extra={"report_id": str(report.pk), "account_id": str(report.account_id), "error": report.last_error},
        )
        return False
    report.sent_at = now
    report.last_error = ""
    report.claim_expires_at = None
    report.save()
    metrics.reports_sent.labels(frequency=report.frequency).inc()
    logger.info(
        "report.sent",
        extra={
            "report_id": str(report.pk),
            "account_id": str(report.account_id),
            "frequency": report.frequency,
            "period_start": report.period_start.isoformat(),
            "recipients": len(recipients),
            "late_by_s": round((now - report.period_end).total_seconds()),
        },
    )
    return True


def reports_send_due(*, now: dt.datetime | None = None, worker_id: str | None = None) -> list[Report]:
    """Send every report due at `now` that no worker has sent; returns the reports this call sent."""
    now = now or timezone.now()
    worker_id = worker_id or worker_id_new()
    sent: list[Report] = []
    subscriptions = (
        ReportSubscription.objects.select_related("account")
        .filter(Q(daily=True) | Q(weekly=True) | Q(monthly=True))
        .order_by("pk")
    )
    for subscription, frequencies in _subscriptions_to_check(subscriptions=list(subscriptions), now=now):
        try:
            sent.extend(
                _subscription_send_due(subscription=subscription, frequencies=frequencies, worker_id=worker_id, now=now)
            )
        except Exception:  # one account's broken data must not hold back every other account's reports
            logger.exception("report.account_failed", extra={"account_id": str(subscription.account_id)})
    return sent


def _subscriptions_to_check(
    *, subscriptions: list[ReportSubscription], now: dt.datetime
) -> list[tuple[ReportSubscription, list[str]]]:
    """The subscriptions and frequencies that may have something to send, found with two queries.

    Reports go out oldest first, so when the latest period of a frequency is sent, so are the ones
    before it, unless a report is left unsent (a claim whose worker died, a mail server error):
    those accounts are always looked at in full.
    """
    latest_ends: dict[tuple[int, str], dt.datetime] = {}
    to_check: dict[int, list[str]] = {}
    for subscription in subscriptions:
        for frequency in subscription.frequencies:
            try:
                end = periods.send_time_latest(frequency=frequency, timezone=subscription.account.timezone, now=now)
            except Exception:  # a broken time zone: let the full check log it
                to_check.setdefault(subscription.pk, []).append(frequency)
                continue
            since = subscription.enabled_since(frequency)
            if since is None or end > since:
                latest_ends[(subscription.pk, frequency)] = end
    by_pk = {subscription.pk: subscription for subscription in subscriptions}
    sent_latest = set(
        Report.objects.filter(sent_at__isnull=False, period_end__in=set(latest_ends.values())).values_list(
            "account_id", "frequency", "period_end"
        )
    )
    unsent = set(Report.objects.filter(sent_at__isnull=True).values_list("account_id", "frequency"))
    for (pk, frequency), end in latest_ends.items():
        account_id = by_pk[pk].account_id
        if (account_id, frequency, end) not in sent_latest or (account_id, frequency) in unsent:
            to_check.setdefault(pk, []).append(frequency)
    return [
        (subscription, [frequency for frequency in subscription.frequencies if frequency in to_check[subscription.pk]])
        for subscription in subscriptions
        if subscription.pk in to_check
    ]


def _subscription_send_due(
    *, subscription: ReportSubscription, frequencies: list[str], worker_id: str, now: dt.datetime
) -> list[Report]:
    sent: list[Report] = []
    for frequency in frequencies:
        for period in report_periods_due(subscription=subscription, frequency=frequency, now=now):
            report = report_claim(account=subscription.account, period=period, worker_id=worker_id, now=now)
            if report is None:
                continue
            if not report_send(report=report, recipients=subscription.effective_recipients, now=now):
                break  # keep the periods in order: the next run retries this one first
            sent.append(report)
    return sent
