"""The way out: the TLS trust callbacks are checked against (the system's, plus `CALLBACKS_CA_BUNDLE`) and
the HTTP proxy they may go through (`CALLBACKS_EGRESS_PROXY`: a `CONNECT` tunnel for https, absolute-form
requests for http). Settings are read at call time; what they build is kept until they change.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: str = ""  # a whole `Proxy-Authorization` value, or "" without credentials


def tls_context() -> ssl.SSLContext:
    """The system's trust, with the operator's private CA added when `CALLBACKS_CA_BUNDLE` names one."""
    return _tls_context_for(getattr(settings, "CALLBACKS_CA_BUNDLE", "") or "")


@lru_cache(maxsize=4)
def _tls_context_for(ca_bundle: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as error:
            raise ImproperlyConfigured(f"CALLBACKS_CA_BUNDLE {ca_bundle!r} cannot be read as PEM: {error}") from error
    return context


def tls_context_forget() -> None:
    """Build the context again on next use (after the system's trust store changed)."""
    _tls_context_for.cache_clear()


def proxy() -> Proxy | None:
    """The proxy every callback goes through, or None to connect directly."""
    return proxy_parse(getattr(settings, "CALLBACKS_EGRESS_PROXY", "") or "")


@lru_cache(maxsize=4)
def proxy_parse(url: str) -> Proxy | None:
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ImproperlyConfigured(f"CALLBACKS_EGRESS_PROXY is not a URL: {error}") from error
    if parts.scheme != "http" or not parts.hostname or port == 0:
        raise ImproperlyConfigured("CALLBACKS_EGRESS_PROXY must read http://[user:password@]host:port")
    authorization = ""
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(credentials).decode("ascii")
    return Proxy(host=parts.hostname, port=port or 80, authorization=authorization)


def authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def connect_head(via: Proxy, address: str, port: int) -> bytes:
    """The request that opens a tunnel to `address:port` (an address the SSRF guard has checked, so the
    proxy cannot be handed another by a second look-up of the name)."""
    target = authority(address, port)
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if via.authorization:
        lines.append(f"Proxy-Authorization: {via.authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def absolute_target(host: str, port: int, target: str) -> str:
    """An http request's target in absolute form, as a proxy is asked for it."""
    shown = authority(host, port) if port != 80 else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}{target}"
