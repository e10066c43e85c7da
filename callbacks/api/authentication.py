"""`Authorization: Bearer <key>` authentication with account-scoped API keys."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import authentication, exceptions

from callbacks.api.throttling import auth_failure_record
from callbacks.models import Account, ApiKey
from callbacks.services.api_keys import api_key_authenticate


@dataclass
class ApiKeyPrincipal:
    """The caller of an API request: an API key acting for its account."""

    api_key: ApiKey

    is_authenticated = True
    is_anonymous = False
    is_superuser = False
    is_staff = False

    @property
    def account(self) -> Account:
        return self.api_key.account

    @property
    def pk(self) -> str:
        return f"apikey:{self.api_key.pk}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not token.strip():
            auth_failure_record(request)
            raise exceptions.AuthenticationFailed("Use the header `Authorization: Bearer <api key>`.")
        api_key = api_key_authenticate(raw_key=token.strip())
        if api_key is None:
            auth_failure_record(request)
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request) -> str:
        return self.keyword
