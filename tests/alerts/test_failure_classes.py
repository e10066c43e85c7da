"""What a failure notice calls each way a delivery can fail."""

import pytest

from alerts.failure_classes import CONNECT, HTTP_STATUS, OTHER, PROXY, UNAUTHORIZED, failure_class_of


@pytest.mark.parametrize(
    ("failure_class", "status", "expected"),
    [
        ("proxy_error", None, PROXY),
        ("connect_refused", None, CONNECT),
        ("dns_error", None, CONNECT),
        ("http_503", None, HTTP_STATUS),
        ("http_401", None, UNAUTHORIZED),
        ("protocol_error", None, OTHER),
    ],
)
def test_each_engine_failure_is_told_apart_in_the_notice(failure_class, status, expected):
    assert failure_class_of(failure_class=failure_class, status=status) == expected
