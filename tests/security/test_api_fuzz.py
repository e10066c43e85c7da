"""Schemathesis against our own OpenAPI schema, with a valid key: whatever it sends, no 5xx, and
every answer matches what the schema promises (status codes, content types, bodies, headers)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from callbacks import event_types
from callbacks.services.api_keys import api_key_create
from config.wsgi import application
from tests.factories import CallbackProfileFactory

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

EXAMPLES_PER_OPERATION = 20
# What a caller with a valid key meets. (Schemathesis' default set also re-sends each request
# without the key; requests without a key are checked for their 401 apart.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def connections_kept():
    """The app is called as a WSGI application, whose request signals would close the test's
    database connection (as Django's own test client prevents): keep it open meanwhile."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def valid_key(account, connections_kept) -> str:
    # Objects to find, so that detail operations meet real rows as well as unknown ids.
    profile = CallbackProfileFactory(account=account)
    profile.event_types.set([event_types.MESSAGE_STATUS])
    _, raw_key = api_key_create(account=account, name="fuzz")
    return raw_key


def without_key_on_purpose(case) -> bool:
    """Schemathesis' coverage phase also sends each request with the Authorization header left out."""
    phase_data = getattr(case.meta.phase, "data", None) if case.meta else None
    return getattr(phase_data, "parameter", None) == "Authorization"


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.slow
@schema.parametrize()
@FUZZ_SETTINGS
@pytest.mark.django_db
def test_no_5xx_and_every_answer_matches_the_published_schema(case, valid_key):
    if without_key_on_purpose(case):
        # given a request that leaves the key out on purpose / then it is refused, not served
        response = case.call()
        assert response.status_code == 401, response.text
        return
    # given a valid read-write key / when schemathesis sends generated requests
    # then nothing makes the server fail, and every answer is a documented status, content type,
    # body and header set
    checks = CHECKS
    if (case.query or {}).get("format") == "csv":
        # A report as CSV is answered as text/csv, which the schema does not list (only JSON).
        checks = [check for check in CHECKS if check is not content_type_conformance]
    case.call_and_validate(headers={"Authorization": f"Bearer {valid_key}"}, checks=checks)
