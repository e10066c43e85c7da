"""API permissions: a key needs the `read` scope for safe methods and `write` for the rest."""

from __future__ import annotations

from rest_framework import permissions

from callbacks.models import ApiKey


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
