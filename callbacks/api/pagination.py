"""Limit/offset pagination with bounds, so no query string can ask the database for absurd numbers."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 500
MAX_OFFSET = 10_000_000


def _bounded_parameter(request, name: str, maximum: int) -> int | None:
    """The parameter as a whole number of 0 or more (capped), None when absent; 400 when malformed."""
    text = request.query_params.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()):
        raise serializers.ValidationError({name: ["Enter a whole number of 0 or more."]})
    return min(int(text), maximum)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_limit(self, request) -> int:
        limit = _bounded_parameter(request, self.limit_query_param, self.max_limit)
        return limit or self.default_limit

    def get_offset(self, request) -> int:
        return _bounded_parameter(request, self.offset_query_param, MAX_OFFSET) or 0
