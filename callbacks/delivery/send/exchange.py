"""One request and its answer on the transport's loop: resolve (the SSRF guard), connect, a tunnel
through the egress proxy, TLS, send, receive. Every step has a deadline: the look-up, connection and
TLS share the connect timeout; the response timeout bounds the whole answer, headers and body, so a
receiver dripping bytes is cut off too. Every new connection connects to an address the guard has
checked, so a name that rebinds to a private address after the profile was saved is refused.

A request is written once per attempt: only when a kept-alive connection fails before any byte of it
was written does it go out again, on a fresh connection.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import selectors
import socket
import ssl
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from callbacks.delivery.render.request import RenderedRequest
from callbacks.delivery.send import egress, http_wire, network
from callbacks.delivery.send.io_loop import Connection, IoLoop
from callbacks.delivery.send.result import TransportResult

logger = logging.getLogger(__name__)

MAX_ERROR_DETAIL_CHARS = 500
RECEIVE_BYTES = 64 * 1024
CONNECT_UNDER_WAY = frozenset({0, errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY, errno.EWOULDBLOCK})


class _Failure(Exception):
    def __init__(self, error_class: str, detail: str) -> None:
        super().__init__(detail)
        self.error_class = error_class


def _idle_connection_usable(sock: socket.socket) -> bool:
    """False when a kept-alive socket has something to read while no request is out: the server closed
    it (or wrote out of turn) and the loop has not seen it yet."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return not poller.poll(0)


class Exchange:
    """One request and its answer, moved along by the loop: resolve, connect, (tunnel,) TLS, send, receive."""

    def __init__(
        self,
        loop: IoLoop,
        request: RenderedRequest,
        *,
        connect_timeout_s: float,
        response_timeout_s: float,
        max_body_bytes: int,
        done: Callable[[TransportResult], Any],
    ) -> None:
        self.loop = loop
        self.request = request
        self.connect_timeout_s = connect_timeout_s
        self.response_timeout_s = response_timeout_s
        self.max_body_bytes = max_body_bytes
        self.done = done
        self.started = time.monotonic()
        self.connect_deadline = self.started + connect_timeout_s
        self.result = TransportResult(started_at=time.time())
        self.connection: Connection | None = None
        self.addresses: list[str] = []
        self.tunnel_address = ""
        self.reader: http_wire.ResponseReader | None = None
        self.payload = b""
        self.outgoing = memoryview(b"")
        self.written = 0  # bytes of the request written on the current connection
        self.step: Callable[[], None] | None = None  # what to do when the socket is ready
        self.phase = 0  # bumped at every step with a deadline, so a stale timer does nothing
        self.finished = False
        self.via: egress.Proxy | None = None
        parts = urlsplit(request.url)
        self.scheme = parts.scheme.lower()
        self.host = parts.hostname or ""
        self.default_port = 443 if self.scheme == "https" else 80
        try:
            self.port = parts.port if parts.port is not None else self.default_port
        except ValueError:  # a port out of range: `start` fails the exchange
            self.port = 0
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.key = (self.scheme, self.host, self.port)

    # --- the steps -------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.scheme not in ("http", "https") or not self.host or not self.port:
            raise _Failure("transport_error", f"cannot send to {self.scheme}://{self.host} (scheme, host and port)")
        try:
            self.via = egress.proxy()
        except ImproperlyConfigured as error:
            raise _Failure("proxy_error", str(error)) from error
        if self.via is not None:  # kept-alive connections through the proxy are its own
            self.key = (f"{self.scheme} via {self.via.host}:{self.via.port}", self.host, self.port)
        target, headers = self.target, self.request.headers
        if self.via is not None and self.scheme == "http":
            target = egress.absolute_target(self.host, self.port, self.target)
            if self.via.authorization:
                headers = {**headers, "Proxy-Authorization": self.via.authorization}
        try:
            self.payload = http_wire.request_bytes(
                method=self.request.method,
                host=self.host,
                port=self.port,
                default_port=self.default_port,
                target=target,
                headers=headers,
                body=self.request.body or b"",
            )
        except http_wire.WireError as error:
            raise _Failure("transport_error", str(error)) from error
        connection = self.loop.idle_take(self.key)
        if connection is not None:
            self._send_on(connection)
        else:
            self.lookup()

    def lookup(self) -> None:
        """The addresses to connect to, found within the connect timeout: an address at once, a name
        on a resolver thread (look-ups of one name at once share it)."""
        self.connect_deadline = time.monotonic() + self.connect_timeout_s
        if self.via is None and network.ip_literal_parse(self.host) is not None:
            self._resolved(self._resolve)
            return
        self._deadline_set(self.connect_deadline, "connect_timeout", f"{self.host} did not resolve in time")
        self.loop.in_resolver(
            (self.host, self.port, self.via),
            self._resolve,
            lambda outcome: self.run(partial(self._resolved, outcome)),
        )

    def _resolve(self) -> tuple[list[str], str]:
        """(addresses to connect to, the checked target address a tunnel asks for). Runs on a resolver thread."""
        try:
            checked = network.host_resolve_checked(self.host, self.port)
        except network.ForbiddenAddress as error:
            raise _Failure("forbidden_address", str(error)) from error
        except (OSError, UnicodeError) as error:
            raise _Failure("dns_error", f"{self.host} does not resolve: {error}") from error
        if self.via is None:
            return checked, ""
        try:  # the proxy is the operator's own: the guard does not apply to it
            infos = socket.getaddrinfo(self.via.host, self.via.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            raise _Failure("proxy_error", f"the egress proxy {self.via.host} does not resolve: {error}") from error
        return list(dict.fromkeys(str(info[4][0]) for info in infos)), checked[0]

    def _resolved(self, outcome: Callable[[], tuple[list[str], str]]) -> None:
        addresses, self.tunnel_address = outcome()
        self.addresses = list(addresses)
        self._connect_next(None)

    def _connect_next(self, last_error: OSError | None) -> None:
        where = f"the egress proxy {self.via.host}:{self.via.port}" if self.via else f"{self.host}:{self.port}"
        if not self.addresses:
            refused = isinstance(last_error, ConnectionRefusedError) and self.via is None
            raise _Failure(
                "connect_refused" if refused else "connect_error", f"cannot connect to {where}: {last_error}"
            )
        address = self.addresses.pop(0)
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        self.connection = Connection(self.key, sock)
        code = sock.connect_ex((address, self.via.port if self.via else self.port))
        if code not in CONNECT_UNDER_WAY:
            self.connection.close()
            self._connect_next(OSError(code, os.strerror(code)))
            return
        self._wait_connecting(self._connected, f"no connection to {where}")

    def _connected(self) -> None:
        sock = self.connection.sock
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.loop.forget(self.connection.sock)
            self.connection.close()
            self._connect_next(OSError(code, os.strerror(code)))
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.scheme != "https":
            self._send_on(self.connection)
        elif self.via is not None:
            self._tunnel_open()
        else:
            self._tls_start()

    def _tunnel_open(self) -> None:
        """Ask the proxy for a tunnel to the checked address; TLS with the receiver goes through it."""
        head = egress.connect_head(self.via, self.tunnel_address, self.port)
        if self.connection.sock.send(head) != len(head):  # a few hundred bytes on a fresh socket
            raise _Failure("proxy_error", "the egress proxy took only part of the CONNECT request")
        self.reader = http_wire.ResponseReader(max_body_bytes=0)
        self._wait_connecting(self._tunnel_answer, f"no tunnel through the egress proxy to {self.host}:{self.port}")
        self.loop.watch(self.connection.sock, selectors.EVENT_READ, self)

    def _tunnel_answer(self) -> None:
        try:
            data = self.connection.sock.recv(RECEIVE_BYTES)
            if not data:
                raise ConnectionError("the egress proxy closed the connection")
            self.reader.feed(data)
        except BlockingIOError:
            return
        except (http_wire.WireError, OSError) as error:
            raise _Failure("proxy_error", f"the egress proxy failed: {error}") from error
        status = self.reader.status
        if status is None:
            return  # the head is still coming
        if not 200 <= status < 300:
            raise _Failure("proxy_error", f"the egress proxy refused a tunnel to {self.host}:{self.port}: {status}")
        self.reader = None  # the proxy's answer is not the receiver's
        self._tls_start()

    def _tls_start(self) -> None:
        sock = self.connection.sock
        try:
            self.connection.sock = egress.tls_context().wrap_socket(
                sock, server_hostname=self.host, do_handshake_on_connect=False
            )
        except (ssl.SSLError, OSError, ImproperlyConfigured) as error:
            raise _Failure("tls_error", f"TLS with {self.host} failed: {error}") from error
        self.loop.forget(sock)  # the selector follows the wrapped socket from here
        self._wait_connecting(self._handshake, f"no TLS session with {self.host}:{self.port}")

    def _handshake(self) -> None:
        try:
            self.connection.sock.do_handshake()
        except ssl.SSLWantReadError:
            self.loop.watch(self.connection.sock, selectors.EVENT_READ, self)
            return
        except ssl.SSLWantWriteError:
            self.loop.watch(self.connection.sock, selectors.EVENT_WRITE, self)
            return
        except (ssl.SSLError, ssl.CertificateError, OSError) as error:
            raise _Failure("tls_error", f"TLS with {self.host} failed: {error}") from error
        self._send_on(self.connection)

    def _send_on(self, connection: Connection) -> None:
        self.connection = connection
        if connection.reused and not _idle_connection_usable(connection.sock):
            self._fresh_connection()  # closed while idle: nothing of this request went out on it
            return
        self.outgoing = memoryview(self.payload)
        self.written = 0
        self.reader = http_wire.ResponseReader(max_body_bytes=self.max_body_bytes)
        self._wait(
            selectors.EVENT_WRITE,
            self._send,
            self.response_timeout_s,
            "response_timeout",
            f"no complete answer within the response timeout ({self.response_timeout_s} s)",
        )
        self._send()

    def _send(self) -> None:
        """Write the request; while it goes out, read too: a server may answer (a 413…) before the end."""
        sock = self.connection.sock
        if self.written and self._read_available():
            return
        try:
            while self.outgoing:
                sent = sock.send(self.outgoing)
                self.outgoing = self.outgoing[sent:]
                self.written += sent
        except (BlockingIOError, ssl.SSLWantWriteError):
            self.loop.watch(sock, selectors.EVENT_WRITE | selectors.EVENT_READ, self)
            return
        except ssl.SSLWantReadError:
            self.loop.watch(sock, selectors.EVENT_READ, self)
            return
        except OSError:
            if self.connection.reused and not self.written:
                self._fresh_connection()
                return
            self.outgoing = memoryview(b"")  # the server stopped reading: what it answered is still read
            self.step = self._receive
            self._receive()
            return
        self.step = self._receive
        self.loop.watch(sock, selectors.EVENT_READ, self)

    def _receive(self) -> None:
        self._read_available()

    def _read_available(self) -> bool:
        """Read what has come; True once the exchange has ended with the answer."""
        sock, reader = self.connection.sock, self.reader
        try:
            while not reader.done:
                data = sock.recv(RECEIVE_BYTES)
                if not data:
                    reader.eof()
                    break
                reader.feed(data)
        except (BlockingIOError, ssl.SSLWantReadError):
            return False  # more to come
        except ssl.SSLWantWriteError:
            self.loop.watch(self.connection.sock, selectors.EVENT_WRITE, self)
            return False
        except http_wire.WireError as error:
            self._answered()
            raise _Failure("protocol_error", str(error)) from error
        except (ConnectionError, ssl.SSLError, OSError) as error:
            if reader.status is not None:
                self._answered()
            raise _Failure("connection_closed", f"{type(error).__name__}: {error}") from error
        self._answered()
        # An answer before the whole request went out leaves the connection in no state to carry another.
        self.finish(reusable=reader.reusable and self.written == len(self.payload))
        return True

    def _answered(self) -> None:
        reader = self.reader
        self.result.status, self.result.headers = reader.status, reader.headers
        self.result.body, self.result.body_truncated = reader.body, reader.body_truncated

    def _fresh_connection(self) -> None:
        """A kept-alive connection failed before any of the request was written on it: the only case
        where a request goes out again, since the receiver cannot have seen it."""
        self.loop.forget(self.connection.sock)
        self.connection.close()
        self.connection = None
        self.phase += 1
        self.lookup()

    # --- the loop's side ---------------------------------------------------------------------------
    def _wait(self, events: int, step: Callable[[], None], timeout_s: float, error_class: str, detail: str) -> None:
        self.step = step
        self.loop.watch(self.connection.sock, events, self)
        self._deadline_set(time.monotonic() + timeout_s, error_class, detail)

    def _wait_connecting(self, step: Callable[[], None], what: str) -> None:
        """Wait for the socket to be writable, by the deadline that began with the look-up."""
        detail = f"{what} within the connect timeout ({self.connect_timeout_s} s)"
        self._wait(selectors.EVENT_WRITE, step, self.connect_deadline - time.monotonic(), "connect_timeout", detail)

    def _deadline_set(self, deadline: float, error_class: str, detail: str) -> None:
        self.phase += 1
        self.loop.timer_add(deadline, self, self.phase, partial(self._timed_out, error_class, detail))

    def _timed_out(self, error_class: str, detail: str) -> None:
        if self.reader is not None and self.reader.status is not None:
            self._answered()  # what came of the answer before the time ran out
        self.fail(error_class, detail)

    def on_ready(self) -> None:
        """The loop's call: the socket is ready for the step waiting on it."""
        self.run(self.step)

    def run(self, step: Callable[[], None]) -> None:
        """Run one step; a failure anywhere ends the exchange with it."""
        if self.finished:
            return
        try:
            step()
        except _Failure as failure:
            self.fail(failure.error_class, str(failure))
        except Exception as error:  # a bug here must not stop the loop or lose the result
            logger.exception("transport.step_failed", extra={"url_host": self.host})
            self.fail("transport_error", f"{type(error).__name__}: {error}")

    def fail(self, error_class: str, detail: str) -> None:
        self.result.error_class, self.result.error_detail = error_class, detail[:MAX_ERROR_DETAIL_CHARS]
        self.finish(reusable=False)

    def finish(self, *, reusable: bool) -> None:
        if self.finished:
            return
        self.finished = True
        self.result.duration_ms = int((time.monotonic() - self.started) * 1000)
        if self.connection is not None:
            if reusable:
                self.loop.idle_put(self.connection)
            else:
                self.loop.forget(self.connection.sock)
                self.connection.close()
        done, result = self.done, self.result
        # Timers of finished exchanges wait in the heap until they would have fired: keep them light.
        self.request = self.result = self.reader = self.connection = self.done = None
        self.payload, self.outgoing = b"", memoryview(b"")
        done(result)
