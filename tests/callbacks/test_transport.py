"""Answers as receivers really send them, beyond the keep-alive HTTP/1.1 of our own test receiver."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from callbacks.delivery.engine import dispatch_batch
from callbacks.models import Delivery
from tests.callbacks.engine_helpers import delivery_of, emit

pytestmark = pytest.mark.django_db


class _CloseDelimitedHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.0 with no Content-Length: the body ends when the server closes the connection."""

    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append(self.headers.get("webhook-id"))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status_code": "000", "delivery_id": "r-1"}')

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def close_delimited_receiver() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CloseDelimitedHandler)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_an_answer_ended_by_closing_the_connection_is_delivered_once(account, close_delimited_receiver):
    # given a profile whose receiver answers HTTP/1.0 style, its body ended by closing the connection
    from tests.factories import CallbackProfileFactory

    host, port = close_delimited_receiver.server_address[:2]
    profile = CallbackProfileFactory(account=account, url=f"http://{host}:{port}/hook", response_contract="envelope")
    profile.event_types.add("message.status")
    # when an event is dispatched
    event = emit(account)
    dispatch_batch(worker_id="test")
    # then it is delivered on the first attempt, the envelope read from the closed-off body
    delivery = delivery_of(event)
    assert delivery.state == Delivery.State.DELIVERED
    assert delivery.attempt_count == 1
    assert close_delimited_receiver.received == [str(delivery.id)]
    assert delivery.attempts.get().receiver_delivery_id == "r-1"
