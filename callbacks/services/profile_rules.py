"""The rules a callback profile must meet, each failure reported under the field it concerns.

`profile_values_clean` takes the profile as it would be after a change (every field) and answers the
normalized values, or raises a ValidationError whose dict names each failing field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError

from callbacks import event_types
from callbacks.delivery import ordering
from callbacks.delivery.render.templating import (
    MAX_LISTED_PATHS,
    MISSING,
    context_types,
    context_value,
    example_contexts,
    known_paths,
    placeholders_unresolved,
    template_check,
    unresolved_message,
)
from callbacks.delivery.send.network import url_check
from callbacks.delivery.send.network import url_refusal_setting as url_refusal_setting  # for the screens
from callbacks.email_addresses import email_addresses_parse
from callbacks.models import CallbackProfile
from callbacks.text_checks import LINE_BREAK_MESSAGE, text_has_line_break

MAX_NAME_LENGTH = 200
MAX_HEADERS = 30
MAX_HEADER_VALUE_LENGTH = 4096
MAX_TEMPLATE_LENGTH = 64 * 1024
MAX_SALT_LENGTH = 40
MAX_AUTH_LENGTH = 1024
IV_LENGTH = 16
MAX_ENCRYPTION_FIELDS = 50
BATCH_SIZE_RANGE = (1, 1000)
BATCH_WAIT_MS_RANGE = (0, 60_000)
CONNECT_TIMEOUT_S_MAX = 30.0
RESPONSE_TIMEOUT_S_MAX = 120.0
MAX_RETRIES = 20
RETRY_DELAY_S_MAX = 7 * 24 * 3600
MAX_IN_FLIGHT_RANGE = (1, 500)
MAX_NOTICE_EMAILS = 5

# Headers the transport sets itself or that describe the connection, not the message.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "upgrade",
        "expect",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)
HEADER_VALUE_FIRST, HEADER_VALUE_LAST = " ", "~"  # visible ASCII and space (tab allowed too)
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
ENCRYPTION_FIELD_RE = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
CIPHER_KEY_LENGTHS = {
    CallbackProfile.Cipher.AES_128_CFB: 16,
    CallbackProfile.Cipher.AES_192_CFB: 24,
    CallbackProfile.Cipher.AES_256_CFB: 32,
    CallbackProfile.Cipher.AES_128_GCM: 16,
    CallbackProfile.Cipher.AES_192_GCM: 24,
    CallbackProfile.Cipher.AES_256_GCM: 32,
}
BODYLESS_METHODS = (CallbackProfile.HttpMethod.GET, CallbackProfile.HttpMethod.DELETE)
TEXT_FIELDS = (
    "name",
    "description",
    "url",
    "body_template",
    "auth_username",
    "auth_password",
    "auth_header",
    "md5_salt",
    "encryption_key",
    "encryption_iv",
)


class _Errors:
    """Collects messages per field so one answer reports every problem at once."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.by_field.setdefault(field, []).append(message)

    def has(self, field: str) -> bool:
        return field in self.by_field

    def raise_if_any(self) -> None:
        if self.by_field:
            raise ValidationError(self.by_field)


def _text(values: dict, field: str) -> str:
    value = values.get(field)
    return "" if value is None else str(value)


def _boolean(values: dict, field: str, errors: _Errors) -> bool:
    value = values.get(field)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "on", "off"):
        return value.lower() in ("true", "1", "on")
    errors.add(field, "Enter true or false.")
    return False


def _integer(values: dict, field: str, bounds: tuple[int, int], errors: _Errors) -> int:
    value = values.get(field)
    low, high = bounds
    try:
        if isinstance(value, bool) or value is None or float(value) != int(float(value)):
            raise ValueError
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):
        errors.add(field, f"Enter a whole number from {low} to {high}.")
        return low
    if not low <= number <= high:
        errors.add(field, f"Enter a whole number from {low} to {high} (got {number}).")
    return number


def _seconds(values: dict, field: str, maximum: float, errors: _Errors) -> float:
    value = values.get(field)
    try:
        if isinstance(value, bool) or value is None:
            raise ValueError
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        errors.add(field, f"Enter a number of seconds above 0 and at most {maximum:g}.")
        return maximum
    if not 0 < seconds <= maximum:
        errors.add(field, f"Enter a number of seconds above 0 and at most {maximum:g} (got {seconds:g}).")
    return seconds


def _split_list(value: Any) -> list[str] | None:
    """A list given as a list, or as text separated by commas, semicolons or line breaks."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [item.strip() for item in re.split(r"[,;\n]", value) if item.strip()]
    if isinstance(value, list | tuple):
        return [str(item).strip() if item is not None else "" for item in value]
    return None


def text_shown(text: str) -> str:
    """`text` safe to show in a message: characters that cannot be printed as `\\uXXXX`."""
    return "".join(character if character.isprintable() else f"\\u{ord(character):04x}" for character in text)


def header_value_problem(value: str) -> str | None:
    """Why `value` cannot be sent as an HTTP header value, or None: only visible ASCII, space and tab."""
    for position, character in enumerate(value):
        if not (HEADER_VALUE_FIRST <= character <= HEADER_VALUE_LAST or character == "\t"):
            what = "a line break" if character in "\r\n" else f"the character {text_shown(character)!r}"
            return (
                f"contains {what} at position {position + 1}: header values can hold only visible ASCII "
                "characters, spaces and tabs"
            )
    return None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true / false", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def headers_clean(value: Any, errors: _Errors) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if isinstance(value, list):  # [{"name": …, "value": …}] as key/value rows
        try:
            value = {str(row["name"]): row.get("value", "") for row in value}
        except (TypeError, KeyError):
            errors.add("headers", "Give headers as an object of name → value.")
            return {}
    if not isinstance(value, dict):
        errors.add("headers", "Give headers as an object of name → value.")
        return {}
    if len(value) > MAX_HEADERS:
        errors.add("headers", f"At most {MAX_HEADERS} headers.")
    cleaned: dict[str, str] = {}
    seen: set[str] = set()
    for raw_name, raw_value in value.items():
        name = str(raw_name).strip()
        lowered = name.lower()
        header_value = raw_value.strip() if isinstance(raw_value, str) else raw_value
        if not HEADER_NAME_RE.match(name):
            errors.add(
                "headers",
                f"“{text_shown(name)}” is not a valid header name (letters, digits and - only; no spaces).",
            )
        elif not isinstance(header_value, str):
            errors.add("headers", f"The value of “{name}” must be text, not {_kind(header_value)}.")
        elif (problem := header_value_problem(header_value)) is not None:
            errors.add("headers", f"The value of “{name}” {problem}.")
        elif lowered in RESERVED_HEADERS:
            errors.add("headers", f"“{name}” is set by Callback Center and cannot be overridden.")
        elif lowered == "authorization":
            errors.add("headers", "Set Authorization in the authentication fields: it is kept encrypted there.")
        elif lowered in seen:
            errors.add("headers", f"“{name}” is given twice.")
        elif len(header_value) > MAX_HEADER_VALUE_LENGTH:
            errors.add("headers", f"The value of “{name}” is longer than {MAX_HEADER_VALUE_LENGTH} characters.")
        else:
            cleaned[name] = header_value
        seen.add(lowered)
    return cleaned


def emails_clean(value: Any, field: str, errors: _Errors, maximum: int = MAX_NOTICE_EMAILS) -> list[str]:
    """Up to `maximum` e-mail addresses, given as a list or as comma-separated text; names the bad one."""
    try:
        return email_addresses_parse(value, maximum=maximum)
    except ValidationError as error:
        errors.add(field, error.messages[0])
        return []


def retry_schedule_clean(value: Any, errors: _Errors) -> list[int]:
    delays = _split_list(value) if isinstance(value, str) else value
    if delays in (None, []):
        return []
    if not isinstance(delays, list | tuple):
        errors.add("retry_schedule_s", "Give a list of delays in seconds, e.g. [0, 5, 300].")
        return []
    cleaned: list[int] = []
    for delay in delays:
        try:
            if isinstance(delay, bool) or float(delay) != int(float(delay)) or int(float(delay)) < 0:
                raise ValueError
            cleaned.append(int(float(delay)))
        except (TypeError, ValueError, OverflowError):
            errors.add("retry_schedule_s", f"“{delay}” is not a whole number of seconds of 0 or more.")
    if len(delays) > MAX_RETRIES:
        errors.add("retry_schedule_s", f"At most {MAX_RETRIES} retries ({len(delays)} given).")
    if any(delay > RETRY_DELAY_S_MAX for delay in cleaned):
        errors.add("retry_schedule_s", f"A delay can be at most {RETRY_DELAY_S_MAX} seconds (7 days).")
    return cleaned


def event_type_codes_clean(value: Any, errors: _Errors) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | dict) or not isinstance(value, Iterable):
        errors.add("event_types", "Give a list of event type codes.")
        return []
    # Codes, or EventType rows as admin forms give them.
    codes = list(dict.fromkeys(str(getattr(item, "code", item)) for item in value))
    unknown = [code for code in codes if not event_types.is_known(code)]
    if unknown:
        errors.add("event_types", f"Unknown event type{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.")
    return [code for code in codes if event_types.is_known(code)]


def _choice(values: dict, field: str, choices: type, errors: _Errors, *, upper: bool = False) -> str:
    value = _text(values, field).strip()
    value = value.upper() if upper else value.lower()
    if value not in choices.values:
        errors.add(field, f"Choose one of: {', '.join(repr(choice) for choice in choices.values if choice)}.")
    return value


def _encryption_paths_check(cleaned: dict, contexts: list[dict], errors: _Errors) -> None:
    """Like a placeholder, a parameter to encrypt must be in the data of a subscribed event type:
    one that is not would go out in clear."""
    if not cleaned["encryption_cipher"] or errors.has("encryption_fields"):
        return
    missing = [
        path
        for path in cleaned["encryption_fields"]
        if all(context_value(context, "data." + path.removeprefix("data.")) is MISSING for context in contexts)
    ]
    if missing:
        available = known_paths(contexts, under="data")
        errors.add(
            "encryption_fields",
            f"Not in the data of {context_types(contexts)}: {', '.join(missing)} (it would be sent unencrypted). "
            f"Available: {', '.join(available)}{' …' if len(available) == MAX_LISTED_PATHS else ''}.",
        )


def _ordering_check(cleaned: dict, errors: _Errors) -> None:
    if (
        cleaned["ordering"] == CallbackProfile.Ordering.PER_KEY
        and cleaned["batch_max_size"] is not None
        and cleaned["batch_max_size"] > 1
        and not errors.has("batch_max_size")
    ):
        # A batch goes out whole, so it would carry a key's later events past an earlier one still retrying.
        errors.add("ordering", "Per-key ordering sends one event at a time: set the batch size to 1 to use it.")
    path = cleaned["ordering_key_path"]
    problem = ordering.path_problem(path)
    if problem:
        errors.add("ordering_key_path", problem)
    elif cleaned["ordering"] == CallbackProfile.Ordering.PER_KEY and not path:
        keyless = [code for code in cleaned["event_types"] or () if not event_types.ordering_key_of(code)]
        if keyless and len(keyless) == len(cleaned["event_types"]):
            errors.add(
                "ordering_key_path",
                f"None of the subscribed event types has a default key ({', '.join(keyless)}): name the path of "
                "the key in the event data, e.g. order.id.",
            )


def _template_and_url_check(cleaned: dict, errors: _Errors) -> None:
    contexts = example_contexts(cleaned["event_types"])
    _encryption_paths_check(cleaned, contexts, errors)
    unresolved = placeholders_unresolved(text=cleaned["url"], contexts=contexts)
    if unresolved and not errors.has("url"):
        errors.add("url", unresolved_message(unresolved, contexts))
    if cleaned["body_template"] and cleaned["http_method"] in BODYLESS_METHODS:
        errors.add("body_template", f"{cleaned['http_method']} requests carry no body: leave the template empty.")
    elif not errors.has("body_type"):
        try:
            template_check(template=cleaned["body_template"], body_type=cleaned["body_type"], example_context=contexts)
        except ValidationError as error:
            errors.add("body_template", error.messages[0])


def _batching_check(cleaned: dict, errors: _Errors) -> None:
    """A batch is a JSON list in a request body: other bodies, and GET and DELETE, send one event each."""
    if cleaned["batch_max_size"] <= 1 or errors.has("batch_max_size"):
        return
    if cleaned["http_method"] in BODYLESS_METHODS:
        errors.add(
            "batch_max_size",
            f"{cleaned['http_method']} requests carry no body, so events cannot be batched: set 1, or use POST or PUT.",
        )
    elif cleaned["body_type"] != CallbackProfile.BodyType.JSON:
        errors.add(
            "batch_max_size",
            f'Batches are sent as JSON ({{"callbacks": [...]}}); a {cleaned["body_type"].upper()} body carries '
            "one event: set 1, or choose the JSON body type.",
        )


def _auth_clean(values: dict, cleaned: dict, errors: _Errors) -> None:
    username, password = _text(values, "auth_username").strip(), _text(values, "auth_password")
    header = _text(values, "auth_header").strip()
    if ":" in username:
        errors.add("auth_username", "A Basic-auth username cannot contain “:”.")
    if username and not password:
        errors.add("auth_password", "Enter the password for this username.")
    if password and not username:
        errors.add("auth_username", "Enter the username this password belongs to.")
    if header and (username or password):
        errors.add("auth_header", "Use either a username and password or an Authorization value, not both.")
    if any(character in password for character in "\r\n\0"):
        errors.add("auth_password", "Line breaks are not allowed here.")
    if header and (problem := header_value_problem(header)) is not None:
        errors.add("auth_header", f"The Authorization value {problem}.")
    for field, value in (("auth_username", username), ("auth_password", password), ("auth_header", header)):
        if len(value) > MAX_AUTH_LENGTH:
            errors.add(field, f"At most {MAX_AUTH_LENGTH} characters.")
    cleaned.update(auth_username=username, auth_password=password, auth_header=header)


def _signing_clean(values: dict, cleaned: dict, errors: _Errors) -> None:
    cleaned["sign_standard_webhooks"] = _boolean(values, "sign_standard_webhooks", errors)
    cleaned["sign_v1a"] = _boolean(values, "sign_v1a", errors)
    cleaned["sign_md5"] = _boolean(values, "sign_md5", errors)
    salt = _text(values, "md5_salt")
    if cleaned["sign_md5"] and not salt:
        errors.add("md5_salt", "Enter the security salt the receiver checks the MD5 hash with.")
    if len(salt) > MAX_SALT_LENGTH:
        errors.add("md5_salt", f"The salt can be at most {MAX_SALT_LENGTH} characters ({len(salt)} given).")
    if not (cleaned["sign_standard_webhooks"] or cleaned["sign_v1a"] or cleaned["sign_md5"]):
        errors.add(
            "sign_standard_webhooks", "Choose at least one signing method (Standard Webhooks v1 or v1a, or MD5)."
        )
    cleaned["md5_salt"] = salt


def _encryption_clean(values: dict, cleaned: dict, errors: _Errors) -> None:
    cipher = _choice(values, "encryption_cipher", CallbackProfile.Cipher, errors)
    key, iv = _text(values, "encryption_key"), _text(values, "encryption_iv")
    iv_random = _boolean(values, "encryption_iv_random", errors)
    fields = _split_list(values.get("encryption_fields"))
    if fields is None:
        errors.add("encryption_fields", 'Give the parameters to encrypt as a list, e.g. ["phone", "content"].')
        fields = []
    fields = list(dict.fromkeys(fields))
    if cipher in CIPHER_KEY_LENGTHS:
        expected = CIPHER_KEY_LENGTHS[cipher]
        if len(key.encode()) != expected:
            errors.add(
                "encryption_key",
                f"{cipher.upper()} needs a key of exactly {expected} bytes ({len(key.encode())} given), "
                "counted in UTF-8: a character outside ASCII takes 2 to 4.",
            )
        if not iv_random and len(iv.encode()) != IV_LENGTH:
            errors.add(
                "encryption_iv",
                f"Enter an IV of exactly {IV_LENGTH} bytes ({len(iv.encode())} given, counted in UTF-8), or choose a random IV.",
            )
        if not fields:
            errors.add("encryption_fields", "Name at least one parameter to encrypt.")
    if iv and len(iv.encode()) != IV_LENGTH and not errors.has("encryption_iv"):
        errors.add(
            "encryption_iv", f"The IV must be exactly {IV_LENGTH} bytes ({len(iv.encode())} given, counted in UTF-8)."
        )
    bad_fields = [field for field in fields if not ENCRYPTION_FIELD_RE.match(field)]
    if bad_fields:
        errors.add("encryption_fields", f"Not a parameter path: {', '.join(repr(field) for field in bad_fields)}.")
    if len(fields) > MAX_ENCRYPTION_FIELDS:
        errors.add("encryption_fields", f"At most {MAX_ENCRYPTION_FIELDS} parameters.")
    cleaned.update(
        encryption_cipher=cipher,
        encryption_key=key,
        encryption_iv=iv,
        encryption_iv_random=iv_random,
        encryption_fields=fields,
    )


def _texts_check(values: dict, errors: _Errors) -> None:
    """Text fields hold text: no other JSON type, no NUL, no lone surrogate (which no database or
    encoder takes)."""
    for field in TEXT_FIELDS:
        value = values.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            errors.add(field, f"Enter text, not {_kind(value)}.")
        elif (bad := next((c for c in value if c == "\0" or "\ud800" <= c <= "\udfff"), None)) is not None:
            errors.add(field, f"Contains {text_shown(bad)!r}, which is not a character that can be stored or sent.")


def profile_values_clean(values: dict[str, Any]) -> dict[str, Any]:
    """Every field of a profile normalized, or a ValidationError naming each failing field."""
    errors = _Errors()
    cleaned: dict[str, Any] = {}
    _texts_check(values, errors)
    cleaned["name"] = _text(values, "name").strip()
    if not cleaned["name"]:
        errors.add("name", "Enter a name.")
    elif len(cleaned["name"]) > MAX_NAME_LENGTH:
        errors.add("name", f"At most {MAX_NAME_LENGTH} characters.")
    elif text_has_line_break(cleaned["name"]):
        errors.add("name", LINE_BREAK_MESSAGE)
    cleaned["description"] = _text(values, "description").strip()
    cleaned["url"] = _text(values, "url").strip()
    try:
        url_check(cleaned["url"])
    except ValidationError as error:
        errors.add("url", error.messages[0])
    cleaned["http_method"] = _choice(values, "http_method", CallbackProfile.HttpMethod, errors, upper=True)
    cleaned["headers"] = headers_clean(values.get("headers"), errors)
    cleaned["body_type"] = _choice(values, "body_type", CallbackProfile.BodyType, errors)
    cleaned["body_template"] = _text(values, "body_template")
    if cleaned["body_template"].strip() == "":
        cleaned["body_template"] = ""
    if len(cleaned["body_template"]) > MAX_TEMPLATE_LENGTH:
        errors.add("body_template", f"At most {MAX_TEMPLATE_LENGTH} characters.")
    _auth_clean(values, cleaned, errors)
    _signing_clean(values, cleaned, errors)
    _encryption_clean(values, cleaned, errors)
    cleaned["batch_max_size"] = _integer(values, "batch_max_size", BATCH_SIZE_RANGE, errors)
    cleaned["batch_max_wait_ms"] = _integer(values, "batch_max_wait_ms", BATCH_WAIT_MS_RANGE, errors)
    _batching_check(cleaned, errors)
    cleaned["response_contract"] = _choice(values, "response_contract", CallbackProfile.ResponseContract, errors)
    cleaned["ordering"] = _choice(values, "ordering", CallbackProfile.Ordering, errors)
    cleaned["ordering_key_path"] = _text(values, "ordering_key_path").strip()
    cleaned["connect_timeout_s"] = _seconds(values, "connect_timeout_s", CONNECT_TIMEOUT_S_MAX, errors)
    cleaned["response_timeout_s"] = _seconds(values, "response_timeout_s", RESPONSE_TIMEOUT_S_MAX, errors)
    cleaned["retry_schedule_s"] = retry_schedule_clean(values.get("retry_schedule_s"), errors)
    cleaned["max_in_flight"] = _integer(values, "max_in_flight", MAX_IN_FLIGHT_RANGE, errors)
    cleaned["failure_notice_emails"] = emails_clean(
        values.get("failure_notice_emails"), "failure_notice_emails", errors
    )
    cleaned["event_types"] = event_type_codes_clean(values.get("event_types"), errors)
    _ordering_check(cleaned, errors)
    _template_and_url_check(cleaned, errors)
    errors.raise_if_any()
    return cleaned
