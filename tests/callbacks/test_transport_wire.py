"""The transport against raw HTTP/1.1 answers and real TLS on 127.0.0.1: framing, kept-alive
connections the server drops, interim answers, headers that cannot be sent, certificates."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from callbacks.delivery.render.request import RenderedRequest
from callbacks.delivery.send import egress, io_loop, transport
from callbacks.delivery.send.transport import request_send
from tests.callbacks.wire_servers import answers_script, scripted_servers
from tests.receivers import Receiver


@pytest.fixture
def raw_server() -> Iterator:
    """`raw_server(answers, close_after=False, tls=None)`: answers each request read with the next bytes."""
    with scripted_servers() as make:
        yield lambda answers, close_after=False, tls=None: make(
            answers_script(*answers, close_after=close_after), tls=tls
        )


def send(url: str, *, headers: dict | None = None, timeout_s: float = 3.0):
    request = RenderedRequest(method="POST", url=url, headers=headers or {}, body=b'{"n": 1}', webhook_id="msg_test")
    return request_send(request, connect_timeout_s=timeout_s, response_timeout_s=timeout_s)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_a_chunked_answer_is_read_whole_and_its_connection_serves_again(raw_server):
    # given a server answering in chunks, with an extension and a trailer, keeping the connection
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n"
    server = raw_server([chunked, OK])
    # when two requests go out
    first, second = send(server.url()), send(server.url())
    # then the body is put together and both travelled on one connection
    assert (first.status, first.body, first.error_class) == (200, b"Wikipedia", "")
    assert (second.status, second.body) == (200, b"ok")
    assert server.connections == 1


def test_interim_answers_are_skipped_for_the_real_one(raw_server):
    server = raw_server(
        [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 3\r\nX-Id: 7\r\n\r\nnew"]
    )
    result = send(server.url())
    assert (result.status, result.body, result.headers["x-id"]) == (201, b"new", "7")


def test_a_kept_alive_connection_the_server_dropped_is_replaced_without_a_failure(raw_server):
    # given a server that closes each connection after answering (without saying so)
    server = raw_server([OK, OK, OK], close_after=True)
    # when three requests go out one after another, each once the server has closed the last connection
    results = []
    for sent in range(3):
        results.append(send(server.url()))
        server.wait_closed(sent + 1)
    # then each is answered, on a connection of its own
    assert [(result.status, result.error_class) for result in results] == [(200, "")] * 3
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("answer", "error_class"),
    [
        (b"SPDY/3 200 OK\r\n\r\n", "protocol_error"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "protocol_error"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "protocol_error"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "connection_closed"),
    ],
)
def test_answers_that_are_not_http_fail_with_their_class(raw_server, answer, error_class):
    server = raw_server([answer], close_after=True)
    result = send(server.url())
    assert result.error_class == error_class
    assert result.error_detail


def test_a_header_that_would_split_the_request_is_refused_before_anything_is_sent(raw_server):
    server = raw_server([OK])
    result = send(server.url(), headers={"X-Note": "a\r\nX-Injected: 1"})
    assert (result.status, result.error_class) == (None, "transport_error")
    assert server.requests == []


def test_many_requests_at_once_from_many_threads_are_all_answered_promptly():
    # given a receiver, and 8 threads each sending 25 requests one after another
    with Receiver() as receiver:
        results: list = []

        def sender() -> None:
            for _ in range(25):
                results.append(send(receiver.url("/hooks")))

        threads = [threading.Thread(target=sender) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    # then every one was answered, none waiting on the loop's idle poll (a lost wake-up waits 1 s)
    assert len(results) == 200 and {result.status for result in results} == {200}
    assert max(result.duration_ms for result in results) < 900


# --- TLS ----------------------------------------------------------------------------------------------
@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "callback-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(raw_server, certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return raw_server([OK, OK], tls=context)


@pytest.fixture
def trusted(monkeypatch, certificate):
    """The transport trusts the test certificate, as an operator's SSL_CERT_FILE would make it."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    egress.tls_context_forget()
    yield
    egress.tls_context_forget()


def test_https_to_a_trusted_certificate_is_answered_on_one_kept_alive_connection(tls_server, trusted):
    first, second = send(tls_server.url(scheme="https")), send(tls_server.url(scheme="https"))
    assert [(result.status, result.body, result.error_class) for result in (first, second)] == [(200, b"ok", "")] * 2
    assert tls_server.connections == 1
    assert tls_server.requests[0].startswith(b"POST /hook HTTP/1.1\r\n")


def test_https_to_a_certificate_nobody_vouches_for_is_refused(tls_server):
    egress.tls_context_forget()
    result = send(tls_server.url(scheme="https"))
    assert (result.status, result.error_class) == (None, "tls_error")
    assert "certificate" in result.error_detail.lower()
    assert tls_server.requests == []


def test_the_loop_keeps_no_more_timers_than_its_bound_however_many_requests_went_through():
    # given a receiver, and 6,000 requests sent 50 at a time (each leaves timers that outlive it)
    with Receiver() as receiver:
        finished = threading.Semaphore(0)
        results: list = []

        def done(result) -> None:
            results.append(result.status)
            finished.release()

        request = RenderedRequest(method="POST", url=receiver.url("/hooks"), headers={}, body=b"{}", webhook_id="m")
        for sent in range(6000):
            if sent >= 50:
                assert finished.acquire(timeout=10)
            transport.transport.submit(request, connect_timeout_s=5, response_timeout_s=60, done=done)
        for _ in range(50):
            assert finished.acquire(timeout=10)
    # then all were answered, and the timers kept are within the bound, not one per request
    assert results.count(200) == 6000
    assert len(transport.transport.loop._timers) <= io_loop.MAX_TIMERS + 100


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http://127.0.0.1:99999/x", "http:///x"])
def test_a_url_the_transport_cannot_reach_fails_the_request_not_the_caller(url):
    result = send(url)
    assert (result.status, result.error_class) == (None, "transport_error")
