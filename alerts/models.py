"""Alert thresholds, receivers, the OTP verifications they watch, alerts fired and failure-notice state."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from callbacks.models import Account, CallbackProfile

DEFAULT_TIMEOUT_MINUTES = 5
DEFAULT_RATE_MIN_PERCENT = 70
DEFAULT_RATE_WINDOW_MINUTES = 60
DEFAULT_RATE_MIN_SAMPLE = 20
DEFAULT_BALANCE_THRESHOLD_USD = 50
DEFAULT_REMINDER_QUIET_HOURS = 24
MAX_ALERT_EMAILS = 5


class AlertSettings(models.Model):
    """Per account: which alerts are on and their thresholds (the "Configure events" screen)."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="alert_settings")
    timeout_enabled = models.BooleanField(default=False, verbose_name="timeout without verification")
    timeout_minutes = models.PositiveIntegerField(
        default=DEFAULT_TIMEOUT_MINUTES, help_text="Minutes within which an OTP must be verified."
    )
    rate_enabled = models.BooleanField(default=False, verbose_name="low verification rate")
    rate_min_percent = models.PositiveIntegerField(
        default=DEFAULT_RATE_MIN_PERCENT, help_text="Minimum acceptable verification rate (%)."
    )
    rate_window_minutes = models.PositiveIntegerField(
        default=DEFAULT_RATE_WINDOW_MINUTES, help_text="The rolling window the rate is measured over."
    )
    rate_min_sample = models.PositiveIntegerField(
        default=DEFAULT_RATE_MIN_SAMPLE, help_text="OTPs sent in the window before the rate is judged."
    )
    balance_enabled = models.BooleanField(default=False, verbose_name="insufficient balance")
    balance_threshold_usd = models.PositiveIntegerField(
        default=DEFAULT_BALANCE_THRESHOLD_USD, help_text="Alert when the balance falls below this many USD."
    )
    reminder_quiet_hours = models.PositiveIntegerField(
        default=DEFAULT_REMINDER_QUIET_HOURS, help_text="Remind of an alert still firing after this many hours."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "alert settings"
        verbose_name_plural = "alert settings"

    def __str__(self) -> str:
        return f"Alert settings of {self.account}"


class AlertRecipients(models.Model):
    """Per account: the bound Telegram chat and up to five e-mail addresses."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="alert_recipients")
    emails = models.JSONField(default=list, blank=True, help_text="Up to 5 addresses.")
    telegram_chat_id = models.BigIntegerField(null=True, blank=True)
    telegram_chat_label = models.CharField(max_length=200, blank=True, help_text="Who is bound (name or @user).")
    telegram_bound_at = models.DateTimeField(null=True, blank=True)
    # A single-use binding token, shown in the START BOT link until it is used or expires.
    telegram_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    telegram_token_expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "alert recipients"
        verbose_name_plural = "alert recipients"

    def __str__(self) -> str:
        return f"Alert recipients of {self.account}"


class Verification(models.Model):
    """One OTP sent (from `otp.sent`) and whether and when it was verified (from `otp.verified`)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="verifications")
    message_id = models.CharField(max_length=200)
    phone = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    timed_out_at = models.DateTimeField(null=True, blank=True, help_text="When the timeout event was emitted.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "message_id"], name="verification_unique_message"),
        ]
        indexes = [
            models.Index(fields=["account", "sent_at"], name="verification_account_sent"),
            # The timeout check reads only unverified rows not yet reported.
            models.Index(
                fields=["sent_at"],
                condition=Q(verified_at__isnull=True, timed_out_at__isnull=True),
                name="verification_overdue",
            ),
            models.Index(fields=["account", "timed_out_at"], name="verification_account_timeout"),
            models.Index(fields=["sent_at"], name="verification_sent"),
        ]

    def __str__(self) -> str:
        return f"OTP {self.message_id}"


class Alert(models.Model):
    """One alert that fired: it stays open (unresolved) while its threshold stays crossed."""

    class Kind(models.TextChoices):
        VERIFICATION_TIMEOUT = "verification_timeout", "Verifications timed out"
        VERIFICATION_RATE_LOW = "verification_rate_low", "Low verification rate"
        BALANCE_LOW = "balance_low", "Insufficient balance"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    value = models.DecimalField(max_digits=14, decimal_places=2, help_text="The measured value when last checked.")
    threshold = models.DecimalField(max_digits=14, decimal_places=2)
    message = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    fired_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField(default=timezone.now)
    reminders_sent = models.PositiveIntegerField(default=0)
    sent_to = models.JSONField(default=list, blank=True, help_text="Where its notices went.")

    class Meta:
        ordering = ["-fired_at"]
        constraints = [
            # At most one open alert per account and kind: crossing fires once.
            models.UniqueConstraint(
                fields=["account", "kind"], condition=Q(resolved_at__isnull=True), name="alert_one_open_per_kind"
            ),
        ]
        indexes = [models.Index(fields=["account", "fired_at"], name="alert_account_fired")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({'resolved' if self.resolved_at else 'firing'})"

    @property
    def state(self) -> str:
        return "resolved" if self.resolved_at else "firing"


class FailureNoticeState(models.Model):
    """Per profile: the current failure streak and the failures counted since the last e-mail."""

    profile = models.OneToOneField(CallbackProfile, on_delete=models.CASCADE, related_name="failure_notice_state")
    streak_started_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_notice_at = models.DateTimeField(null=True, blank=True, help_text="The last failure notice or digest.")
    pending_counts = models.JSONField(default=dict, blank=True, help_text="failure class → failures not yet told")
    pending_since = models.DateTimeField(null=True, blank=True)
    pending_last_attempt_id = models.UUIDField(null=True, blank=True)
    notices_sent = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["pending_since"], name="failure_notice_pending")]

    def __str__(self) -> str:
        return f"Failure notices of {self.profile_id}"
