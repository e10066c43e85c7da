"""The way out: a private CA trusted beside the system's (`CALLBACKS_CA_BUNDLE`), and an HTTP proxy
(`CALLBACKS_EGRESS_PROXY`) started here, with the SSRF guard still checking where callbacks go."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from callbacks.delivery.render.request import RenderedRequest
from callbacks.delivery.send import egress
from callbacks.delivery.send.transport import request_send
from tests.callbacks.wire_servers import WAIT_S, HttpProxy, answers_script, scripted_servers

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_write(path: Path, certificate: x509.Certificate) -> Path:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
def private_ca(tmp_path: Path) -> dict[str, Path]:
    """A CA made here, and a certificate it issued for localhost and 127.0.0.1 (with its key)."""
    now = datetime.datetime.now(datetime.UTC)
    valid = {
        "not_valid_before": now - datetime.timedelta(minutes=5),
        "not_valid_after": now + datetime.timedelta(days=1),
    }
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder(subject_name=_name("Callback test CA"), issuer_name=_name("Callback test CA"), **valid)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    leaf = (
        x509.CertificateBuilder(subject_name=_name("localhost"), issuer_name=ca.subject, **valid)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_path = tmp_path / "leaf-key.pem"
    key_path.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return {"ca": _pem_write(tmp_path / "ca.pem", ca), "cert": _pem_write(tmp_path / "leaf.pem", leaf), "key": key_path}


@pytest.fixture
def servers() -> Iterator:
    with scripted_servers() as make:
        yield make


@pytest.fixture
def tls_receiver(servers, private_ca):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(private_ca["cert"], private_ca["key"])
    return servers(answers_script(OK, OK), tls=context)


@pytest.fixture
def proxy() -> Iterator[HttpProxy]:
    started = HttpProxy()
    yield started
    started.close()


@pytest.fixture(autouse=True)
def _fresh_tls_trust():
    egress.tls_context_forget()
    yield
    egress.tls_context_forget()


def send(url: str):
    request = RenderedRequest(method="POST", url=url, headers={}, body=b'{"n": 1}', webhook_id="msg_egress")
    return request_send(request, connect_timeout_s=5, response_timeout_s=5)


# --- a private CA -------------------------------------------------------------------------------------
def test_a_receiver_certified_by_a_private_ca_is_refused_until_the_ca_is_trusted(settings, tls_receiver, private_ca):
    # given a receiver whose certificate a CA made here issued, and no CA bundle configured
    settings.CALLBACKS_CA_BUNDLE = ""
    refused = send(tls_receiver.url(scheme="https", host="localhost"))
    # when the operator points CALLBACKS_CA_BUNDLE at that CA
    settings.CALLBACKS_CA_BUNDLE = str(private_ca["ca"])
    answered = send(tls_receiver.url(scheme="https", host="localhost"))
    # then the first was refused over its certificate, and the second is answered
    assert (refused.status, refused.error_class) == (None, "tls_error")
    assert "certificate" in refused.error_detail.lower()
    assert (answered.status, answered.body, answered.error_class) == (200, b"ok", "")


def test_the_private_ca_is_trusted_beside_the_system_trust_not_instead_of_it(settings, private_ca):
    system_cas = len(ssl.create_default_context().get_ca_certs())
    settings.CALLBACKS_CA_BUNDLE = str(private_ca["ca"])
    subjects = [dict(entry[0] for entry in ca["subject"]) for ca in egress.tls_context().get_ca_certs()]
    assert {"commonName": "Callback test CA"} in subjects
    assert len(subjects) == system_cas + 1


# --- the egress proxy ----------------------------------------------------------------------------------
def test_https_goes_through_a_connect_tunnel_to_the_checked_address(settings, tls_receiver, private_ca, proxy):
    # given a proxy and a private CA configured, and a receiver named by its host name
    settings.CALLBACKS_CA_BUNDLE = str(private_ca["ca"])
    settings.CALLBACKS_EGRESS_PROXY = proxy.url
    url = tls_receiver.url(scheme="https", host="localhost")
    # when two requests go out
    first, second = send(url), send(url)
    # then both are answered through one tunnel, opened to the address the guard checked (the
    # certificate still verified against the name), and the receiver saw them in origin form
    assert [(result.status, result.error_class) for result in (first, second)] == [(200, "")] * 2
    assert proxy.asked == [f"127.0.0.1:{tls_receiver.port}"]
    assert tls_receiver.connections == 1
    assert tls_receiver.requests[0].startswith(b"POST /hook HTTP/1.1\r\nHost: localhost:")


def test_http_goes_to_the_proxy_in_absolute_form_with_its_credentials(settings, servers, proxy):
    # given a proxy that takes credentials, and a plain-http receiver
    receiver = servers(answers_script(OK))
    settings.CALLBACKS_EGRESS_PROXY = f"http://sender:s%3Acret@127.0.0.1:{proxy.port}"
    # when a request with a query goes out
    result = send(receiver.url("/hook?token=1"))
    # then the proxy was asked for the absolute URI, with the credentials, and passed it on
    assert (result.status, result.error_class) == (200, "")
    assert proxy.asked == [f"http://127.0.0.1:{receiver.port}/hook?token=1"]
    assert b"\r\nProxy-Authorization: Basic c2VuZGVyOnM6Y3JldA==\r\n" in proxy.heads[0]
    assert receiver.requests[0].startswith(b"POST /hook?token=1 HTTP/1.1\r\n")


def test_the_ssrf_guard_checks_the_target_before_the_proxy_is_asked(settings, servers, proxy):
    # given production rules and a proxy on the operator's own network
    settings.CALLBACKS_ALLOW_PRIVATE_NETWORKS = False
    settings.CALLBACKS_EGRESS_PROXY = proxy.url
    receiver = servers(answers_script(OK))
    # when a callback to a loopback address goes out, by address and by name
    results = [send(receiver.url()), send(receiver.url(host="localhost"))]
    # then both are refused for their address, and the proxy was never asked
    assert [result.error_class for result in results] == ["forbidden_address"] * 2
    assert proxy.connections == 0 and receiver.connections == 0


def test_a_proxy_that_refuses_the_tunnel_fails_the_attempt_with_its_answer(settings, servers):
    refusing = servers(answers_script(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\ndenied", close_after=True))
    settings.CALLBACKS_EGRESS_PROXY = f"http://127.0.0.1:{refusing.port}"
    result = send("https://127.0.0.1:9/hook")
    assert (result.status, result.error_class) == (None, "proxy_error")
    assert "403" in result.error_detail
    assert refusing.requests[0].startswith(b"CONNECT 127.0.0.1:9 HTTP/1.1\r\n")


@pytest.mark.parametrize("setting", ["socks5://127.0.0.1:1080", "http://127.0.0.1:0", "127.0.0.1:3128"])
def test_a_proxy_setting_that_cannot_be_used_fails_the_attempt_and_says_why(settings, setting):
    settings.CALLBACKS_EGRESS_PROXY = setting
    result = send("https://127.0.0.1:9/hook")
    assert (result.status, result.error_class) == (None, "proxy_error")
    assert "CALLBACKS_EGRESS_PROXY" in result.error_detail


def test_a_receiver_silent_behind_the_tunnel_times_out_without_the_proxy_answer_taken_for_its_own(
    settings, servers, proxy
):
    # given a tunnel the proxy opens to a receiver that never begins TLS
    silent = servers(lambda server, connection, index: server.finished.wait(WAIT_S))
    settings.CALLBACKS_EGRESS_PROXY = proxy.url
    request = RenderedRequest(method="POST", url=silent.url(scheme="https"), headers={}, body=b"{}", webhook_id="m")
    # when a request with a short connect timeout goes out
    result = request_send(request, connect_timeout_s=0.5, response_timeout_s=5)
    # then it is a connect timeout with no status: the proxy's 200 was not the receiver's answer
    assert (result.status, result.error_class) == (None, "connect_timeout")
    assert proxy.asked == [f"127.0.0.1:{silent.port}"]
