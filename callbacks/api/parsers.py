"""The API's only body parser: JSON, bounded in size and depth, refusing text no database stores.

Every endpoint uses it (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]), so a form, multipart or text body
answers 415, a body over API_MAX_BODY_BYTES 413, nesting past MAX_JSON_DEPTH 400, and a NUL or an
unpaired surrogate 400 naming where it is (`data.note`, `headers[2]`).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

from callbacks.text_checks import JSON_DEPTH_MESSAGE, json_problem


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"


def body_too_large(limit_bytes: int) -> BodyTooLarge:
    return BodyTooLarge(f"The request body is over the limit of {limit_bytes} bytes.")


def json_body_check(document: Any) -> None:
    """Raise ParseError past MAX_JSON_DEPTH, ValidationError naming the first unstorable text."""
    problem = json_problem(document)
    if problem is None:
        return
    where, message = problem
    if not where:
        raise exceptions.ParseError(message)
    raise exceptions.ValidationError({where: [message]})


def json_document_parse(raw: bytes) -> Any:
    """The JSON document in `raw`, checked by `json_body_check`.

    orjson reads it (fast), but refuses unpaired surrogates and deep nesting as bad JSON without
    saying where; only on that error path the standard parser reads it again, so the answer can
    name the field or the depth limit.
    """
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        try:
            document = json.loads(raw.decode("utf-8"))
        except RecursionError as too_deep:
            raise exceptions.ParseError(JSON_DEPTH_MESSAGE) from too_deep
        except ValueError:  # UnicodeDecodeError included
            raise exceptions.ParseError(f"The body is not valid JSON ({error}).") from error
    json_body_check(document)
    return document


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit_bytes = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit_bytes + 1) if stream is not None else b""
        if len(raw) > limit_bytes:
            raise body_too_large(limit_bytes)
        return json_document_parse(raw)
