"""Report subscriptions (who gets which reports) and the reports built for each period."""

from __future__ import annotations

import contextlib
import uuid
import zoneinfo

from django.db import models
from django.utils import timezone as django_timezone

from callbacks.email_addresses import email_addresses_parse
from callbacks.models import Account
from reports import periods

MAX_RECIPIENTS = 5


class Frequency(models.TextChoices):
    DAILY = periods.DAILY, "Daily"
    WEEKLY = periods.WEEKLY, "Weekly"
    MONTHLY = periods.MONTHLY, "Monthly"


def recipients_parse(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Addresses from a comma/semicolon/newline-separated string or a list, deduplicated, validated.

    Raises ValidationError naming the first address that is not valid, or saying there are too many.
    """
    return email_addresses_parse(value, maximum=MAX_RECIPIENTS)


def validate_recipients(value: list[str]) -> None:
    recipients_parse(value)


class ReportSubscription(models.Model):
    """Which reports an account receives, and where. `<frequency>_since` is when it was turned on."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="report_subscription")
    daily = models.BooleanField(default=False)
    weekly = models.BooleanField(default=False)
    monthly = models.BooleanField(default=False)
    # Only periods ending after a frequency was turned on are sent: enabling one never mails old history.
    daily_since = models.DateTimeField(null=True, blank=True)
    weekly_since = models.DateTimeField(null=True, blank=True)
    monthly_since = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_recipients],
        help_text="Up to 5 addresses; empty: the account's admin e-mail.",
    )
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "report subscription"

    def __str__(self) -> str:
        return f"Reports of {self.account}: {', '.join(self.frequencies) or 'none'}"

    @property
    def frequencies(self) -> list[str]:
        return [frequency for frequency in Frequency.values if getattr(self, frequency)]

    def enabled_since(self, frequency: str):
        return getattr(self, f"{frequency}_since")

    @property
    def effective_recipients(self) -> list[str]:
        return list(self.recipients) or [self.account.admin_email]


class Report(models.Model):
    """One period's report of one account. Created when a worker claims it; `sent_at` once mailed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="reports")
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    timezone = models.CharField(max_length=64, help_text="The account's time zone the period was computed in.")

    delivered_count = models.PositiveBigIntegerField(default=0)
    failed_count = models.PositiveBigIntegerField(default=0)
    attempt_count = models.PositiveBigIntegerField(default=0)
    failed_attempt_count = models.PositiveBigIntegerField(default=0)
    per_profile_counts = models.JSONField(
        default=list, blank=True, help_text="[{profile_id, profile_name, delivered, failed, attempts}]"
    )
    event_type_counts = models.JSONField(
        default=list, blank=True, help_text="[{profile_id, profile_name, event_type, delivered, failed, attempts}]"
    )
    failures_by_class = models.JSONField(default=dict, blank=True, help_text="error class → failed attempts")
    busiest_hour = models.DateTimeField(null=True, blank=True, help_text="Start of the hour with most deliveries.")
    busiest_hour_count = models.PositiveBigIntegerField(default=0)
    chart_series = models.JSONField(default=list, blank=True, help_text="[{start, delivered, failed}] per bucket")

    recipients = models.JSONField(default=list, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    send_attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    built_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["-period_end", "frequency"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "frequency", "period_start"], name="report_unique_account_frequency_period"
            )
        ]
        indexes = [
            models.Index(fields=["account", "frequency", "period_end"], name="report_account_freq_end"),
            # The schedule's two look-ups each run: reports of the latest periods, and reports left unsent.
            models.Index(fields=["period_end"], name="report_period_end"),
            models.Index(
                fields=["account", "frequency"], condition=models.Q(sent_at__isnull=True), name="report_unsent"
            ),
        ]

    def __str__(self) -> str:
        end = self.period_end
        with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
            end = end.astimezone(zoneinfo.ZoneInfo(self.timezone))
        return f"{self.get_frequency_display()} report of {self.account}, period ending {end:%Y-%m-%d %H:%M}"

    @property
    def period(self) -> periods.Period:
        return periods.Period(
            frequency=self.frequency, start=self.period_start, end=self.period_end, timezone=self.timezone
        )

    @property
    def total_count(self) -> int:
        return self.delivered_count + self.failed_count

    @property
    def success_rate(self) -> float | None:
        """Delivered out of finished deliveries, in percent; None when nothing finished."""
        total = self.total_count
        return round(100.0 * self.delivered_count / total, 2) if total else None
