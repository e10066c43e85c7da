"""What counts as a secret in a header or query parameter name, and its value masked: one rule for the
delivery log (attempts as stored), the failure e-mails, the admin and the API.

Names are compared normalised: case ignored, `-` and `_` alike (`X-Api_Key` is `x_api_key`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

REDACTED = "[redacted]"
MASK_SAFE = "[]*"  # the mask reads as itself in a stored or mailed URL
# Anywhere in the name, separators removed: `access_token`, `X-Api-Key`, `client-secret`.
SECRET_WORDS = (
    "authorization",
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "accesskey",
    "privatekey",
    "signature",
    "credential",
    "cookie",
    "session",
)
# A whole part of the name between separators: `sig`, `key`, `X-Auth`, `pwd`.
SECRET_PARTS = frozenset({"auth", "key", "sig", "pwd", "pass", "jwt", "otp"})
SEPARATORS_RE = re.compile(r"[-_.\s\[\]]+")


@lru_cache(maxsize=2048)
def name_is_secret(name: str) -> bool:
    """True when a header or parameter of this name carries a secret."""
    normalised = SEPARATORS_RE.sub("_", name.strip().lower()).strip("_")
    if any(part in SECRET_PARTS for part in normalised.split("_")):
        return True
    joined = normalised.replace("_", "")
    return any(word in joined for word in SECRET_WORDS)


def headers_redact(headers: dict[str, str], mask: str = REDACTED) -> dict[str, str]:
    """The headers with every secret's value replaced by `mask`."""
    return {name: mask if name_is_secret(name) else value for name, value in headers.items()}


def query_redact(query: str, mask: str = REDACTED) -> str:
    """A query string with secret parameters' values masked; the rest kept exactly as they were."""
    if not query:
        return query
    pieces = []
    for piece in query.split("&"):
        name, equals, _ = piece.partition("=")
        if equals and name_is_secret(unquote_plus(name)):
            piece = f"{name}={quote(mask, safe=MASK_SAFE)}"
        pieces.append(piece)
    return "&".join(pieces)


def url_redact(url: str, mask: str = REDACTED) -> str:
    """`url` with any password in it and every secret query parameter's value masked."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        shown = quote(mask, safe=MASK_SAFE)
        netloc = f"{user}:{shown}@{host}" if has_password else f"{shown}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, query_redact(parts.query, mask), parts.fragment))
