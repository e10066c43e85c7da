"""Creating and changing accounts; setting the balance (other apps hear of it through a signal)."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from callbacks import signals
from callbacks.models import Account, Membership
from callbacks.models.accounts import validate_timezone
from callbacks.text_checks import LINE_BREAK_MESSAGE, text_has_line_break

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200
BALANCE_LIMIT_USD = Decimal("999999999999.99")
ACCOUNT_FIELDS = ("name", "timezone", "admin_email", "platform_account_id", "platform_api_key")


def balance_parse(value: Any, field: str = "balance_usd") -> Decimal:
    """A USD amount with at most two decimals, or a ValidationError naming `field`."""
    try:
        if isinstance(value, bool) or value is None:
            raise TypeError
        amount = Decimal(str(value).strip())
        if not amount.is_finite():
            raise InvalidOperation
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: "Enter an amount in USD, e.g. 120.50."}) from None
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationError({field: "Use at most two decimals (cents)."})
    if abs(amount) > BALANCE_LIMIT_USD:
        raise ValidationError({field: f"Enter an amount between -{BALANCE_LIMIT_USD} and {BALANCE_LIMIT_USD}."})
    return amount.quantize(Decimal("0.01"))


def _account_values_clean(values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned = {field: str(values.get(field) or "").strip() for field in ACCOUNT_FIELDS}
    if not cleaned["name"]:
        errors.setdefault("name", []).append("Enter a name.")
    elif len(cleaned["name"]) > MAX_NAME_LENGTH:
        errors.setdefault("name", []).append(f"At most {MAX_NAME_LENGTH} characters.")
    elif text_has_line_break(cleaned["name"]):
        errors.setdefault("name", []).append(LINE_BREAK_MESSAGE)
    try:
        validate_timezone(cleaned["timezone"])
    except ValidationError as error:
        errors.setdefault("timezone", []).extend(error.messages)
    try:
        validate_email(cleaned["admin_email"])
    except ValidationError:
        errors.setdefault("admin_email", []).append(f"“{cleaned['admin_email']}” is not a valid e-mail address.")
    if len(cleaned["platform_account_id"]) > 64:
        errors.setdefault("platform_account_id", []).append("At most 64 characters.")
    if errors:
        raise ValidationError(errors)
    return cleaned


def account_values_check(*, account: Account | None = None, **fields: Any) -> None:
    """Raise the ValidationError that `account_create` (no `account`) or `account_update` would, writing nothing.

    A form checks with it while validating and saves through the same services afterwards."""
    unknown = sorted(set(fields) - {*ACCOUNT_FIELDS, "balance_usd"})
    if unknown:
        raise TypeError(f"Unknown account fields: {', '.join(unknown)}")
    balance = fields.pop("balance_usd", None)
    values = {field: getattr(account, field) for field in ACCOUNT_FIELDS} if account else {"timezone": "UTC"}
    values.update(fields)
    errors: dict[str, list[str]] = {}
    for check in (lambda: _account_values_clean(values), lambda: balance is None or balance_parse(balance)):
        try:
            check()
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def account_create(
    *,
    name: str,
    admin_email: str,
    timezone: str = "UTC",
    balance_usd: Any = Decimal("0.00"),
    platform_account_id: str = "",
    platform_api_key: str = "",
    owner=None,
) -> Account:
    """Create an account; `owner` (a user), when given, becomes its owner member."""
    cleaned = _account_values_clean(
        {
            "name": name,
            "admin_email": admin_email,
            "timezone": timezone,
            "platform_account_id": platform_account_id,
            "platform_api_key": platform_api_key,
        }
    )
    balance = balance_parse(balance_usd)
    with transaction.atomic():
        account = Account.objects.create(**cleaned, balance_usd=balance)
        if owner is not None:
            Membership.objects.create(user=owner, account=account, role=Membership.Role.OWNER)
    logger.info("account.created", extra={"account_id": str(account.pk)})
    return account


def account_update(*, account: Account, **fields: Any) -> Account:
    """Change name, timezone, admin e-mail, platform credentials and/or the balance."""
    unknown = sorted(set(fields) - {*ACCOUNT_FIELDS, "balance_usd"})
    if unknown:
        raise TypeError(f"Unknown account fields: {', '.join(unknown)}")
    balance = fields.pop("balance_usd", None)
    values = {field: getattr(account, field) for field in ACCOUNT_FIELDS}
    values.update(fields)
    cleaned = _account_values_clean(values)
    new_balance = balance_parse(balance) if balance is not None else None
    changed = [field for field, value in cleaned.items() if getattr(account, field) != value]
    with transaction.atomic():
        for field in changed:
            setattr(account, field, cleaned[field])
        if changed:
            account.save(update_fields=changed)
        if new_balance is not None:
            account_balance_set(account=account, balance_usd=new_balance)
    logger.info("account.updated", extra={"account_id": str(account.pk), "fields": changed})
    return account


def account_balance_set(*, account: Account, balance_usd: Any) -> Account:
    """Store the balance and, once committed, send `account_balance_changed` (alerts listen)."""
    balance = balance_parse(balance_usd)
    with transaction.atomic():
        locked = Account.objects.select_for_update().only("balance_usd").get(pk=account.pk)
        previous = locked.balance_usd
        Account.objects.filter(pk=account.pk).update(balance_usd=balance)
        account.balance_usd = balance
        transaction.on_commit(
            lambda: signals.account_balance_changed.send(
                sender=Account, account=account, previous_balance_usd=previous, balance_usd=balance
            )
        )
    logger.info("account.balance_set", extra={"account_id": str(account.pk), "balance_usd": str(balance)})
    return account
