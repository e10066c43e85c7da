"""The API's only body parser: JSON, bounded in size and depth, refusing text no database stores.

Every endpoint uses it (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]), so a form, multipart or text body
answers 415, a body over API_MAX_BODY_BYTES 413, nesting past MAX_JSON_DEPTH 400, and a NUL or an
unpaired surrogate 400 naming where it is (`data.note`, `headers[2]`).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

from callbacks.text_checks import UNSTORABLE_MESSAGE, text_is_unstorable

MAX_JSON_DEPTH = 32


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"


def body_too_large(limit_bytes: int) -> BodyTooLarge:
    return BodyTooLarge(f"The request body is over the limit of {limit_bytes} bytes.")


def _path_join(path: str, step: str | int) -> str:
    if isinstance(step, int):
        return f"{path}[{step}]" if path else f"[{step}]"
    return f"{path}.{step}" if path else step


def json_body_check(document: Any) -> None:
    """Raise ParseError past MAX_JSON_DEPTH, ValidationError naming the first unstorable text."""
    stack: list[tuple[Any, str, int]] = [(document, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list) and depth > MAX_JSON_DEPTH:
            raise exceptions.ParseError(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(value, dict):
            for key, item in value.items():
                if text_is_unstorable(key):
                    raise exceptions.ValidationError({_path_join(path, "<key>") or "<key>": [UNSTORABLE_MESSAGE]})
                stack.append((item, _path_join(path, key), depth + 1))
        elif isinstance(value, list):
            stack.extend((item, _path_join(path, index), depth + 1) for index, item in enumerate(value))
        elif isinstance(value, str) and text_is_unstorable(value):
            raise exceptions.ValidationError({path or "non_field_errors": [UNSTORABLE_MESSAGE]})


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit_bytes = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit_bytes + 1) if stream is not None else b""
        if len(raw) > limit_bytes:
            raise body_too_large(limit_bytes)
        try:
            document = json.loads(raw.decode("utf-8"))
        except RecursionError as error:
            raise exceptions.ParseError(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.") from error
        except (UnicodeDecodeError, ValueError) as error:
            raise exceptions.ParseError(f"The body is not valid JSON: {error}") from error
        json_body_check(document)
        return document
