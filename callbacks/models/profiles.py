"""The event catalogue and callback profiles: where and how a customer is called back."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from callbacks import event_types
from callbacks.fields import EncryptedTextField
from callbacks.models.accounts import Account

DEFAULT_RETRY_SCHEDULE_S = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_RESPONSE_TIMEOUT_S = 60.0
DEFAULT_MAX_IN_FLIGHT = 20


class EventType(models.Model):
    """A row per code of `callbacks.event_types.REGISTRY`, kept in step after every migrate."""

    code = models.CharField(max_length=64, primary_key=True)
    category = models.CharField(max_length=32)
    description = models.TextField(blank=True)
    example = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["category", "code"]

    def __str__(self) -> str:
        return self.code

    @property
    def category_label(self) -> str:
        return event_types.Category.LABELS.get(self.category, self.category)


class AliveProfileManager(models.Manager):
    """The default manager: a deleted profile is gone from every list, form and API answer."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(deleted_at__isnull=True)


class CallbackProfile(models.Model):
    class Status(models.TextChoices):
        ENABLED = "enabled", "Enabled"
        DISABLED = "disabled", "Disabled"
        ABNORMAL = "abnormal", "Abnormal"

    class HttpMethod(models.TextChoices):
        GET = "GET", "GET"
        POST = "POST", "POST"
        PUT = "PUT", "PUT"
        DELETE = "DELETE", "DELETE"

    class BodyType(models.TextChoices):
        JSON = "json", "JSON"
        XML = "xml", "XML"
        HTML = "html", "HTML"
        TEXT = "text", "Text"

    class Cipher(models.TextChoices):
        NONE = "", "No encryption"
        AES_128_CFB = "aes-128-cfb", "AES-128-CFB"
        AES_192_CFB = "aes-192-cfb", "AES-192-CFB"
        AES_256_CFB = "aes-256-cfb", "AES-256-CFB"
        AES_128_GCM = "aes-128-gcm", "AES-128-GCM"
        AES_192_GCM = "aes-192-gcm", "AES-192-GCM"
        AES_256_GCM = "aes-256-gcm", "AES-256-GCM"

    class Ordering(models.TextChoices):
        NONE = "none", "None: in parallel, fastest"
        PER_KEY = "per_key", "Per key: one at a time for each key, in order"

    class ResponseContract(models.TextChoices):
        HTTP = "http", "Plain HTTP (2xx succeeds)"
        ENVELOPE = "envelope", "Status envelope (status_code 000 / 001 / 900 / 901 / 999)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="callback_profiles")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    url = models.URLField(max_length=2048)
    http_method = models.CharField("HTTP method", max_length=8, choices=HttpMethod.choices, default=HttpMethod.POST)
    headers = models.JSONField(default=dict, blank=True, help_text="Extra request headers, name → value.")
    body_type = models.CharField(max_length=8, choices=BodyType.choices, default=BodyType.JSON)
    body_template = models.TextField(blank=True, help_text="Empty: the standard envelope {id, type, timestamp, data}.")

    auth_username = models.CharField(max_length=200, blank=True)
    auth_password = EncryptedTextField(blank=True)
    auth_header = EncryptedTextField(blank=True, help_text="A literal Authorization header value.")

    sign_standard_webhooks = models.BooleanField(default=True)
    signing_secret = EncryptedTextField(blank=True, help_text="whsec_…")
    previous_signing_secret = EncryptedTextField(blank=True)
    previous_signing_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Secrets retired before the previous one that still sign: JSON [[secret, unix seconds it stops], …].
    older_signing_secrets = EncryptedTextField(blank=True)
    # Standard Webhooks v1a: ed25519, beside or instead of v1; receivers verify with the public key (whpk_…).
    sign_v1a = models.BooleanField(default=False)
    signing_private_key = EncryptedTextField(blank=True, help_text="whsk_… (ed25519; only its public key is shown)")
    # Keys retired in the last 24 hours still sign: JSON [[private key, unix seconds it stops], …].
    retired_signing_keys = EncryptedTextField(blank=True)
    sign_md5 = models.BooleanField(default=False)
    md5_salt = EncryptedTextField(blank=True)

    encryption_cipher = models.CharField(max_length=16, choices=Cipher.choices, blank=True, default="")
    encryption_key = EncryptedTextField(blank=True)
    encryption_iv = models.CharField(max_length=16, blank=True)
    encryption_iv_random = models.BooleanField(
        default=True, help_text="A random IV per message, sent before the ciphertext."
    )
    encryption_fields = models.JSONField(default=list, blank=True, help_text="Paths of the parameters to encrypt.")

    batch_max_size = models.PositiveIntegerField(default=1)
    batch_max_wait_ms = models.PositiveIntegerField(default=0)
    ordering = models.CharField(max_length=8, choices=Ordering.choices, default=Ordering.NONE)
    ordering_key_path = models.CharField(
        max_length=200, blank=True, help_text="Path in the event data; empty: each event type's default (message_id)."
    )
    response_contract = models.CharField(max_length=16, choices=ResponseContract.choices, default=ResponseContract.HTTP)
    connect_timeout_s = models.FloatField(default=DEFAULT_CONNECT_TIMEOUT_S)
    response_timeout_s = models.FloatField(default=DEFAULT_RESPONSE_TIMEOUT_S)
    retry_schedule_s = models.JSONField(default=list, blank=True, help_text="Seconds before each retry.")
    max_in_flight = models.PositiveIntegerField(default=DEFAULT_MAX_IN_FLIGHT)
    failure_notice_emails = models.JSONField(default=list, blank=True, help_text="Up to 5 addresses.")

    event_types = models.ManyToManyField(EventType, blank=True, related_name="profiles")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENABLED, db_index=True)
    status_reason = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    exhausted_deliveries = models.PositiveIntegerField(default=0, help_text="Deliveries failed since the last success.")
    first_failure_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    abnormal_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, help_text="The last failure, in words.")
    last_check_at = models.DateTimeField(null=True, blank=True, help_text="When Refresh last ran.")
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_detail = models.CharField(max_length=300, blank=True, help_text="What the last Refresh found.")
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Set when deleted; history kept.")

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    # Deleted profiles stay for the history (deliveries, statistics) until retention removes them;
    # `all_objects` reaches them, and relations from a delivery always do (the base manager is plain).
    objects = AliveProfileManager()
    all_objects = models.Manager()  # noqa: DJ012 (the default manager must come first)

    class Meta:
        # Customers call it a callback: one name on every screen.
        verbose_name = "callback"
        verbose_name_plural = "callbacks"
        ordering = ["-created_at"]
        base_manager_name = "all_objects"
        indexes = [models.Index(fields=["account", "created_at"], name="profile_account_created")]

    def __str__(self) -> str:
        return f"{self.name} (deleted callback)" if self.deleted_at else self.name

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def retry_schedule(self) -> list[int]:
        return list(self.retry_schedule_s or DEFAULT_RETRY_SCHEDULE_S)

    @property
    def failure_notice_recipients(self) -> list[str]:
        return list(self.failure_notice_emails) or [self.account.admin_email]
