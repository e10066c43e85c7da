"""The SSRF guard: which addresses a callback may reach and which URLs a profile may hold.

Settings are read at call time, so tests (and operators) can switch the rules:
`CALLBACKS_ALLOW_HTTP` permits plain http URLs, `CALLBACKS_ALLOW_PRIVATE_NETWORKS` permits any address.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
PLACEHOLDER_MARKS = ("<", ">")

# Cloud instance metadata services answer on these even where the rest of link-local is routed.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),
    }
)
FORBIDDEN_IPV4_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast included
    )
)
FORBIDDEN_IPV6_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/32",  # Teredo: the embedded IPv4 address is obfuscated, so refuse it whole
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local (fd00:ec2::254 included)
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
SIXTO4_PREFIX = ipaddress.ip_network("2002::/16")
IPV4_COMPATIBLE_PREFIX = ipaddress.ip_network("::/96")  # deprecated, `::1.2.3.4` (`::` and `::1` among them)
IPV4_TRANSLATED_PREFIX = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT, `::ffff:0:1.2.3.4`


class ForbiddenAddress(Exception):
    """The host is, or resolves to, an address callbacks must not reach."""


def _ipv4_number_parse(part: str) -> int | None:
    """One dotted part as inet_aton reads it: 0x… hex, 0… octal, otherwise decimal."""
    try:
        if part.lower().startswith("0x"):
            return int(part[2:], 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        return int(part, 10) if part.isdigit() else None
    except ValueError:
        return None


def ipv4_parse_loose(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in any spelling resolvers accept (`127.1`, `2130706433`, `0x7f.0.0.1`, `0177.0.0.1`)."""
    parts = text.rstrip(".").split(".") if text else []
    if not 1 <= len(parts) <= 4 or any(part == "" for part in parts):
        return None
    numbers = [_ipv4_number_parse(part) for part in parts]
    if any(number is None for number in numbers):
        return None
    *leading, last = numbers
    if any(number > 0xFF for number in leading) or last >= 1 << (8 * (5 - len(numbers))):
        return None
    value = last
    for index, number in enumerate(leading):
        value |= number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def ip_literal_parse(host: str) -> IpAddress | None:
    """The address a host names literally (IPv6 with or without brackets and zone), or None for a name."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    return ipv4_parse_loose(host)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried inside an IPv4-mapped, -translated or -compatible, 6to4 or NAT64 IPv6 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in prefix for prefix in (NAT64_PREFIX, IPV4_TRANSLATED_PREFIX, IPV4_COMPATIBLE_PREFIX)):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_is_forbidden(ip: str | IpAddress) -> bool:
    """True for private, loopback, link-local, shared, reserved, multicast, unspecified and metadata addresses."""
    address = ip if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address) else ip_literal_parse(str(ip))
    if address is None:
        return True  # not an address at all: refuse rather than guess
    if address in METADATA_ADDRESSES:
        return True
    if address.version == 4:
        return any(address in network for network in FORBIDDEN_IPV4_NETWORKS) or not address.is_global
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_is_forbidden(embedded)
    if any(address in network for network in FORBIDDEN_IPV6_NETWORKS):
        return True
    return not address.is_global or address.is_multicast


def private_networks_allowed() -> bool:
    return bool(getattr(settings, "CALLBACKS_ALLOW_PRIVATE_NETWORKS", False))


def http_allowed() -> bool:
    return bool(getattr(settings, "CALLBACKS_ALLOW_HTTP", False))


def host_resolve_checked(host: str, port: int) -> list[str]:
    """The addresses to connect to for host:port, every one of them allowed.

    Raises ForbiddenAddress when any address is forbidden (unless CALLBACKS_ALLOW_PRIVATE_NETWORKS),
    and socket.gaierror (an OSError) when the name does not resolve. Connect to the returned
    addresses, not to the name again, so a second lookup cannot swap in another address.
    """
    literal = ip_literal_parse(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        infos = socket.getaddrinfo(host.rstrip("."), port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    if private_networks_allowed():
        return addresses
    forbidden = [address for address in addresses if address_is_forbidden(address)]
    if forbidden:
        raise ForbiddenAddress(f"{host} resolves to {forbidden[0]}, a private, local or reserved address")
    return addresses


def url_check(url: str) -> None:
    """Raise ValidationError unless `url` is one callbacks may call: scheme, host and address.

    Placeholders (`<data.field>`) may stand in the path and the query, never in the scheme or host.
    """
    if not url or len(url) > MAX_URL_LENGTH:
        raise ValidationError(f"Enter a URL of at most {MAX_URL_LENGTH} characters.", code="invalid")
    if any(character.isspace() for character in url):
        raise ValidationError("A URL cannot contain spaces or line breaks.", code="invalid")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValidationError(f"This is not a valid URL ({error}).", code="invalid") from error
    scheme = parts.scheme.lower()
    allowed_schemes = ("https", "http") if http_allowed() else ("https",)
    if scheme not in allowed_schemes:
        starts = " or ".join(f"{allowed}://" for allowed in allowed_schemes)
        raise ValidationError(
            f"The URL must start with {starts}."
            if scheme in ("", "http")
            else f"The scheme “{scheme}” is not allowed: the URL must start with {starts}.",
            code="scheme",
        )
    host = parts.hostname or ""
    if not host:
        raise ValidationError("The URL has no host.", code="host")
    if port == 0:
        raise ValidationError(
            "Port 0 cannot be called: give the receiver's port, or none for the default.", code="port"
        )
    if any(mark in parts.netloc for mark in PLACEHOLDER_MARKS):
        raise ValidationError("Placeholders may stand in the path and query only, not in the host.", code="host")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "Put credentials in the authentication fields, not in the URL (it is shown and logged).", code="host"
        )
    if private_networks_allowed():
        return
    try:
        host_resolve_checked(host, port if port is not None else (443 if scheme == "https" else 80))
    except ForbiddenAddress as error:
        raise ValidationError(
            f"The host {host} is, or resolves to, a private, loopback, link-local or reserved address.",
            code="address",
        ) from error
    except (OSError, UnicodeError) as error:
        raise ValidationError(f"The host {host} does not resolve.", code="host") from error


def url_refusal_setting(url: str) -> str | None:
    """The setting that would let `url_check` accept `url`, when that is what refuses it: plain http://
    (CALLBACKS_ALLOW_HTTP) or a private, loopback or reserved address (CALLBACKS_ALLOW_PRIVATE_NETWORKS).

    For operators only: customers are told the plain reason."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() == "http" and not http_allowed():
        return "CALLBACKS_ALLOW_HTTP"
    host = parts.hostname or ""
    if not host or private_networks_allowed():
        return None
    try:
        host_resolve_checked(host, port or 443)
    except ForbiddenAddress:
        return "CALLBACKS_ALLOW_PRIVATE_NETWORKS"
    except (OSError, UnicodeError):
        return None
    return None
