"""`/api/v1/events/`: ingest an event (202 with its deliveries), read one event."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callbacks.api.delivery_serializers import EventIngestSerializer, EventSerializer
from callbacks.api.rate_limits import AccountEventRateThrottle
from callbacks.selectors.deliveries import event_get
from callbacks.services.events import MAX_PAYLOAD_BYTES, IdempotencyConflict, PayloadTooLarge, event_emit

# Bodies far beyond the payload limit are refused before they are parsed.
MAX_REQUEST_BYTES = 2 * MAX_PAYLOAD_BYTES


class PayloadTooLargeError(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The event's data is over {MAX_PAYLOAD_BYTES} bytes."
    default_code = "payload_too_large"


def request_size_check(request: Request) -> None:
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > MAX_REQUEST_BYTES:
        raise PayloadTooLargeError()


def event_answer(event, *, status_code: int = status.HTTP_202_ACCEPTED) -> Response:
    event = event_get(account=event.account, event_id=event.pk)
    return Response(EventSerializer(event).data, status=status_code)


def event_ingest(*, request: Request) -> Response:
    """Validate, emit and answer 202; size errors are 413, the rest 400 (nothing stored)."""
    request_size_check(request)
    serializer = EventIngestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        event = event_emit(account=request.user.account, **serializer.validated_data)
    except PayloadTooLarge as error:
        raise PayloadTooLargeError(error.message_dict["data"][0]) from error
    except IdempotencyConflict as conflict:
        return Response(conflict.message_dict, status=status.HTTP_409_CONFLICT)
    return event_answer(event)


class EventIngestView(APIView):
    counts_refused_events = True  # callbacks.api.errors counts its 4xx answers (callbacks_events_refused)
    throttle_classes = [AccountEventRateThrottle]

    @extend_schema(
        summary="Ingest an event",
        description="Stores the event and one delivery per enabled profile subscribed to its type, and answers "
        "202 at once. The same idempotency_key within 24 hours answers with the first event; with another type "
        "or data, 409 naming the first event. Over 256 KiB: 413. "
        "Over the account's events-per-second quota: 429 with Retry-After.",
        request=EventIngestSerializer,
        responses={202: EventSerializer},
    )
    def post(self, request: Request) -> Response:
        return event_ingest(request=request)


class EventDetailView(APIView):
    @extend_schema(summary="One event and its deliveries", responses={200: EventSerializer})
    def get(self, request: Request, pk) -> Response:
        event = event_get(account=request.user.account, event_id=pk)
        if event is None:
            raise Http404
        return Response(EventSerializer(event).data)
