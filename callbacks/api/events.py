"""`/api/v1/events/`: ingest one event (202) or a batch (207, per-item results), read one event.

The ingest views are the producers' hot path: they read the body with orjson, check it with the
service's own checks (no DRF serializer at run time; the serializers describe the schema), and answer
from what was written, without reading the event back.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.http import Http404, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callbacks import metrics
from callbacks.api.delivery_serializers import (
    EventBatchAnswerSerializer,
    EventBatchSerializer,
    EventIngestSerializer,
    EventSerializer,
)
from callbacks.api.parsers import json_document_parse
from callbacks.api.rate_limits import AccountEventRateThrottle, events_admit
from callbacks.delivery import sql
from callbacks.models import Event
from callbacks.selectors.deliveries import event_get
from callbacks.services.events import (
    MAX_BATCH_EVENTS,
    MAX_PAYLOAD_BYTES,
    IdempotencyConflict,
    PayloadTooLarge,
    event_post,
    events_ingest,
)

# Bodies far beyond the payload limit are refused before they are parsed.
MAX_REQUEST_BYTES = 2 * MAX_PAYLOAD_BYTES
MAX_BATCH_REQUEST_BYTES = 5 * 1024 * 1024


class PayloadTooLargeError(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The event's data is over {MAX_PAYLOAD_BYTES} bytes."
    default_code = "payload_too_large"


def request_size_check(request: Request, limit_bytes: int = MAX_REQUEST_BYTES) -> None:
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > limit_bytes:
        raise PayloadTooLargeError(f"The body is {int(length):,} bytes; the limit is {limit_bytes:,} bytes.")


def json_body_read(request: Request, *, limit_bytes: int) -> Any:
    """The request's JSON body, read once with orjson: 413 over `limit_bytes`, 415 unless JSON, 400 if malformed."""
    request_size_check(request, limit_bytes)
    if not (request.content_type or "").startswith("application/json"):
        raise exceptions.UnsupportedMediaType(request.content_type or "(none)")
    body = request._request.read(limit_bytes + 1)
    if len(body) > limit_bytes:
        raise PayloadTooLargeError(f"The body is over {limit_bytes:,} bytes.")
    return json_document_parse(body)  # with the depth and text limits of every other endpoint


def datetime_text(value) -> str:
    """A time as DRF writes it (ISO 8601, `Z` for UTC)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def json_answer(data: Any, *, status_code: int) -> HttpResponse:
    """`data` as JSON, encoded with orjson as DRF's renderer would write it (compact, UTF-8): the ingest
    answers are built from plain values and skip the renderer."""
    return HttpResponse(orjson.dumps(data), status=status_code, content_type="application/json")


def event_answer(event: Event, *, status_code: int = status.HTTP_202_ACCEPTED) -> HttpResponse:
    """The event and its deliveries: from what was just written, or read back for an earlier (replayed) one."""
    written = getattr(event, "stored_deliveries", None)
    if written is None:
        return json_answer(
            EventSerializer(event_get(account=event.account, event_id=event.pk)).data, status_code=status_code
        )
    return json_answer(
        {
            "id": str(event.pk),
            "type": event.type,
            "data": event.payload,
            "idempotency_key": event.idempotency_key,
            "created_at": datetime_text(event.created_at),
            "payload_purged_at": None,
            "deliveries": [
                {"id": str(sql.uuid_value(delivery_id)), "profile": str(sql.uuid_value(profile_id)), "state": state}
                for delivery_id, profile_id, state in written
            ],
        },
        status_code=status_code,
    )


class IngestView(APIView):
    """An endpoint that stores events."""

    counts_refused_events = True  # callbacks.api.errors counts its 4xx answers (callbacks_events_refused)
    throttle_classes = [AccountEventRateThrottle]


class EventIngestView(IngestView):
    @extend_schema(
        summary="Ingest an event",
        description="Stores the event and one delivery per enabled profile subscribed to its type, and answers "
        "202 once they are committed. The same idempotency_key within 24 hours answers with the first event; "
        "with another type or data, 409 naming the first event. Data over 256 KiB: 413. Over the account's "
        "events-per-second quota: 429 with Retry-After.",
        request=EventIngestSerializer,
        responses={202: EventSerializer},
    )
    def post(self, request: Request) -> HttpResponse:
        item = json_body_read(request, limit_bytes=MAX_REQUEST_BYTES)
        try:
            event = event_post(account=request.user.account, item=item)
        except PayloadTooLarge as error:
            raise PayloadTooLargeError(error.message_dict["data"][0]) from error
        except IdempotencyConflict as conflict:
            return Response(conflict.message_dict, status=status.HTTP_409_CONFLICT)
        return event_answer(event)


class EventBatchView(IngestView):
    throttle_classes = []  # the quota counts the batch's events, once they are read (`post`)

    @extend_schema(
        summary="Ingest a batch of events",
        description=f"Up to {MAX_BATCH_EVENTS:,} events, each with its own type, data and optional "
        "idempotency_key, stored with their deliveries in one transaction. Answers 207 with one result per "
        "item, in order: `accepted` with the event's id (`replayed` when its idempotency key named an "
        "event of the last 24 hours), or `refused` with the failing fields; a refused item never keeps the "
        "others out. Each event counts against the account's events-per-second quota, a batch at most one "
        "second of it: over it, 429 with Retry-After and nothing stored. The whole batch is refused (400, "
        "nothing stored) when `events` is not a list, is empty, "
        f"holds more than {MAX_BATCH_EVENTS:,} items or names an idempotency key twice; a body over "
        f"{MAX_BATCH_REQUEST_BYTES // 2**20} MiB is 413.",
        request=EventBatchSerializer,
        responses={207: EventBatchAnswerSerializer},
    )
    def post(self, request: Request) -> HttpResponse:
        body = json_body_read(request, limit_bytes=MAX_BATCH_REQUEST_BYTES)
        if not isinstance(body, dict) or "events" not in body:
            raise exceptions.ValidationError({"events": ['Send {"events": [...]}.']})
        items = body["events"]
        events_admit(request.user.account, len(items) if isinstance(items, list) and items else 1)
        results = events_ingest(account=request.user.account, items=items)
        answers = [
            {"status": "refused", "errors": result.errors}
            if result.event is None
            else {"status": "accepted", "id": str(result.event.pk), "replayed": result.event.replayed}
            for result in results
        ]
        accepted = sum(1 for result in results if result.event is not None)
        metrics.events_refused.labels(status="item").inc(len(results) - accepted)
        return json_answer(
            {"accepted": accepted, "refused": len(results) - accepted, "results": answers},
            status_code=status.HTTP_207_MULTI_STATUS,
        )


class EventDetailView(APIView):
    @extend_schema(summary="One event and its deliveries", responses={200: EventSerializer})
    def get(self, request: Request, pk) -> Response:
        event = event_get(account=request.user.account, event_id=pk)
        if event is None:
            raise Http404
        return Response(EventSerializer(event).data)
