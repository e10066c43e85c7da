"""The SSRF guard: forbidden addresses in every spelling, and the URL rules a profile must meet."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from callbacks.delivery.send.network import (
    ForbiddenAddress,
    address_is_forbidden,
    host_resolve_checked,
    ipv4_parse_loose,
    url_check,
)

FORBIDDEN = [
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.10.10",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "198.18.0.1",
    "192.0.0.8",
    "192.0.2.1",
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "fec0::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:7f00:1",
    "::127.0.0.1",
    "::ffff:0:7f00:1",  # IPv4-translated 127.0.0.1
    "::ffff:0:127.0.0.1",
    "::ffff:0:a9fe:a9fe",  # IPv4-translated 169.254.169.254
    "::ffff:0:10.0.0.1",
    "::10.0.0.1",  # IPv4-compatible
    "0:0:0:0:0:ffff:7f00:1",
    "2002:7f00:1::",  # 6to4 carrying 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 carrying 169.254.169.254
    "64:ff9b::a9fe:a9fe",  # NAT64 carrying 169.254.169.254
    "64:ff9b::10.0.0.1",
    "64:ff9b:1::1",
    "2001::1",  # Teredo
    "2001:db8::1",
    "not-an-address",
]
ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "::ffff:0:8.8.8.8",
    "2002:808:808::1",
    "64:ff9b::8.8.8.8",
]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_forbidden_addresses_are_refused(address):
    # given an address of a private, local, reserved or metadata range / then it is forbidden
    assert address_is_forbidden(address) is True


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address):
    assert address_is_forbidden(address) is False


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("169.254.43518", "169.254.169.254"),
        ("012.0.0.1", "10.0.0.1"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_ipv4_spellings_are_read_the_way_resolvers_read_them(spelling, expected):
    # given an unusual spelling / when parsed / then it is the address a resolver would connect to
    assert str(ipv4_parse_loose(spelling)) == expected
    # and the same spelling in the address OS resolver agrees
    assert socket.inet_ntoa(socket.inet_aton(spelling)) == expected


@pytest.mark.parametrize("text", ["example.com", "256.1.1.1", "1.2.3.4.5", "0x1g.0.0.1", "", "1..2", "09.0.0.1"])
def test_names_and_malformed_numbers_are_not_taken_for_addresses(text):
    assert ipv4_parse_loose(text) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://2130706433/hook",
        "https://0x7f.1/hook",
        "https://0177.0.0.1/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:0:7f00:1]/hook",
        "https://[::ffff:0:a9fe:a9fe]/latest/meta-data/",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost/hook",
        "https://100.64.1.1:8443/hook",
    ],
)
def test_url_check_refuses_private_hosts_when_private_networks_are_off(settings, url):
    # given the production rules
    settings.CALLBACKS_ALLOW_PRIVATE_NETWORKS = False
    # when the URL is checked / then it is refused because of its address
    with pytest.raises(ValidationError) as error:
        url_check(url)
    assert error.value.code == "address"
    assert "private" in error.value.messages[0]


def test_url_check_allows_private_hosts_when_the_operator_allows_them(settings):
    settings.CALLBACKS_ALLOW_PRIVATE_NETWORKS = True
    settings.CALLBACKS_ALLOW_HTTP = True
    url_check("http://127.0.0.1:8080/hook")  # no error


def test_url_check_accepts_a_public_https_address(settings):
    settings.CALLBACKS_ALLOW_PRIVATE_NETWORKS = False
    settings.CALLBACKS_ALLOW_HTTP = False
    url_check("https://93.184.216.34/hooks/<data.message_id>?phone=<data.phone>")


def test_url_check_requires_https_unless_http_is_allowed(settings):
    # given plain http is not allowed
    settings.CALLBACKS_ALLOW_HTTP = False
    # when an http URL is checked / then the scheme is the reason
    with pytest.raises(ValidationError) as error:
        url_check("http://93.184.216.34/hook")
    assert error.value.code == "scheme"
    assert "https://" in error.value.messages[0]
    # and once the operator allows http, the same URL passes
    settings.CALLBACKS_ALLOW_HTTP = True
    url_check("http://93.184.216.34/hook")


@pytest.mark.parametrize(
    "url", ["ftp://93.184.216.34/x", "file:///etc/passwd", "gopher://93.184.216.34/", "93.184.216.34/x"]
)
def test_url_check_refuses_other_schemes(settings, url):
    settings.CALLBACKS_ALLOW_HTTP = True
    with pytest.raises(ValidationError) as error:
        url_check(url)
    assert error.value.code == "scheme"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://", "no host"),
        ("https://<data.host>/x", "not in the host"),
        ("https://user:secret@93.184.216.34/x", "authentication fields"),
        ("https://93.184.216.34/a b", "spaces"),
        ("https://93.184.216.34:99999/x", "not a valid URL"),
        ("https://93.184.216.34:0/x", "Port 0"),
        ("http://127.0.0.1:0/x", "Port 0"),
    ],
)
def test_url_check_explains_malformed_urls(url, reason):
    with pytest.raises(ValidationError) as error:
        url_check(url)
    assert reason in error.value.messages[0]


def test_url_check_refuses_a_name_that_does_not_resolve(settings):
    settings.CALLBACKS_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(ValidationError) as error:
        url_check("https://no-such-host.invalid/hook")
    assert "does not resolve" in error.value.messages[0]


def test_host_resolve_checked_answers_the_addresses_to_connect_to(settings):
    # given private networks allowed / when localhost is resolved / then a loopback address comes back
    settings.CALLBACKS_ALLOW_PRIVATE_NETWORKS = True
    addresses = host_resolve_checked("localhost", 80)
    assert set(addresses) & {"127.0.0.1", "::1"}
    # and a loose literal comes back in its canonical form without any lookup
    assert host_resolve_checked("0x7f.1", 80) == ["127.0.0.1"]


def test_host_resolve_checked_raises_for_forbidden_addresses_at_call_time(settings):
    # given private networks forbidden (read at call time, not at import)
    settings.CALLBACKS_ALLOW_PRIVATE_NETWORKS = False
    # then loopback by name and by literal is refused, and a public literal passes
    with pytest.raises(ForbiddenAddress):
        host_resolve_checked("localhost", 443)
    with pytest.raises(ForbiddenAddress):
        host_resolve_checked("[::ffff:10.0.0.1]", 443)
    assert host_resolve_checked("93.184.216.34", 443) == ["93.184.216.34"]


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123456789abcdefxX.", min_size=1, max_size=20).filter(lambda text: not text.endswith(".")))
def test_loose_ipv4_parsing_agrees_with_the_system_resolver(text):
    # given any string of digits, hex letters, x and dots / then we read it as the C library does
    try:
        expected = socket.inet_ntoa(socket.inet_aton(text))
    except OSError:
        expected = None
    parsed = ipv4_parse_loose(text)
    assert (str(parsed) if parsed is not None else None) == expected
