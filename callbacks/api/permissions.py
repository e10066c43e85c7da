"""API permissions: a key needs the `read` scope for safe methods and `write` for the rest."""

from __future__ import annotations

from rest_framework import exceptions, permissions

from callbacks.models import ApiKey
from callbacks.text_checks import UNSTORABLE_MESSAGE, text_is_unstorable


class HasAccountScope(permissions.BasePermission):
    message = "This API key lacks the scope this request needs."

    def has_permission(self, request, view) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        needed = ApiKey.Scope.READ if request.method in permissions.SAFE_METHODS else ApiKey.Scope.WRITE
        if needed not in api_key.scopes:
            self.message = f"This API key lacks the “{needed}” scope."
            return False
        return True


class QueryTextStorable(permissions.BasePermission):
    """A NUL in a query parameter is a 400 naming it (PostgreSQL cannot compare such text), once the
    caller is known: a request without a key still answers 401 first."""

    def has_permission(self, request, view) -> bool:
        for name, values in request.query_params.lists():
            if text_is_unstorable(name) or any(text_is_unstorable(value) for value in values):
                raise exceptions.ValidationError(
                    {name if not text_is_unstorable(name) else "query": [UNSTORABLE_MESSAGE]}
                )
        return True
