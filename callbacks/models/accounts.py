"""Accounts (the platform's customers), their members and their API keys."""

from __future__ import annotations

import uuid
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone as django_timezone

from callbacks.fields import EncryptedTextField


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (e.g. Europe/Berlin, Asia/Singapore).")


class Account(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    admin_email = models.EmailField(help_text="Receives failure notices unless a profile names another address.")
    balance_usd = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    platform_account_id = models.CharField(
        max_length=64, blank=True, help_text="The account id on the messaging platform (legacy MD5 signature)."
    )
    platform_api_key = EncryptedTextField(blank=True, help_text="The platform api key (legacy MD5 signature).")
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    # Quotas an operator sets for this account; empty: the installation's default (CALLBACKS_QUOTA_*).
    quota_profiles = models.PositiveIntegerField(null=True, blank=True, help_text="Callback profiles at most.")
    quota_fanout = models.PositiveIntegerField(
        null=True, blank=True, help_text="Profiles subscribed to one event type at most (deliveries per event)."
    )
    quota_template_bytes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Bytes of a profile's body template at most."
    )
    quota_header_bytes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Bytes of a profile's headers at most (names and values)."
    )
    quota_events_per_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="Events per second through the API at most (then 429)."
    )
    quota_replay = models.PositiveIntegerField(null=True, blank=True, help_text="Deliveries in one replay at most.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ADMIN)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        verbose_name = "member"
        constraints = [models.UniqueConstraint(fields=["user", "account"], name="membership_unique_user_account")]

    def __str__(self) -> str:
        return f"{self.user} in {self.account} ({self.role})"


class ApiKey(models.Model):
    """An access token for the API. The secret is shown once; only its SHA-256 is stored."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True, help_text="The visible start of the key.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, help_text='Any of "read" and "write".')
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The key that created this one through the API: revoking it revokes this one too.",
    )
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})" if self.name else f"{self.prefix}…"

    def is_active(self, now=None) -> bool:
        now = now or django_timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
