"""Quotas per account: the installation's defaults (CALLBACKS_QUOTA_*) and an operator's overrides.

A quota bounds what one account can make the shared engine do: how many profiles it has, how many
deliveries one event fans out to, how big a request it renders, how fast it sends events, how much
one replay queues again. Lowering a quota never removes what exists; it refuses what would go over.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count

from callbacks.models import Account, CallbackProfile

logger = logging.getLogger(__name__)

# quota name → (the setting of its default, its name in words)
QUOTAS = {
    "profiles": ("CALLBACKS_QUOTA_PROFILES", "callback profiles"),
    "fanout": ("CALLBACKS_QUOTA_FANOUT", "profiles subscribed to one event type"),
    "template_bytes": ("CALLBACKS_QUOTA_TEMPLATE_BYTES", "bytes of a body template"),
    "header_bytes": ("CALLBACKS_QUOTA_HEADER_BYTES", "bytes of a profile's headers"),
    "events_per_s": ("CALLBACKS_QUOTA_EVENTS_PER_S", "events per second through the API"),
    "replay": ("CALLBACKS_QUOTA_REPLAY", "deliveries in one replay"),
}
QUOTA_FIELDS = tuple(f"quota_{name}" for name in QUOTAS)
MAX_QUOTA = 10_000_000


@dataclass(frozen=True, slots=True)
class Quotas:
    profiles: int
    fanout: int
    template_bytes: int
    header_bytes: int
    events_per_s: int
    replay: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def quota_default(name: str) -> int:
    return int(getattr(settings, QUOTAS[name][0]))


def quotas_of(account: Account) -> Quotas:
    """The quotas in force for `account`: its overrides, else the installation's defaults."""
    values = {}
    for name in QUOTAS:
        override = getattr(account, f"quota_{name}", None)
        values[name] = quota_default(name) if override is None else override
    return Quotas(**values)


def quotas_check(**overrides: Any) -> dict[str, int | None]:
    """An operator's overrides (`quota_profiles=…`) as stored values; None or "" means the default."""
    unknown = sorted(set(overrides) - set(QUOTA_FIELDS))
    if unknown:
        raise TypeError(f"Unknown quota fields: {', '.join(unknown)}")
    errors: dict[str, str] = {}
    cleaned: dict[str, int | None] = {}
    for field, value in overrides.items():
        if value is None or value == "":
            cleaned[field] = None
            continue
        try:
            number = int(value)
            if isinstance(value, bool) or str(number) != str(value).strip():
                raise ValueError
        except (TypeError, ValueError):
            errors[field] = "Enter a whole number, or leave it empty for the default."
            continue
        if not 0 <= number <= MAX_QUOTA:
            errors[field] = f"Enter a number from 0 to {MAX_QUOTA:,}."
        cleaned[field] = number
    if errors:
        raise ValidationError(errors)
    return cleaned


def quotas_set(*, account: Account, **overrides: Any) -> Account:
    """Store an operator's overrides after `quotas_check`; None or "" returns a quota to the default."""
    cleaned = quotas_check(**overrides)
    changed = [field for field, value in cleaned.items() if getattr(account, field) != value]
    for field in changed:
        setattr(account, field, cleaned[field])
    if changed:
        account.save(update_fields=changed)
    logger.info("account.quotas_set", extra={"account_id": str(account.pk), "fields": changed})
    return account


def _over(name: str, limit: int, text: str) -> str:
    return f"{text} The account's quota is {limit:,} {QUOTAS[name][1]}; an operator can raise it."


def profile_count_check(*, account: Account) -> None:
    """Room for one more profile, or a ValidationError with the count and the quota."""
    limit = quotas_of(account).profiles
    count = CallbackProfile.objects.filter(account=account).count()
    if count >= limit:
        raise ValidationError({"non_field_errors": [_over("profiles", limit, f"The account has {count:,} profiles.")]})


def profile_sizes_check(*, account: Account, cleaned: dict[str, Any], errors: dict[str, str]) -> None:
    """The body template and the headers within the account's size quotas."""
    quotas = quotas_of(account)
    if "body_template" in cleaned:
        size = len(cleaned["body_template"].encode())
        if size > quotas.template_bytes:
            errors["body_template"] = _over("template_bytes", quotas.template_bytes, f"The template is {size:,} bytes.")
    if "headers" in cleaned:
        size = sum(len(name.encode()) + len(value.encode()) for name, value in cleaned["headers"].items())
        if size > quotas.header_bytes:
            errors["headers"] = _over("header_bytes", quotas.header_bytes, f"The headers are {size:,} bytes.")


def fanout_check(
    *, account: Account, codes: list[str], profile: CallbackProfile | None, errors: dict[str, str]
) -> None:
    """Each of `codes` (event types `profile` would newly subscribe to) within the fan-out quota."""
    if not codes:
        return
    limit = quotas_of(account).fanout
    subscriptions = CallbackProfile.event_types.through.objects.filter(
        callbackprofile__account=account, eventtype_id__in=codes
    )
    if profile is not None and profile.pk is not None:
        subscriptions = subscriptions.exclude(callbackprofile_id=profile.pk)
    counts = dict(subscriptions.values("eventtype_id").annotate(count=Count("id")).values_list("eventtype_id", "count"))
    full = sorted(code for code in codes if counts.get(code, 0) >= limit)
    if full:
        errors["event_types"] = _over(
            "fanout", limit, f"{', '.join(full)} already {'has' if len(full) == 1 else 'have'} {limit:,} subscribed."
        )


def quota_errors_raise(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationError({field: [message] for field, message in errors.items()})
