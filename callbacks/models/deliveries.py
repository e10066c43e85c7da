"""Events, their deliveries to profiles, each HTTP attempt, and the hourly rollups."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from callbacks.models.accounts import Account
from callbacks.models.profiles import CallbackProfile
from callbacks.redaction import headers_redact, url_redact


class Event(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    payload_purged_at = models.DateTimeField(null=True, blank=True)
    # No index of its own: nothing looks events up by time but retention, which has `event_payload_kept`,
    # and every event written would pay for one.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="event_unique_idempotency_key",
            )
        ]
        indexes = [
            # Retention finds the payloads still kept without walking the purged history.
            models.Index(fields=["created_at"], condition=Q(payload_purged_at__isnull=True), name="event_payload_kept"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class Delivery(models.Model):
    """One event to one profile. Its id (or its batch's) is the `webhook-id`, the same on every retry."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        HELD = "held", "Held (profile abnormal)"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of their own for account and profile: the (account, created_at) and (profile, state)
    # indexes below serve every lookup by them, and each index is written for every event ingested.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    profile = models.ForeignKey(CallbackProfile, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    event_type = models.CharField(max_length=64)
    # Set when the delivery goes out in a batch: the batch's `webhook-id`, and what keeps its members
    # together on every retry (sent again as the same batch, the same items in the same order).
    batch_id = models.UUIDField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    leased_by = models.CharField(max_length=64, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error_class = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Per-key ordering: the value at the profile's key path (null: sent without waiting for others).
    ordering_key = models.CharField(max_length=200, null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            # The claim reads only due pending rows: the index stays small whatever the history. With the
            # profile in it, skipping a saturated profile's rows needs no table reads.
            models.Index(fields=["next_attempt_at", "profile"], condition=Q(state="pending"), name="delivery_due"),
            # The fair claim finds the accounts with due work (one probe each) and takes each one's share.
            models.Index(
                fields=["account", "next_attempt_at", "profile"],
                condition=Q(state="pending"),
                name="delivery_due_by_account",
            ),
            # Per-key ordering: is an earlier delivery of this profile and key unfinished? Unfinished rows only.
            models.Index(
                fields=["profile", "ordering_key", "created_at", "event"],
                condition=Q(ordering_key__isnull=False, state__in=["pending", "held"]),
                name="delivery_key_unfinished",
            ),
            models.Index(fields=["profile", "state"], name="delivery_profile_state"),
            models.Index(fields=["account", "created_at"], name="delivery_account_created"),
            models.Index(fields=["batch_id"], condition=Q(batch_id__isnull=False), name="delivery_batch"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.profile_id} ({self.state})"


class Attempt(models.Model):
    """One HTTP try, as sent (secrets redacted) and as answered (body truncated)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    duration_ms = models.PositiveIntegerField(default=0)
    request_method = models.CharField(max_length=8)
    request_url = models.TextField()
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField(blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True)
    error_class = models.CharField(max_length=32, blank=True)
    error_detail = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(max_length=16)
    receiver_delivery_id = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"

    @property
    def request_url_shown(self) -> str:
        return url_redact(self.request_url)

    @property
    def request_headers_shown(self) -> dict:
        return headers_redact(self.request_headers or {})


class DeliveryStats(models.Model):
    """Counters per profile × event type × hour, kept as attempts are recorded."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="delivery_stats")
    profile = models.ForeignKey(CallbackProfile, on_delete=models.CASCADE, related_name="stats")
    event_type = models.CharField(max_length=64)
    hour = models.DateTimeField()
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    failed_attempts = models.PositiveIntegerField(default=0)
    failures_by_class = models.JSONField(default=dict, blank=True, help_text="error class → failed attempts")

    class Meta:
        verbose_name_plural = "delivery stats"
        constraints = [
            models.UniqueConstraint(fields=["profile", "event_type", "hour"], name="stats_unique_profile_type_hour")
        ]
        indexes = [models.Index(fields=["account", "hour"], name="stats_account_hour")]

    def __str__(self) -> str:
        return f"{self.profile_id} {self.event_type} {self.hour:%Y-%m-%d %H}:00"
