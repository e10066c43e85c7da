"""Real HTTP receivers on 127.0.0.1 for tests: they record every request and answer from a script.

    receiver.respond_with(status=500)                       # every later request gets 500
    receiver.respond_next(Reply(status=503), Reply(status=200))  # queued once each, then the default
    receiver.respond_with(delay_s=0.2) / (hang=True) / (close=True)
    request = receiver.wait_for(1, timeout_s=5)[0]; request.json(); request.header("webhook-id")

Used as pytest fixtures (`receiver`, `receiver_factory`) from tests/conftest.py, and directly by the
load suites (`Receiver().start()` ... `.stop()`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_RECORDED_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Reply:
    """One scripted answer. `hang` never answers (until the receiver stops); `close` drops the connection."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | str | dict | list = b""
    delay_s: float = 0.0
    hang: bool = False
    close: bool = False

    def body_bytes(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()

    def content_type(self) -> str:
        return "application/json" if isinstance(self.body, dict | list) else "text/plain; charset=utf-8"


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    arrived_at: float  # time.time()
    arrived_monotonic: float
    client_port: int

    def header(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return default

    def json(self) -> Any:
        return json.loads(self.body)

    def text(self) -> str:
        return self.body.decode()

    @property
    def url_path(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query, keep_blank_values=True)


Responder = Callable[[RecordedRequest], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        # Clients that time out or drop connections are what the tests provoke: not worth a traceback.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do: pooled connections get exercised
    server_version = "TestReceiver/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _handle(self) -> None:
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, MAX_RECORDED_BODY_BYTES)) if length else b""
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={key: value for key, value in self.headers.items()},
            body=body,
            arrived_at=time.time(),
            arrived_monotonic=time.monotonic(),
            client_port=self.client_address[1],
        )
        reply = receiver._record_and_choose(request)
        if reply.hang:
            receiver._stopping.wait()
            self.close_connection = True
            return
        if reply.delay_s:
            receiver._stopping.wait(reply.delay_s)
        if reply.close:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = reply.body_bytes()
        self.send_response(reply.status)
        headers = {"Content-Type": reply.content_type(), **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


class Receiver:
    """A threaded HTTP server on 127.0.0.1 (ephemeral port) that records requests and answers from a script."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._requests: list[RecordedRequest] = []
        self._queued: list[Reply] = []
        self._default = Reply()
        self._responder: Responder | None = None
        self._stopping = threading.Event()
        self._server = _Server((host, 0), _Handler)
        self._server.receiver = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Receiver:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging and delayed handlers
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- where ---------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return self._server.server_address[0]

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/callbacks") -> str:
        return self.base_url + path

    # --- script --------------------------------------------------------------------------------
    def respond_with(self, reply: Reply | None = None, **fields: Any) -> Receiver:
        """Answer every later request with this reply (unless one is queued or a responder is set)."""
        with self._lock:
            self._default = reply or Reply(**fields)
        return self

    def respond_next(self, *replies: Reply) -> Receiver:
        """Queue replies used once each, in order, before the default."""
        with self._lock:
            self._queued.extend(replies)
        return self

    def respond_by(self, responder: Responder | None) -> Receiver:
        """Answer with `responder(request)` (called on the handler thread); None to go back to the script."""
        with self._lock:
            self._responder = responder
        return self

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._queued.clear()
            self._default = Reply()
            self._responder = None

    def _record_and_choose(self, request: RecordedRequest) -> Reply:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()
            if self._queued:
                return self._queued.pop(0)
            responder = self._responder
            default = self._default
        return responder(request) if responder is not None else default

    # --- what arrived ----------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `count` requests arrived; AssertionError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while len(self._requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} requests within {timeout_s} s, got {len(self._requests)}")
                self._arrived.wait(remaining)
            return list(self._requests)


def unused_port() -> int:
    """A local port nothing listens on (for connection-refused tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
