"""JSON errors that name the failing fields, including Django ValidationErrors raised by services."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import bad_request as page_bad_request
from django.views.defaults import page_not_found
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from callbacks import metrics

API_PATH_PREFIX = "/api/"


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            exc = exceptions.ValidationError(exc.message_dict)
        else:
            exc = exceptions.ValidationError({"non_field_errors": exc.messages})
    response = drf_exception_handler(exc, context)
    if response is not None and getattr(context.get("view"), "counts_refused_events", False):
        metrics.events_refused.labels(status=str(response.status_code)).inc()
    if response is not None and isinstance(response.data, dict):
        # One shape for every field: a list of messages (DRF leaves single messages bare).
        response.data = {
            field: [messages] if isinstance(messages, str) and field != "detail" else messages
            for field, messages in response.data.items()
        }
    return response


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: JSON under /api/ (as API clients expect), Django's page elsewhere."""
    if request.path.startswith(API_PATH_PREFIX):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400 (a request Django itself refuses, e.g. a suspicious header): JSON under /api/ too."""
    if request.path.startswith(API_PATH_PREFIX):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return page_bad_request(request, exception)
