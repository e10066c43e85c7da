"""Sending one request: pooled connections, timeouts, no redirects, capped bodies, the SSRF guard at
connect time. `request_send` never raises; it returns a `TransportResult` and the engine decides.

urllib3's pool is used directly (it is requests' own engine, without the per-call overhead of
sessions and proxy lookups from the environment). Each new connection resolves the host through
`callbacks.network.host_resolve_checked` and connects to the checked address, so a name that
rebinds to a private address after the profile was saved is refused.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import connection as urllib3_connection

from callbacks import network
from callbacks.rendering import RenderedRequest

MAX_RESPONSE_BODY_BYTES = 64 * 1024
MAX_ERROR_DETAIL_CHARS = 500
DEFAULT_POOL_HOSTS = 1000


class ForbiddenConnectionError(NewConnectionError):
    """The host resolved to an address callbacks must not reach."""


class _GuardedConnectionMixin:
    """Resolve through the SSRF guard and connect to the checked addresses only."""

    def _new_conn(self) -> socket.socket:
        host = self._dns_host  # type: ignore[attr-defined]
        try:
            addresses = network.host_resolve_checked(host, self.port)  # type: ignore[attr-defined]
        except network.ForbiddenAddress as error:
            raise ForbiddenConnectionError(self, str(error)) from error
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error  # type: ignore[attr-defined]
        last_error: OSError | None = None
        for address in addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port),  # type: ignore[attr-defined]
                    self.timeout,  # type: ignore[attr-defined]
                    source_address=self.source_address,  # type: ignore[attr-defined]
                    socket_options=self.socket_options,  # type: ignore[attr-defined]
                )
            except TimeoutError as error:
                raise ConnectTimeoutError(self, f"Connection to {host} timed out") from error
            except OSError as error:
                last_error = error
        raise NewConnectionError(self, f"Failed to establish a new connection: {last_error}") from last_error


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


@dataclass(slots=True)
class TransportResult:
    """What happened to one request. `status` is None when no HTTP answer came (see error_class)."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # names lowercased
    body: bytes = b""
    body_truncated: bool = False
    duration_ms: int = 0
    started_at: float = 0.0  # time.time()
    error_class: str = ""
    error_detail: str = ""

    @property
    def answered(self) -> bool:
        return self.status is not None


_pool_lock = threading.Lock()
_pool: tuple[int, urllib3.PoolManager] | None = None


def pool_manager() -> urllib3.PoolManager:
    """The process's connection pools (one per host), created on first use and again after a fork."""
    global _pool
    current = _pool
    if current is not None and current[0] == os.getpid():
        return current[1]
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            manager = urllib3.PoolManager(
                num_pools=DEFAULT_POOL_HOSTS,
                maxsize=int(getattr(settings, "CALLBACKS_DISPATCH_CONCURRENCY", 100)),
                block=False,
                retries=False,
            )
            manager.pool_classes_by_scheme = {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}
            _pool = (os.getpid(), manager)
        return _pool[1]


def _error_class(error: BaseException) -> str:
    if isinstance(error, ForbiddenConnectionError):
        return "forbidden_address"
    if isinstance(error, NameResolutionError):
        return "dns_error"
    if isinstance(error, NewConnectionError):  # before ConnectTimeoutError, its base class in urllib3 2
        return "connect_refused" if isinstance(error.__cause__, ConnectionRefusedError) else "connect_error"
    if isinstance(error, ConnectTimeoutError):
        return "connect_timeout"
    if isinstance(error, ReadTimeoutError):
        return "response_timeout"
    if isinstance(error, SSLError):
        return "tls_error"
    if isinstance(error, ProtocolError):
        return "connection_closed"
    return "transport_error"


def _detail(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text[:MAX_ERROR_DETAIL_CHARS]


def _body_read(response: urllib3.BaseHTTPResponse, *, max_bytes: int, deadline: float) -> bytes:
    """Up to `max_bytes` of the body, within `deadline` (monotonic) in all.

    The read timeout alone bounds each socket read, so an answer trickling in a byte at a time
    would never time out; this bounds the whole body, raising ReadTimeoutError past the deadline.
    """
    chunks: list[bytes] = []
    size = 0
    while size < max_bytes:
        if time.monotonic() > deadline:
            raise ReadTimeoutError(None, None, "the answer did not finish within the response timeout")  # type: ignore[arg-type]
        chunk = response.read1(max_bytes - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def request_send(
    request: RenderedRequest,
    *,
    connect_timeout_s: float,
    response_timeout_s: float,
    max_body_bytes: int = MAX_RESPONSE_BODY_BYTES,
) -> TransportResult:
    """Send `request` once: no redirects, no retries, the response body read up to `max_body_bytes`."""
    started_at = time.time()
    started = time.monotonic()
    result = TransportResult(started_at=started_at)
    try:
        response = pool_manager().urlopen(
            request.method,
            request.url,
            body=request.body or None,
            headers=request.headers,
            timeout=urllib3.Timeout(connect=connect_timeout_s, read=response_timeout_s),
            retries=False,
            redirect=False,
            preload_content=False,
        )
    except Exception as error:  # the result carries the failure; the engine classifies it
        result.error_class = _error_class(error)
        result.error_detail = _detail(error)
        result.duration_ms = int((time.monotonic() - started) * 1000)
        return result
    try:
        result.status = response.status
        result.headers = {name.lower(): value for name, value in response.headers.items()}
        body = _body_read(response, max_bytes=max_body_bytes + 1, deadline=time.monotonic() + response_timeout_s)
        if len(body) > max_body_bytes:
            result.body, result.body_truncated = body[:max_body_bytes], True
            response.close()  # the rest stays unread: the connection cannot be reused
    except Exception as error:  # an answer started, then broke off or stalled
        result.error_class = _error_class(error)
        result.error_detail = _detail(error)
        response.close()
    else:
        if not result.body_truncated:
            result.body = body
    finally:
        response.release_conn()
        result.duration_ms = int((time.monotonic() - started) * 1000)
    return result
