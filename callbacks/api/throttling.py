"""Throttling of failed authentication: many bad keys from one client address answer 429.

The address is `callbacks.client_address` (X-Forwarded-For only behind TRUSTED_PROXY_COUNT proxies).

Only failures are counted, so requests with a valid key never touch the cache and are never slowed.
The rate is REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth_failure"], read at each request.
"""

from __future__ import annotations

import logging

from django.core.cache import caches
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from callbacks.client_address import client_address

logger = logging.getLogger(__name__)


class AuthFailureThrottle(SimpleRateThrottle):
    scope = "auth_failure"
    cache_format = "throttle_%(scope)s_%(ident)s"

    def __init__(self) -> None:
        # DRF binds the rates and the cache at import; read them now so settings changes apply.
        self.cache = caches["default"]
        super().__init__()

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request) -> str:
        # Not DRF's own: it trusts every X-Forwarded-For unless NUM_PROXIES is set.
        return client_address(request)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def auth_failure_record(request) -> None:
    """Count one failed authentication for the client; raise Throttled once it is over the rate."""
    throttle = AuthFailureThrottle()
    if throttle.rate is None:
        return
    if not throttle.allow_request(request, None):
        logger.info("api.auth_throttled", extra={"client": throttle.get_ident(request)})
        raise exceptions.Throttled(wait=throttle.wait(), detail="Too many failed authentications from this address.")
