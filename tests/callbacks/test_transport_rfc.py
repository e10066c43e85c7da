"""The transport against raw-socket servers, case by case of RFC 9112: invalid framing, interim
answers, answers without a body, bodies ended by the close, an answer before the request's end, a
request never written twice, look-ups within the connect timeout and never in anyone else's way."""

from __future__ import annotations

import socket
import threading

import pytest

from callbacks.delivery.engine import dispatch_batch
from callbacks.delivery.render.request import RenderedRequest
from callbacks.delivery.send import network, transport
from callbacks.delivery.send.transport import request_send
from callbacks.models import Delivery
from tests.callbacks.engine_helpers import delivery_of, emit, profile_for
from tests.callbacks.wire_servers import WAIT_S, answers_script, head_read, request_read, scripted_servers

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture
def servers():
    with scripted_servers() as make:
        yield make


def send(url: str, *, body: bytes = b'{"n": 1}', timeout_s: float = 5.0):
    request = RenderedRequest(method="POST", url=url, headers={}, body=body, webhook_id="msg_rfc")
    return request_send(request, connect_timeout_s=timeout_s, response_timeout_s=timeout_s)


# --- framing --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2, 5\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ],
    ids=["two-lengths", "a-list-of-lengths", "chunked-and-length", "length-and-chunked"],
)
def test_an_answer_whose_length_is_ambiguous_is_invalid(servers, answer):
    # given a server whose framing RFC 9112 says to treat as invalid
    server = servers(answers_script(answer, close_after=True))
    # when a request goes out / then the answer is refused as a protocol error, not read as a 200
    result = send(server.url())
    assert (result.status, result.error_class) == (None, "protocol_error")
    assert "Content-Length" in result.error_detail


def test_interim_answers_of_every_kind_are_skipped(servers):
    # given a server sending 100 Continue and 103 Early Hints (with a header) before the real answer
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
    final = b"HTTP/1.1 202 Accepted\r\nContent-Length: 4\r\nX-Final: yes\r\n\r\ndone"
    server = servers(answers_script(interim + final, OK))
    # when two requests go out
    first, second = send(server.url()), send(server.url())
    # then the final answer is the one kept, without the interim headers, and the connection serves on
    assert (first.status, first.body, first.error_class) == (202, b"done", "")
    assert first.headers["x-final"] == "yes" and "link" not in first.headers
    assert (second.status, server.connections) == (200, 1)


@pytest.mark.parametrize("status", [204, 304])
def test_a_204_or_304_carries_no_body_whatever_it_says(servers, status):
    # given answers without a body, one claiming a length, followed on the same connection by a 200
    answer = f"HTTP/1.1 {status} X\r\nContent-Length: 5\r\n\r\n".encode()
    server = servers(answers_script(answer, OK))
    # when two requests go out
    first, second = send(server.url()), send(server.url())
    # then the first ends at its head, and the second is read whole on the same connection
    assert (first.status, first.body, first.error_class) == (status, b"", "")
    assert (second.status, second.body) == (200, b"ok")
    assert server.connections == 1


def test_a_body_without_a_length_ends_when_the_server_closes(servers):
    # given an HTTP/1.1 answer with neither Content-Length nor chunks, its body ended by the close
    answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"status_code": "000"}'
    server = servers(answers_script(answer, OK, close_after=True))
    # when two requests go out
    first = send(server.url())
    second = send(server.url())
    # then the body is read to the close, and the next request takes a connection of its own
    assert (first.status, first.body, first.error_class) == (200, b'{"status_code": "000"}', "")
    assert (second.status, server.connections) == (200, 2)


def test_an_answer_cut_short_is_not_taken_for_a_whole_one(servers):
    server = servers(answers_script(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\npar", close_after=True))
    result = send(server.url())
    assert result.error_class == "connection_closed"


@pytest.mark.parametrize("ends", [True, False], ids=["one-long-header", "header-lines-without-end"])
def test_an_endless_head_is_cut_off_as_a_protocol_error(servers, ends):
    # given a server whose answer's headers run past 64 KiB, in one line or in lines that never end
    if ends:
        head = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * (80 * 1024) + b"\r\n\r\n"
    else:
        head = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: a\r\n" * (100 * 1024 // 10)

    def script(server, connection, index):
        request_read(connection)
        connection.sendall(head)
        server.finished.wait(WAIT_S)

    server = servers(script)
    # when a request goes out / then the head is refused, not buffered without end
    result = send(server.url())
    assert (result.status, result.error_class) == (None, "protocol_error")
    assert "head" in result.error_detail


# --- an answer before the request's end ------------------------------------------------------------------
def test_a_final_answer_before_the_body_is_written_is_read_by_its_status(servers):
    # given a server that answers 413 on reading the head of a large request, and reads no further
    def script(server, connection, index):
        server.requests.append(head_read(connection))
        connection.sendall(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!")
        server.finished.wait(WAIT_S)  # the rest of the body stays unread until the client is done

    server = servers(script)
    # when a body far larger than the socket buffers is sent
    result = send(server.url(), body=b"x" * (16 * 1024 * 1024))
    server.finished.set()
    # then the attempt ends with the server's 413, not a closed connection or a timeout
    assert (result.status, result.body, result.error_class) == (413, b"too big!", "")


# --- a request is never written twice ---------------------------------------------------------------
def _answers_once_then_drops_the_next_request(server, connection, index):
    """On the first connection: answer one request and keep the connection, then read the next
    request whole and close without answering. Later connections answer every request."""
    while True:
        request = request_read(connection)
        if request is None:
            return
        server.requests.append(request)
        if index == 0 and len(server.requests) == 2:
            return
        connection.sendall(OK)


def test_a_request_the_server_read_before_closing_is_not_sent_again(servers):
    # given a kept-alive connection whose server reads the second request and closes without answering
    server = servers(_answers_once_then_drops_the_next_request)
    assert send(server.url()).status == 200
    # when the second request goes out on it
    result = send(server.url())
    # then the attempt fails as a closed connection, and the server saw the request once
    assert (result.status, result.error_class) == (None, "connection_closed")
    assert len(server.requests) == 2 and server.connections == 1


@pytest.mark.django_db
def test_the_engine_records_the_attempt_and_leaves_the_retry_to_the_schedule(account, servers):
    # given a profile whose receiver drops the second request it reads on a kept-alive connection
    server = servers(_answers_once_then_drops_the_next_request)
    profile_for(account, None, url=server.url())
    first = emit(account, {"n": 1})
    dispatch_batch(worker_id="test")
    assert delivery_of(first).state == Delivery.State.DELIVERED
    # when a second event goes out over the kept-alive connection
    second = emit(account, {"n": 2})
    dispatch_batch(worker_id="test")
    # then the receiver saw it exactly once, and it waits for its retry as one failed attempt
    delivery = delivery_of(second)
    assert sum(str(delivery.id).encode() in request for request in server.requests) == 1
    assert delivery.state == Delivery.State.PENDING
    assert delivery.attempt_count == 1
    assert delivery.attempts.get().error_class == "connection_closed"
    assert delivery.next_attempt_at is not None


# --- look-ups ---------------------------------------------------------------------------------------
@pytest.fixture
def slow_names(monkeypatch):
    """Names ending in `.slow.test` resolve only once released; every other look-up goes on as usual."""
    released = threading.Event()
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if str(host).endswith(".slow.test"):
            released.wait(WAIT_S)
            raise socket.gaierror(socket.EAI_NONAME, "no such name")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(network.socket, "getaddrinfo", getaddrinfo)
    yield released
    released.set()


def test_slow_look_ups_hold_up_no_request_to_another_name(servers, slow_names):
    # given a dozen requests whose names take their time to resolve (more than there used to be resolver threads)
    server = servers(answers_script(OK))
    ended: list = []
    for number in range(12):
        request = RenderedRequest(
            method="POST", url=f"http://host-{number}.slow.test/hook", headers={}, body=b"{}", webhook_id="m"
        )
        transport.transport.submit(request, connect_timeout_s=WAIT_S, response_timeout_s=5, done=ended.append)
    # when a request to localhost goes out meanwhile
    result = send(server.url(host="localhost"))
    # then it is answered while every slow look-up is still under way
    assert (result.status, result.error_class) == (200, "")
    assert ended == []


def test_a_look_up_counts_within_the_connect_timeout(slow_names):
    # given a name that does not resolve in time / when a request with a short connect timeout goes out
    request = RenderedRequest(method="POST", url="http://late.slow.test/hook", headers={}, body=b"{}", webhook_id="m")
    result = request_send(request, connect_timeout_s=0.2, response_timeout_s=5)
    # then it ends as a connect timeout while the look-up still waits
    assert (result.status, result.error_class) == (None, "connect_timeout")
    assert "resolve" in result.error_detail
    assert not slow_names.is_set()


@pytest.mark.parametrize("url", ["http://127.0.0.1:0/hook", "https://[::1]:0/hook"])
def test_port_0_is_never_called(url):
    result = send(url)
    assert (result.status, result.error_class) == (None, "transport_error")
