"""Requests refused before any view: NUL in a query string of the screens (PostgreSQL cannot compare
it; the API refuses it after authentication, see permissions.QueryTextStorable), and under /api/
chunked or oversized bodies, which answer in the API's JSON error shape."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from callbacks.api.errors import API_PATH_PREFIX
from callbacks.api.events import MAX_BATCH_REQUEST_BYTES
from callbacks.text_checks import text_is_unstorable

BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BATCH_PATH_SUFFIX = "/events/batch/"


def _query_problem(request: HttpRequest) -> str | None:
    for name, values in request.GET.lists():
        if text_is_unstorable(name) or any(text_is_unstorable(value) for value in values):
            return name if not text_is_unstorable(name) else "query"
    return None


class RequestGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        is_api = request.path.startswith(API_PATH_PREFIX)
        parameter = None if is_api else _query_problem(request)
        if parameter is not None:
            return HttpResponseBadRequest(f"The query parameter “{parameter}” holds a NUL character.")
        if is_api and request.method in BODY_METHODS:
            refused = _body_problem(request)
            if refused is not None:
                return refused
        return self.get_response(request)


def _body_problem(request: HttpRequest) -> JsonResponse | None:
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        return JsonResponse(
            {"detail": "Send the body with a Content-Length header: chunked request bodies are not accepted."},
            status=400,
        )
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit():
        return JsonResponse({"detail": "The Content-Length header is not a number."}, status=400)
    # A batch of events may be larger than any other body (its view checks its own limit).
    limit_bytes = (
        max(MAX_BATCH_REQUEST_BYTES, settings.API_MAX_BODY_BYTES)
        if request.path.endswith(BATCH_PATH_SUFFIX)
        else settings.API_MAX_BODY_BYTES
    )
    if int(length) > limit_bytes:
        return JsonResponse({"detail": f"The request body is over the limit of {limit_bytes} bytes."}, status=413)
    return None
