"""Creating, changing and deleting callback profiles; rotating their signing secret and key; their status.

Every write validates the whole profile (`profile_rules.profile_values_clean`) and raises a
ValidationError naming each failing field. Secrets are write-only: a change that omits one keeps it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from callbacks.delivery.render.signing import (
    public_key_of,
    retired_signing_keys,
    signing_key_generate,
    signing_secret_generate,
)
from callbacks.delivery.render.signing import retired_secrets as signing_retired_secrets
from callbacks.models import Account, CallbackProfile, Delivery
from callbacks.models.profiles import DEFAULT_RETRY_SCHEDULE_S
from callbacks.services.deliveries import deliveries_release
from callbacks.services.profile_rules import profile_values_clean
from callbacks.services.quotas import fanout_check, profile_count_check, profile_sizes_check, quota_errors_raise

logger = logging.getLogger(__name__)

PREVIOUS_SECRET_VALIDITY = timedelta(hours=24)
UPDATE_ATTEMPTS = 3
SECRET_FIELDS = ("auth_password", "auth_header", "md5_salt", "encryption_key")
EDITABLE_FIELDS = (
    "name",
    "description",
    "url",
    "http_method",
    "headers",
    "body_type",
    "body_template",
    "auth_username",
    "sign_standard_webhooks",
    "sign_v1a",
    "sign_md5",
    "encryption_cipher",
    "encryption_iv",
    "encryption_iv_random",
    "encryption_fields",
    "batch_max_size",
    "batch_max_wait_ms",
    "ordering",
    "ordering_key_path",
    "response_contract",
    "connect_timeout_s",
    "response_timeout_s",
    "retry_schedule_s",
    "max_in_flight",
    "failure_notice_emails",
    *SECRET_FIELDS,
)
ACCEPTED_FIELDS = frozenset({*EDITABLE_FIELDS, "event_types", "status"})
USER_STATUSES = (CallbackProfile.Status.ENABLED, CallbackProfile.Status.DISABLED)


def _fields_accept(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - ACCEPTED_FIELDS)
    if unknown:
        raise TypeError(f"Unknown callback profile fields: {', '.join(unknown)}")


def _user_status_clean(status: Any) -> str:
    if status not in USER_STATUSES:
        raise ValidationError(
            {"status": "Choose “enabled” or “disabled” (a profile turns abnormal only by failing for long)."}
        )
    return status


def _profile_values(profile: CallbackProfile, event_type_codes: list[str]) -> dict[str, Any]:
    values = {field: getattr(profile, field) for field in EDITABLE_FIELDS}
    values["event_types"] = event_type_codes
    return values


def profile_validate(*, account: Account, profile: CallbackProfile | None = None, **fields: Any) -> dict[str, Any]:
    """Check what `profile_create` (no profile) or `profile_update` would save, writing nothing: the
    cleaned values, or a ValidationError naming each failing field (for forms to show before saving)."""
    _fields_accept(fields)
    status = fields.pop("status", None)
    if status is not None and (profile is None or status != profile.status):
        _user_status_clean(status)
    if profile is None:
        values = _profile_values(CallbackProfile(account=account), [])
    else:
        current = CallbackProfile.objects.get(pk=profile.pk)
        current_codes = _subscribed_codes(current)
        values = _profile_values(current, current_codes)
    values.update(fields)
    cleaned = profile_values_clean(values)
    # The quotas too, so a form shows them beside the fields; the write checks them again under a lock.
    if profile is None:
        _quotas_check(account=account, cleaned=cleaned, codes=cleaned["event_types"], profile=None)
        profile_count_check(account=account)
    else:
        _quotas_check(
            account=account,
            cleaned=_grown_sizes(current, fields, cleaned),
            codes=sorted(set(cleaned["event_types"]) - set(current_codes)),
            profile=current,
        )
    return cleaned


def profile_create(*, account: Account, **fields: Any) -> CallbackProfile:
    """Create a profile. With Standard Webhooks signing on, a secret is generated and exposed once as
    `profile.new_signing_secret` (it is never readable from the API again)."""
    _fields_accept(fields)
    status = _user_status_clean(fields.pop("status", CallbackProfile.Status.ENABLED))
    cleaned = profile_validate(account=account, **fields)
    event_type_codes = cleaned.pop("event_types")
    cleaned["retry_schedule_s"] = cleaned["retry_schedule_s"] or list(DEFAULT_RETRY_SCHEDULE_S)
    profile = CallbackProfile(account=account, status=status, **cleaned)
    new_secret = signing_secret_generate() if profile.sign_standard_webhooks else ""
    profile.signing_secret = new_secret
    profile.signing_private_key = signing_key_generate() if profile.sign_v1a else ""
    with transaction.atomic():
        # One account's profile writes queue here, so two at once cannot both take the last place.
        Account.objects.select_for_update().only("pk").get(pk=account.pk)
        _quotas_check(account=account, cleaned=cleaned, codes=event_type_codes, profile=None)
        profile_count_check(account=account)
        profile.save()
        profile.event_types.set(event_type_codes)
    profile.new_signing_secret = new_secret
    logger.info("profile.created", extra={"account_id": str(account.pk), "profile_id": str(profile.pk)})
    return profile


def profile_update(*, profile: CallbackProfile, **fields: Any) -> CallbackProfile:
    """Change the given fields (the others keep their values) after validating the whole result.

    Writes only the columns that changed, so health counters the engine keeps are never overwritten.
    Turning Standard Webhooks on for a profile without a secret generates one (`new_signing_secret`).
    """
    _fields_accept(fields)
    status = fields.pop("status", None)
    if status is not None and status != profile.status:
        _user_status_clean(status)
    for _ in range(UPDATE_ATTEMPTS):
        # Validate outside any transaction: the URL check may wait on DNS, and on SQLite an open write
        # transaction would hold every other writer (the engine included) for that long.
        current = CallbackProfile.objects.get(pk=profile.pk)
        current_codes = _subscribed_codes(current)
        values = _profile_values(current, current_codes)
        values.update(fields)
        cleaned = profile_values_clean(values)
        with transaction.atomic():
            Account.objects.select_for_update().only("pk").get(pk=current.account_id)
            locked = CallbackProfile.objects.select_for_update().get(pk=profile.pk)
            if locked.updated_at != current.updated_at or _subscribed_codes(locked) != current_codes:
                continue  # saved by someone else meanwhile: validate again against what they saved
            # Only what changes is held to the quotas: a lowered quota never blocks an unrelated edit.
            _quotas_check(
                account=locked.account,
                cleaned=_grown_sizes(current, fields, cleaned),
                codes=sorted(set(cleaned["event_types"]) - set(current_codes)),
                profile=locked,
            )
            changed, new_secret = _changes_write(locked, cleaned, current_codes)
            if status is not None and status != locked.status:
                profile_status_set(profile=locked, status=status)
                changed.append("status")
            break
    else:
        raise ValidationError({"non_field_errors": ["The profile kept changing while it was saved: try again."]})
    locked.new_signing_secret = new_secret
    _instance_refresh(profile, locked)
    logger.info(
        "profile.updated",
        extra={"profile_id": str(profile.pk), "fields": [field for field in changed if field not in SECRET_FIELDS]},
    )
    return profile


def _grown_sizes(current: CallbackProfile, fields: dict[str, Any], cleaned: dict[str, Any]) -> dict[str, Any]:
    """The template and headers a change sets anew: only those are held to the size quotas."""
    return {
        field: cleaned[field]
        for field in ("body_template", "headers")
        if field in fields and cleaned[field] != getattr(current, field)
    }


def _quotas_check(
    *, account: Account, cleaned: dict[str, Any], codes: list[str], profile: CallbackProfile | None
) -> None:
    errors: dict[str, str] = {}
    profile_sizes_check(account=account, cleaned=cleaned, errors=errors)
    fanout_check(account=account, codes=codes, profile=profile, errors=errors)
    quota_errors_raise(errors)


def _subscribed_codes(profile: CallbackProfile) -> list[str]:
    return sorted(profile.event_types.values_list("code", flat=True))


def _changes_write(
    profile: CallbackProfile, cleaned: dict[str, Any], current_codes: list[str]
) -> tuple[list[str], str]:
    """Write the cleaned values that differ (caller's transaction); answer their names and any new secret."""
    event_type_codes = sorted(cleaned.pop("event_types"))
    cleaned["retry_schedule_s"] = cleaned["retry_schedule_s"] or list(DEFAULT_RETRY_SCHEDULE_S)
    changed = [field for field, value in cleaned.items() if getattr(profile, field) != value]
    for field in changed:
        setattr(profile, field, cleaned[field])
    new_secret = ""
    if profile.sign_standard_webhooks and not profile.signing_secret:
        new_secret = profile.signing_secret = signing_secret_generate()
        changed.append("signing_secret")
    if profile.sign_v1a and not profile.signing_private_key:
        profile.signing_private_key = signing_key_generate()
        changed.append("signing_private_key")
    if event_type_codes != current_codes:
        profile.event_types.set(event_type_codes)
        changed.append("event_types")
    if changed:
        # updated_at moves with every change, subscriptions included: concurrent saves notice each other.
        profile.save(update_fields=[field for field in [*changed, "updated_at"] if field != "event_types"])
    return changed, new_secret


def _instance_refresh(stale: CallbackProfile, fresh: CallbackProfile) -> None:
    """Give the caller's instance the saved state, so code holding it sees what was written."""
    if stale is fresh:
        return
    stale.refresh_from_db()
    stale.new_signing_secret = fresh.new_signing_secret


def profile_delete(*, profile: CallbackProfile) -> int:
    """Delete a profile as a customer means it: gone from lists and the API, nothing more sent, its
    waiting deliveries cancelled. Its history (deliveries, attempts, statistics) stays, shown as a
    deleted callback, until retention removes it. Returns the number of deliveries cancelled."""
    now = timezone.now()
    with transaction.atomic():
        deleted = CallbackProfile.objects.filter(pk=profile.pk).update(deleted_at=now, updated_at=now)
        cancelled = 0
        if deleted:
            cancelled = Delivery.objects.filter(
                profile_id=profile.pk, state__in=(Delivery.State.PENDING, Delivery.State.HELD)
            ).update(state=Delivery.State.CANCELLED, completed_at=now, lease_expires_at=None, leased_by="")
    profile.deleted_at = profile.deleted_at or now
    logger.info(
        "profile.deleted",
        extra={"account_id": str(profile.account_id), "profile_id": str(profile.pk), "cancelled": cancelled},
    )
    return cancelled


def profile_secret_rotate(*, profile: CallbackProfile) -> str:
    """A new signing secret; the old one keeps signing (beside the new) for 24 hours. Returns the new one."""
    new_secret = signing_secret_generate()
    fields = (
        "signing_secret",
        "previous_signing_secret",
        "previous_signing_secret_expires_at",
        "older_signing_secrets",
        "updated_at",
    )
    with transaction.atomic():
        current = CallbackProfile.objects.select_for_update().get(pk=profile.pk)
        now = timezone.now()
        # Every secret retired in the last 24 hours keeps signing: the previous one moves down the list.
        older = [
            (secret, expires)
            for secret, expires in signing_retired_secrets(current)
            if expires is not None and expires > now.timestamp()
        ]
        current.older_signing_secrets = json.dumps(older) if older else ""
        if current.signing_secret:
            current.previous_signing_secret = current.signing_secret
            current.previous_signing_secret_expires_at = now + PREVIOUS_SECRET_VALIDITY
        current.signing_secret = new_secret
        current.save(update_fields=list(fields))
    for field in fields:
        setattr(profile, field, getattr(current, field))
    logger.info("profile.secret_rotated", extra={"profile_id": str(profile.pk)})
    return new_secret


def profile_status_set(*, profile: CallbackProfile, status: str, reason: str = "") -> CallbackProfile:
    """Enable, disable, or mark abnormal. Enabling clears the failure streak so health starts afresh
    and makes the deliveries held meanwhile due now."""
    if status not in CallbackProfile.Status.values:
        raise ValidationError({"status": f"Choose one of: {', '.join(CallbackProfile.Status.values)}."})
    now = timezone.now()
    changes: dict[str, Any] = {"status": status, "status_reason": reason[:300]}
    if status == CallbackProfile.Status.ENABLED:
        changes.update(consecutive_failures=0, exhausted_deliveries=0, first_failure_at=None, abnormal_since=None)
    elif status == CallbackProfile.Status.ABNORMAL and profile.abnormal_since is None:
        changes["abnormal_since"] = now
    released = 0
    with transaction.atomic():
        CallbackProfile.objects.filter(pk=profile.pk).update(**changes, updated_at=now)
        if status == CallbackProfile.Status.ENABLED:
            # Deliveries held while it was disabled or abnormal are due again: nothing accepted is lost.
            released = deliveries_release(profile=profile)
    for field, value in changes.items():
        setattr(profile, field, value)
    logger.info("profile.status_set", extra={"profile_id": str(profile.pk), "status": status, "released": released})
    return profile


def profile_signing_key_rotate(*, profile: CallbackProfile) -> str:
    """A new ed25519 signing key; every key retired in the last 24 hours keeps signing beside it.
    Returns the new public key (`whpk_…`); the private key never leaves the profile."""
    if not profile.sign_v1a:
        raise ValidationError({"sign_v1a": "Turn on ed25519 (v1a) signing before rotating its key."})
    new_key = signing_key_generate()
    fields = ("signing_private_key", "retired_signing_keys", "updated_at")
    with transaction.atomic():
        current = CallbackProfile.objects.select_for_update().get(pk=profile.pk)
        now = timezone.now().timestamp()
        retired = [(key, expires) for key, expires in retired_signing_keys(current) if expires > now]
        if current.signing_private_key:
            retired.insert(0, (current.signing_private_key, now + PREVIOUS_SECRET_VALIDITY.total_seconds()))
        current.retired_signing_keys = json.dumps(retired) if retired else ""
        current.signing_private_key = new_key
        current.save(update_fields=list(fields))
    for field in fields:
        setattr(profile, field, getattr(current, field))
    logger.info("profile.signing_key_rotated", extra={"profile_id": str(profile.pk)})
    return public_key_of(new_key)


def profile_public_keys(profile: CallbackProfile) -> tuple[str, list[tuple[str, datetime]]]:
    """The public key (`whpk_…`, "" without one) and each retired one still signing, with when it stops."""
    current = public_key_of(profile.signing_private_key) if profile.signing_private_key else ""
    now = timezone.now().timestamp()
    retired = [
        (public_key_of(key), datetime.fromtimestamp(expires, tz=UTC))
        for key, expires in retired_signing_keys(profile)
        if expires > now
    ]
    return current, retired
