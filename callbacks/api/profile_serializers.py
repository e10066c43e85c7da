"""Callback profiles over the API: field types for the schema; every rule lives in the services.

Secrets are write-only; answers say only whether each is set (`<name>_set`). The signing secret
appears once, in the answer that generated it.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from callbacks import event_types
from callbacks.models import CallbackProfile
from callbacks.selectors import health as health_states
from callbacks.services import profile_rules
from callbacks.services.profiles import profile_create, profile_public_keys, profile_update

EVENT_TYPE_CODES = ", ".join(spec.code for spec in event_types.REGISTRY)


class FlatListField(serializers.ListField):
    """A list whose item errors read as one message per bad item, not as an object keyed by index."""

    def run_child_validation(self, data: list) -> list:
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as error:
            details = error.detail.items() if isinstance(error.detail, dict) else []
            raise serializers.ValidationError(
                [f"Item {index + 1} ({data[index]!r}): {' '.join(map(str, messages))}" for index, messages in details]
            ) from error


class StringListField(FlatListField):
    """A list of strings; text separated by commas is accepted too (`"a@x.com, b@x.com"`)."""

    child = serializers.CharField(allow_blank=True)

    def to_internal_value(self, data: Any) -> list[str]:
        if isinstance(data, str):
            data = [item.strip() for item in re.split(r"[,;\n]", data) if item.strip()]
        return super().to_internal_value(data)


class EventTypeCodesField(FlatListField):
    """Subscriptions as a list of event type codes (checked against the catalogue by the service)."""

    child = serializers.CharField()

    def to_representation(self, related) -> list[str]:
        # Prefetched on lists; one query after a write.
        return sorted(event_type.code for event_type in related.all())


def _secret(help_text: str, **kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=False, help_text=help_text, **kwargs
    )


class RetiredPublicKeySerializer(serializers.Serializer):
    public_key = serializers.CharField(help_text="whpk_…")
    expires_at = serializers.DateTimeField(help_text="Until then the retired key signs too.")


class ProfileSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(max_length=profile_rules.MAX_NAME_LENGTH)
    description = serializers.CharField(required=False, allow_blank=True)
    url = serializers.CharField(
        max_length=2048,
        help_text="https:// URL (http:// only where the operator allows it). Placeholders such as "
        "<data.phone> may stand in the path and query; they are percent-encoded.",
    )
    http_method = serializers.ChoiceField(choices=CallbackProfile.HttpMethod.choices, required=False)
    # Values as given: the profile rules refuse anything but text HTTP can carry, with the reason.
    headers = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        required=False,
        help_text="Extra headers, name → value (text of visible ASCII characters, spaces and tabs). Host, "
        "Content-Length, Connection, Transfer-Encoding, other hop-by-hop headers, Authorization and webhook-* "
        "are refused.",
    )
    body_type = serializers.ChoiceField(choices=CallbackProfile.BodyType.choices, required=False)
    body_template = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=profile_rules.MAX_TEMPLATE_LENGTH,
        help_text="Empty: the standard envelope {id, type, timestamp, data}. Placeholders <event.id>, "
        "<event.type>, <event.created>, <data.…>. GET and DELETE take no body.",
    )
    auth_username = serializers.CharField(required=False, allow_blank=True)
    auth_password = _secret("HTTP Basic password (write-only).")
    auth_password_set = serializers.SerializerMethodField()
    auth_header = _secret("A literal Authorization header value (write-only); not with username/password.")
    auth_header_set = serializers.SerializerMethodField()
    sign_standard_webhooks = serializers.BooleanField(required=False)
    signing_secret_set = serializers.SerializerMethodField()
    previous_signing_secret_expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    sign_v1a = serializers.BooleanField(
        required=False, help_text="Sign with ed25519 too (Standard Webhooks v1a): receivers verify with the public key."
    )
    signing_public_key = serializers.SerializerMethodField(
        help_text="The v1a public key, whpk_ and base64 of its 32 bytes (null without one); the private key "
        "is never shown."
    )
    previous_signing_public_keys = serializers.SerializerMethodField(
        help_text="Public keys retired in the last 24 hours that still sign, with when each stops."
    )
    sign_md5 = serializers.BooleanField(required=False)
    md5_salt = _secret(f"Legacy MD5 salt, at most {profile_rules.MAX_SALT_LENGTH} characters (write-only).")
    md5_salt_set = serializers.SerializerMethodField()
    encryption_cipher = serializers.ChoiceField(
        choices=CallbackProfile.Cipher.choices, required=False, allow_blank=True
    )
    encryption_key = _secret("AES key of exactly 16 / 24 / 32 characters for AES-128 / 192 / 256 (write-only).")
    encryption_key_set = serializers.SerializerMethodField()
    encryption_iv = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="Exactly 16 characters, unless random."
    )
    encryption_iv_random = serializers.BooleanField(required=False)
    encryption_fields = StringListField(required=False, help_text="Paths of the parameters to encrypt.")
    batch_max_size = serializers.IntegerField(
        required=False, min_value=profile_rules.BATCH_SIZE_RANGE[0], max_value=profile_rules.BATCH_SIZE_RANGE[1]
    )
    batch_max_wait_ms = serializers.IntegerField(
        required=False,
        min_value=profile_rules.BATCH_WAIT_MS_RANGE[0],
        max_value=profile_rules.BATCH_WAIT_MS_RANGE[1],
    )
    ordering = serializers.ChoiceField(
        choices=CallbackProfile.Ordering.choices,
        required=False,
        help_text="none: in parallel (fastest); per_key: a delivery waits while an earlier one of the same key "
        "is unfinished (in flight or waiting for a retry).",
    )
    ordering_key_path = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Path of the key in the event data (e.g. order.id); empty: each type's default (message_id).",
    )
    response_contract = serializers.ChoiceField(choices=CallbackProfile.ResponseContract.choices, required=False)
    connect_timeout_s = serializers.FloatField(
        required=False, max_value=profile_rules.CONNECT_TIMEOUT_S_MAX, help_text="Above 0, at most 30."
    )
    response_timeout_s = serializers.FloatField(
        required=False, max_value=profile_rules.RESPONSE_TIMEOUT_S_MAX, help_text="Above 0, at most 120."
    )
    retry_schedule_s = FlatListField(
        child=serializers.IntegerField(min_value=0, max_value=profile_rules.RETRY_DELAY_S_MAX),
        required=False,
        max_length=profile_rules.MAX_RETRIES,
        help_text="Seconds before each retry; empty restores the default.",
    )
    max_in_flight = serializers.IntegerField(
        required=False,
        min_value=profile_rules.MAX_IN_FLIGHT_RANGE[0],
        max_value=profile_rules.MAX_IN_FLIGHT_RANGE[1],
    )
    failure_notice_emails = StringListField(
        required=False,
        help_text=f"Up to {profile_rules.MAX_NOTICE_EMAILS} addresses (a list, or separated by commas); "
        "empty: the account's admin e-mail.",
    )
    event_types = EventTypeCodesField(required=False, help_text=f"Event type codes: {EVENT_TYPE_CODES}.")
    status = serializers.ChoiceField(
        choices=CallbackProfile.Status.choices,
        required=False,
        help_text="Write “enabled” or “disabled”; “abnormal” is set when the endpoint fails for long.",
    )
    status_reason = serializers.CharField(read_only=True)
    health = serializers.SerializerMethodField(
        help_text="enabled (answering), failing (its last attempts failed), abnormal (paused by the system, "
        "deliveries held) or disabled (by a person): the state the screens show."
    )
    health_reason = serializers.SerializerMethodField(help_text="Why, in words (the last error when failing).")
    last_error = serializers.CharField(read_only=True, help_text="The last failure, in words.")
    last_check_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="When Refresh last ran.")
    last_check_ok = serializers.BooleanField(read_only=True, allow_null=True)
    last_check_detail = serializers.CharField(read_only=True, help_text="What the last Refresh found.")
    consecutive_failures = serializers.IntegerField(read_only=True)
    last_success_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_failure_at = serializers.DateTimeField(read_only=True, allow_null=True)
    abnormal_since = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(serializers.ChoiceField(choices=health_states.CHOICES))
    def get_health(self, profile: CallbackProfile) -> str:
        return health_states.health_state(profile)

    def get_health_reason(self, profile: CallbackProfile) -> str:
        return health_states.health_of(profile).reason

    def get_auth_password_set(self, profile: CallbackProfile) -> bool:
        return bool(profile.auth_password)

    def get_auth_header_set(self, profile: CallbackProfile) -> bool:
        return bool(profile.auth_header)

    def get_signing_secret_set(self, profile: CallbackProfile) -> bool:
        return bool(profile.signing_secret)

    def get_signing_public_key(self, profile: CallbackProfile) -> str | None:
        return profile_public_keys(profile)[0] or None

    @extend_schema_field(RetiredPublicKeySerializer(many=True))
    def get_previous_signing_public_keys(self, profile: CallbackProfile) -> list[dict]:
        return [{"public_key": key, "expires_at": expires} for key, expires in profile_public_keys(profile)[1]]

    def get_md5_salt_set(self, profile: CallbackProfile) -> bool:
        return bool(profile.md5_salt)

    def get_encryption_key_set(self, profile: CallbackProfile) -> bool:
        return bool(profile.encryption_key)

    def create(self, validated_data: dict[str, Any]) -> CallbackProfile:
        return profile_create(account=self.context["account"], **validated_data)

    def update(self, profile: CallbackProfile, validated_data: dict[str, Any]) -> CallbackProfile:
        return profile_update(profile=profile, **validated_data)


class ProfileCreatedSerializer(ProfileSerializer):
    """The answer to a write that generated a signing secret: the only time it is shown."""

    signing_secret = serializers.SerializerMethodField()

    def get_signing_secret(self, profile: CallbackProfile) -> str | None:
        return getattr(profile, "new_signing_secret", "") or None


class SecretRotatedSerializer(serializers.Serializer):
    signing_secret = serializers.CharField(help_text="The new whsec_ secret; shown only in this answer.")
    previous_signing_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until then the old secret signs too (both signatures are sent)."
    )


class SigningKeyRotatedSerializer(serializers.Serializer):
    signing_public_key = serializers.CharField(help_text="The new v1a public key (whpk_…).")
    previous_signing_public_keys = RetiredPublicKeySerializer(
        many=True, help_text="Until each expires the retired key signs too (one v1a signature per key)."
    )
