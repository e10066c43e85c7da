"""The SSRF guard against every spelling of a forbidden address, and against DNS rebinding."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callbacks.delivery.send.network import ForbiddenAddress, address_is_forbidden, host_resolve_checked, url_check

FORBIDDEN_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
FORBIDDEN_V6 = ["::1/128", "fc00::/7", "fe80::/10", "ff00::/8"]
PUBLIC_V4 = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "151.101.1.69"]


def addresses_in(networks: list[str]) -> st.SearchStrategy:
    def pick(network_text: str) -> st.SearchStrategy:
        network = ipaddress.ip_network(network_text)
        first = int(network.network_address)
        return st.integers(first, first + network.num_addresses - 1).map(
            lambda number: ipaddress.ip_address(number) if network.version == 4 else ipaddress.IPv6Address(number)
        )

    return st.sampled_from(networks).flatmap(pick)


def ipv4_spellings(address: ipaddress.IPv4Address) -> list[str]:
    """Every way resolvers (inet_aton) and browsers read one IPv4 address, plus the IPv6 wrappings."""
    number = int(address)
    a, b, c, d = address.packed
    return [
        str(address),
        f"{address}.",  # a trailing dot is the same host
        str(number),  # one decimal number
        hex(number),  # one hex number
        "0" + oct(number)[2:],  # one octal number
        ".".join(f"0{part:o}" for part in address.packed),  # dotted octal
        ".".join(f"0x{part:x}" for part in address.packed),  # dotted hex
        f"0x{a:02x}.{b}.0{c:o}.{d}",  # mixed
        f"{a}.{(b << 16) | (c << 8) | d}",  # two parts
        f"{a}.{b}.{(c << 8) | d}",  # three parts
        f"[::ffff:{address}]",  # IPv4-mapped IPv6, dotted
        f"[::ffff:{(a << 8) | b:x}:{(c << 8) | d:x}]",  # IPv4-mapped IPv6, hex
        f"[0:0:0:0:0:ffff:{address}]",
        f"[64:ff9b::{address}]",  # NAT64
        f"[2002:{(a << 8) | b:x}:{(c << 8) | d:x}::1]",  # 6to4
    ]


@pytest.fixture
def guarded(settings):
    settings.CALLBACKS_ALLOW_PRIVATE_NETWORKS = False
    settings.CALLBACKS_ALLOW_HTTP = False
    return settings


def refused_for_its_address(url: str) -> bool:
    try:
        url_check(url)
    except ValidationError as error:
        return error.code in ("address", "host")
    return False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(address=addresses_in(FORBIDDEN_V4), spelling=st.integers(0, 14), port=st.sampled_from(["", ":443", ":8443"]))
def test_every_spelling_of_a_forbidden_ipv4_address_is_refused(guarded, address, spelling, port):
    # given a private, loopback, link-local, shared, multicast or reserved IPv4 address in any spelling
    host = ipv4_spellings(address)[spelling]
    # when it is checked as a callback URL's host / then it is refused
    assert refused_for_its_address(f"https://{host}{port}/callbacks"), host


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(address=addresses_in(FORBIDDEN_V6))
def test_every_forbidden_ipv6_address_is_refused(guarded, address):
    # given a loopback, unique-local, link-local or multicast IPv6 address
    # then both the address rule and the URL check refuse it
    assert address_is_forbidden(str(address))
    assert refused_for_its_address(f"https://[{address}]/callbacks")


@pytest.mark.parametrize("address", PUBLIC_V4)
def test_public_addresses_pass_in_every_spelling(guarded, address):
    # given a public address written any way a resolver reads it / then the guard lets it through
    for host in ipv4_spellings(ipaddress.IPv4Address(address))[:10]:
        url_check(f"https://{host}/callbacks")


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST", "localhost.", "169.254.169.254", "[fe80::1%25eth0]", "[::]", "0", "[fd00:ec2::254]"],
)
def test_names_and_special_hosts_that_reach_the_machine_itself_are_refused(guarded, host):
    assert refused_for_its_address(f"https://{host}/callbacks")


def rebinding_resolver(monkeypatch, answers: list[list[str]]) -> list[str]:
    """Replace only the resolver: each call answers the next list of addresses; returns the names asked."""
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append(host)
        addresses = answers[min(len(asked) - 1, len(answers) - 1)]
        return [
            (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_name_that_rebinds_to_loopback_after_the_check_is_refused_at_connect_time(guarded, monkeypatch):
    # given a name whose first answer is public and whose later answers are loopback
    asked = rebinding_resolver(monkeypatch, [["93.184.216.34"], ["127.0.0.1"]])
    # when the URL is saved, the check passes on the public answer
    url_check("https://rebind.example/callbacks")
    # then the lookup at connect time sees the new answer and refuses it
    with pytest.raises(ForbiddenAddress):
        host_resolve_checked("rebind.example", 443)
    assert asked == ["rebind.example", "rebind.example"]


def test_a_name_answering_public_and_private_addresses_at_once_is_refused(guarded, monkeypatch):
    # given a resolver that mixes a public and a loopback address in one answer
    rebinding_resolver(monkeypatch, [["93.184.216.34", "127.0.0.1"]])
    # then neither the save-time check nor the connect-time lookup accepts the name
    assert refused_for_its_address("https://mixed.example/callbacks")
    with pytest.raises(ForbiddenAddress):
        host_resolve_checked("mixed.example", 443)


def test_ipv4_mapped_answers_from_the_resolver_are_refused(guarded, monkeypatch):
    # given a resolver that answers with an IPv4-mapped IPv6 loopback address
    rebinding_resolver(monkeypatch, [["::ffff:127.0.0.1"]])
    # then the connect-time lookup refuses it
    with pytest.raises(ForbiddenAddress):
        host_resolve_checked("mapped.example", 443)


def test_the_transport_refuses_a_rebound_name_and_the_local_receiver_gets_nothing(guarded, monkeypatch, receiver):
    # given a receiver on loopback and a name that answers public first, loopback afterwards
    from callbacks.delivery.render.request import RenderedRequest
    from callbacks.delivery.send.transport import request_send

    rebinding_resolver(monkeypatch, [["93.184.216.34"], ["127.0.0.1"]])
    url = f"http://rebind.example:{receiver.port}/hooks"
    guarded.CALLBACKS_ALLOW_HTTP = True
    url_check(url)  # saved: the check passes on the public answer
    # when the engine's transport sends a callback there
    result = request_send(
        RenderedRequest(method="POST", url=url, headers={}, body=b"{}", webhook_id="msg_rebind"),
        connect_timeout_s=2,
        response_timeout_s=2,
    )
    # then the connection is refused before any byte leaves, and nothing reaches the local receiver
    assert result.status is None
    assert result.error_class == "forbidden_address"
    assert receiver.requests == []
