"""Input that cannot be stored or used safely: NUL and unpaired surrogates (no database stores them),
line breaks in one-line names (they end up in e-mail headers), and dates beyond any real query."""

from __future__ import annotations

import re
from typing import Any

UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
LINE_BREAK_RE = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")

UNSTORABLE_MESSAGE = "Text may not contain NUL (\\u0000) or unpaired surrogates (\\ud800–\\udfff)."
LINE_BREAK_MESSAGE = "A name is one line: no line breaks."


def text_is_unstorable(text: str) -> bool:
    """True when `text` holds a NUL or a lone surrogate (a str from JSON `"\\ud800"` can)."""
    return UNSTORABLE_RE.search(text) is not None


def text_has_line_break(text: str) -> bool:
    return LINE_BREAK_RE.search(text) is not None


MAX_JSON_DEPTH = 32
JSON_DEPTH_MESSAGE = f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels."


def _path_join(path: str, step: str | int) -> str:
    if isinstance(step, int):
        return f"{path}[{step}]"
    return f"{path}.{step}" if path else step


def json_problem(document: Any) -> tuple[str, str] | None:
    """(where, what) for the first thing in a parsed JSON document that must not be stored:
    nesting past MAX_JSON_DEPTH ("" as where), a NUL or unpaired surrogate in a key or text."""
    stack: list[tuple[Any, str, int]] = [(document, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list) and depth > MAX_JSON_DEPTH:
            return "", JSON_DEPTH_MESSAGE
        if isinstance(value, dict):
            for key, item in value.items():
                if text_is_unstorable(str(key)):
                    return _path_join(path, "<key>"), UNSTORABLE_MESSAGE
                stack.append((item, _path_join(path, str(key)), depth + 1))
        elif isinstance(value, list):
            stack.extend((item, _path_join(path, index), depth + 1) for index, item in enumerate(value))
        elif isinstance(value, str) and text_is_unstorable(value):
            return path, UNSTORABLE_MESSAGE
    return None


# Dates a filter or range may name: far enough either way for any real query, and never so far that
# a day added or a time zone applied leaves the years Python and the databases can hold.
DATE_MIN_YEAR = 1970
DATE_MAX_YEAR = 2999
DATE_RANGE_MESSAGE = f"Give a date between {DATE_MIN_YEAR}-01-01 and {DATE_MAX_YEAR}-12-31."


def date_in_range(value) -> bool:
    """True for a date or date-time within DATE_MIN_YEAR..DATE_MAX_YEAR."""
    return DATE_MIN_YEAR <= value.year <= DATE_MAX_YEAR
