"""The failure classes a failure notice tells apart, with their wording and what to do about them."""

from __future__ import annotations

from dataclasses import dataclass

HTTP_STATUS = "http_status"
UNAUTHORIZED = "unauthorized"
CONNECT = "connect"
RESPONSE_TIMEOUT = "response_timeout"
REJECTED = "rejected"
PROXY = "proxy"
OTHER = "other"


@dataclass(frozen=True)
class FailureClassText:
    label: str
    advice: str


TEXTS: dict[str, FailureClassText] = {
    HTTP_STATUS: FailureClassText(
        "answered with a non-2xx status",
        "Check the endpoint's logs for this request; it must answer 2xx once it has accepted the callback.",
    ),
    UNAUTHORIZED: FailureClassText(
        "refused the authorization (401 / 403)",
        "Check the username and password or the Authorization value of the profile against what the "
        "endpoint expects, and that the endpoint accepts our signature.",
    ),
    CONNECT: FailureClassText(
        "could not be connected to within 5 seconds",
        "Check that the host name resolves, the server is up and its firewall accepts connections from us.",
    ),
    RESPONSE_TIMEOUT: FailureClassText(
        "did not answer within 60 seconds",
        "Answer quickly (2xx at once) and do slow work after answering; check the endpoint is not overloaded.",
    ),
    REJECTED: FailureClassText(
        "answered with a failure status in its envelope",
        "See status_code and error_message in the response below; 901 means the parameters were refused.",
    ),
    PROXY: FailureClassText(
        "could not be reached through the egress proxy",
        "The proxy every callback leaves through refused or failed (see the error below): the operator of this "
        "installation checks it (CALLBACKS_EGRESS_PROXY); the endpoint itself may be fine.",
    ),
    OTHER: FailureClassText(
        "failed",
        "See the error below; the callback is retried on the profile's schedule.",
    ),
}


# The transport's error classes (see `callbacks.delivery.send.transport`) that have a class of their own here.
TRANSPORT_CLASSES = {
    "connect_timeout": CONNECT,
    "connect_refused": CONNECT,
    "connect_error": CONNECT,
    "dns_error": CONNECT,
    "response_timeout": RESPONSE_TIMEOUT,
    "proxy_error": PROXY,
}


def failure_class_of(*, failure_class: str, status: int | None) -> str:
    """Map the engine's failure class and the HTTP status to the classes a notice tells apart."""
    name = (failure_class or "").lower()
    if status is None and name.startswith("http_") and name[5:].isdigit():  # the engine's "http_503"
        status = int(name[5:])
    if name in TRANSPORT_CLASSES and status is None:
        return TRANSPORT_CLASSES[name]
    if status in (401, 403):
        return UNAUTHORIZED
    if status is not None and not 200 <= status < 300:
        return HTTP_STATUS
    if status is not None:
        return REJECTED
    if "connect_" in name or "refused" in name or "unreachable" in name:
        return CONNECT
    if "timeout" in name:
        return RESPONSE_TIMEOUT
    return OTHER


def failure_class_text(failure: str) -> FailureClassText:
    return TEXTS.get(failure, TEXTS[OTHER])
