"""Lists of e-mail addresses as people type them: comma, semicolon or line separated, or a list."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

MAX_ADDRESSES = 5


def email_addresses_parse(value: Any, *, maximum: int = MAX_ADDRESSES) -> list[str]:
    """The addresses in `value`, stripped and deduplicated (case-insensitively), in the order given.

    Raises a ValidationError that names the first address that is not valid, or says how many is too many.
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        parts = re.split(r"[,;\n]", value)
    elif isinstance(value, list | tuple) and all(isinstance(part, str) for part in value):
        parts = list(value)
    else:
        raise ValidationError("Give the addresses as text separated by commas, or as a list of texts.")
    addresses: list[str] = []
    seen: set[str] = set()
    for part in parts:
        address = part.strip()
        if not address or address.lower() in seen:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(f"“{address}” is not a valid e-mail address.") from None
        seen.add(address.lower())
        addresses.append(address)
    if len(addresses) > maximum:
        raise ValidationError(f"At most {maximum} addresses ({len(addresses)} given).")
    return addresses
