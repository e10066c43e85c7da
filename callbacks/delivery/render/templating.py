"""Body and URL templates: `<event.id>`, `<data.phone>`, `<data.address.formatted_address>` placeholders.

A placeholder is `<` + `event` or `data` + one or more `.segment`s + `>`; a numeric segment indexes a
list (`<data.items.0.sku>`). The context is `{"event": {"id", "type", "created"}, "data": {...}}`.
Values are escaped for where they land: typed JSON values (or JSON-string escaping inside a JSON
string), entities in XML and HTML, as is in text, percent-encoding in URLs. A path the event lacks
renders as `null` where a whole JSON value stands, and as the empty string everywhere else.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from django.core.exceptions import ValidationError

from callbacks import event_types

PLACEHOLDER_RE = re.compile(r"<((?:event|data)(?:\.[A-Za-z0-9_\-]+)+)>")
EVENT_FIELDS = ("id", "type", "created")
EXAMPLE_EVENT_ID = "3f1c9a52-8d1e-4b7a-9c0e-5b2f6a7d8e91"
EXAMPLE_CREATED = "2026-11-23T09:30:00Z"
MAX_LISTED_PATHS = 12
# Characters XML 1.0 forbids even as entities: a value carrying one would make the whole body unparsable.
XML_FORBIDDEN_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class BodyType:
    """The body types of a profile (the values of CallbackProfile.BodyType)."""

    JSON = "json"
    XML = "xml"
    HTML = "html"
    TEXT = "text"


MISSING = object()


def template_placeholders(template: str) -> list[str]:
    """The placeholder paths in `template`, each once, in order of first appearance."""
    return list(dict.fromkeys(PLACEHOLDER_RE.findall(template or "")))


def context_value(context: dict, path: str) -> Any:
    """The value at a dotted path of the context, or the module's missing marker."""
    value: Any = context
    for segment in path.split("."):
        if isinstance(value, dict) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return MISSING
    return value


def value_as_text(value: Any) -> str:
    """How a value reads where text is expected: strings as is, JSON spelling for the rest, missing as ''."""
    if value is MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def markup_escape(text: str, *, in_tag: bool = False) -> str:
    """Entity-escape for XML and HTML; characters XML cannot carry at all become U+FFFD.

    A parser turns a literal CR into LF, and in an attribute CR, LF and TAB into spaces: they go as
    character references (CR always, LF and TAB inside a tag), so the receiver reads what was sent.
    """
    escaped = html.escape(XML_FORBIDDEN_RE.sub("\ufffd", text)).replace("\r", "&#13;")
    return escaped.replace("\n", "&#10;").replace("\t", "&#9;") if in_tag else escaped


def _markup_render(template: str, context: dict) -> str:
    """Fill an XML or HTML template, tracking whether each placeholder stands inside a tag."""
    pieces: list[str] = []
    in_tag = False
    position = 0
    for match in PLACEHOLDER_RE.finditer(template):
        literal = template[position : match.start()]
        for character in literal:
            if character == "<":
                in_tag = True
            elif character == ">":
                in_tag = False
        pieces.append(literal)
        pieces.append(markup_escape(value_as_text(context_value(context, match.group(1))), in_tag=in_tag))
        position = match.end()
    pieces.append(template[position:])
    return "".join(pieces)


def _json_render(template: str, context: dict) -> str:
    """Fill a JSON template, tracking whether each placeholder stands inside a JSON string."""
    pieces: list[str] = []
    in_string = False
    position = 0
    length = len(template)
    while position < length:
        character = template[position]
        match = PLACEHOLDER_RE.match(template, position) if character == "<" else None
        if match is not None:
            value = context_value(context, match.group(1))
            if in_string:
                pieces.append(json.dumps(value_as_text(value), ensure_ascii=False)[1:-1])
            else:
                typed = None if value is MISSING else value
                pieces.append(json.dumps(typed, ensure_ascii=False, default=str))
            position = match.end()
            continue
        if in_string and character == "\\" and position + 1 < length:
            pieces.append(template[position : position + 2])
            position += 2
            continue
        if character == '"':
            in_string = not in_string
        pieces.append(character)
        position += 1
    return "".join(pieces)


def template_render(*, template: str, body_type: str, context: dict) -> str:
    """The template with its placeholders filled from `context`, escaped for `body_type`."""
    if body_type == BodyType.JSON:
        return _json_render(template, context)
    if body_type in (BodyType.XML, BodyType.HTML):
        return _markup_render(template, context)
    return PLACEHOLDER_RE.sub(lambda match: value_as_text(context_value(context, match.group(1))), template)


def url_render(*, url: str, context: dict) -> str:
    """The URL with each placeholder's value percent-encoded (every reserved character included)."""
    return PLACEHOLDER_RE.sub(lambda match: quote(value_as_text(context_value(context, match.group(1))), safe=""), url)


def example_context(event_type: str) -> dict:
    """The context an event of `event_type` would give, built from the registry's example payload."""
    spec = event_types.event_type_get(event_type)
    data = dict(spec.example) if spec is not None else {}
    return {"event": {"id": EXAMPLE_EVENT_ID, "type": event_type, "created": EXAMPLE_CREATED}, "data": data}


def example_contexts(event_type_codes: Sequence[str]) -> list[dict]:
    """Example contexts of the given types; of every registered type when none is given."""
    codes = list(event_type_codes) or [spec.code for spec in event_types.REGISTRY]
    return [example_context(code) for code in codes]


def _context_paths(value: Any, prefix: str) -> list[str]:
    if isinstance(value, dict) and value:
        return [path for key, item in value.items() for path in _context_paths(item, f"{prefix}.{key}")]
    return [prefix]


def placeholders_unresolved(*, text: str, contexts: Sequence[dict]) -> list[str]:
    """Placeholders of `text` that resolve in none of `contexts`."""
    return [
        path
        for path in template_placeholders(text)
        if all(context_value(context, path) is MISSING for context in contexts)
    ]


def known_paths(contexts: Sequence[dict], under: str = "") -> list[str]:
    """The leaf paths of the contexts (below `under`, e.g. "data"), at most MAX_LISTED_PATHS."""
    start = contexts if not under else [context.get(under, {}) for context in contexts]
    known = list(dict.fromkeys(path for context in start for path in _context_paths(context, "")))
    return [path.lstrip(".") for path in known][:MAX_LISTED_PATHS]


def context_types(contexts: Sequence[dict]) -> str:
    """The event types the contexts are examples of, for messages."""
    return ", ".join(sorted({str(context.get("event", {}).get("type")) for context in contexts}))


def unresolved_message(unresolved: Sequence[str], contexts: Sequence[dict]) -> str:
    """A sentence naming the unknown placeholders and the ones that exist."""
    known = known_paths(contexts)
    names = ", ".join(f"<{path}>" for path in unresolved)
    types = context_types(contexts)
    return (
        f"Unknown placeholder{'s' if len(unresolved) > 1 else ''} {names}: not in the events of {types}. "
        f"Available: {', '.join(f'<{path}>' for path in known)}{' …' if len(known) == MAX_LISTED_PATHS else ''}."
    )


def template_check(*, template: str, body_type: str, example_context: dict | Sequence[dict]) -> None:
    """Raise ValidationError when a placeholder resolves in none of the example contexts, or when a
    JSON template is not JSON once filled. Pass one context or several (one per subscribed type)."""
    contexts = [example_context] if isinstance(example_context, dict) else list(example_context)
    if not template:
        return
    unresolved = placeholders_unresolved(text=template, contexts=contexts)
    if unresolved:
        raise ValidationError(unresolved_message(unresolved, contexts), code="placeholder")
    if body_type != BodyType.JSON:
        return
    for context in contexts:
        rendered = _json_render(template, context)
        try:
            json.loads(rendered)
        except json.JSONDecodeError as error:
            raise ValidationError(
                f"The template is not JSON once its placeholders are filled: {error.msg} "
                f"(line {error.lineno}, column {error.colno}). Filled with the example of "
                f"{context['event']['type']}: {rendered[:200]}",
                code="json",
            ) from error
