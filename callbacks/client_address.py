"""The address a request came from, trusting `X-Forwarded-For` only as far as TRUSTED_PROXY_COUNT says.

With no proxy in front (0, the default) the header is ignored: anyone can write it. With N proxies
that each append the address they saw, the client is the N-th address from the right, the one the
outermost trusted proxy wrote; entries further left were written by the client and are ignored.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    remote_address = request.META.get("REMOTE_ADDR", "") or "unknown"
    trusted_proxies = settings.TRUSTED_PROXY_COUNT
    if trusted_proxies <= 0:
        return remote_address
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not forwarded:
        return remote_address
    # Fewer entries than proxies: the leftmost is the farthest address any trusted proxy saw.
    return forwarded[-min(trusted_proxies, len(forwarded))]
