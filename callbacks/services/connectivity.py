"""The connectivity test ("Refresh"): a signed `callback.test` request sent now, its answer shown, and
an abnormal profile brought back when it succeeds."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce

from callbacks import clock, event_types, signals
from callbacks.delivery.record import outcomes
from callbacks.delivery.record.health import MAX_ERROR_WORDS_CHARS, failure_words
from callbacks.delivery.render.request import EventData, Item, ProfileSnapshot, request_render
from callbacks.delivery.send.transport import TransportResult, request_send
from callbacks.models import CallbackProfile
from callbacks.services.deliveries import deliveries_release
from callbacks.services.events import event_emit

logger = logging.getLogger(__name__)

TEST_MESSAGE = "Connectivity test from Callback Center"
RESPONSE_BODY_SHOWN_CHARS = 2000


@dataclass(frozen=True)
class ConnectivityResult:
    ok: bool
    status_code: int | None
    duration_ms: int
    error_class: str
    error_detail: str
    response_body: str
    webhook_id: str
    profile_status: str
    recovered: bool


def profile_test(*, profile: CallbackProfile) -> ConnectivityResult:
    """Send a signed test request to the profile and judge the answer under its response contract."""
    snapshot = ProfileSnapshot.from_profile(profile)
    now = clock.now()
    event = EventData(
        id=uuid.uuid4(),
        type=event_types.CALLBACK_TEST,
        created_at=now,
        payload={"message": TEST_MESSAGE, "profile_id": str(profile.pk), "name": profile.name},
    )
    item = Item(delivery_id=uuid.uuid4(), event=event)
    try:
        request = request_render(snapshot, [item])
    except Exception as error:  # the profile's template or cipher cannot render: say so
        result = TransportResult(error_class="render_error", error_detail=repr(error)[:500])
        webhook_id = str(item.delivery_id)
    else:
        result = request_send(
            request, connect_timeout_s=snapshot.connect_timeout_s, response_timeout_s=snapshot.response_timeout_s
        )
        webhook_id = request.webhook_id
    outcome = outcomes.outcome_classify(result, envelope_contract=snapshot.envelope_contract, now=now)
    check = {"last_check_ok": outcome.succeeded, "last_check_detail": check_summary(result, outcome)}
    recovered = False
    rows = CallbackProfile.objects.filter(pk=profile.pk)
    if outcome.succeeded:
        if profile.status == CallbackProfile.Status.ABNORMAL:
            recovered = profile_recover(profile=profile)
        else:
            rows.update(consecutive_failures=0, first_failure_at=None, exhausted_deliveries=0, last_success_at=now)
    else:
        # A failed check is a failure like a delivery's: the profile shows Failing, with this error.
        rows.update(
            last_error=check["last_check_detail"],
            last_failure_at=now,
            consecutive_failures=F("consecutive_failures") + 1,
            first_failure_at=Coalesce(F("first_failure_at"), Value(now)),
        )
    # Stamped last, so the result stays in view until something newer is known about the profile.
    rows.update(**check, last_check_at=clock.now())
    profile.refresh_from_db()
    logger.info(
        "profile.tested",
        extra={"profile_id": str(profile.pk), "ok": outcome.succeeded, "error_class": outcome.error_class},
    )
    return ConnectivityResult(
        ok=outcome.succeeded,
        status_code=result.status,
        duration_ms=result.duration_ms,
        error_class=outcome.error_class,
        error_detail=result.error_detail,
        response_body=result.body[:RESPONSE_BODY_SHOWN_CHARS].decode("utf-8", errors="replace"),
        webhook_id=webhook_id,
        profile_status=profile.status,
        recovered=recovered,
    )


def check_summary(result: TransportResult, outcome: outcomes.Outcome) -> str:
    """What a Refresh found, in a line: "HTTP 200 in 12 ms", "HTTP 503 Service Unavailable in 8 ms"."""
    if outcome.succeeded:
        return f"HTTP {result.status} in {result.duration_ms} ms"
    words = failure_words(status=result.status, error_class=outcome.error_class, detail=result.error_detail)
    return f"{words} in {result.duration_ms} ms"[:MAX_ERROR_WORDS_CHARS] if result.status else words


def profile_recover(*, profile: CallbackProfile) -> bool:
    """An abnormal profile answered: enable it, reset its health, release its held deliveries, announce.
    Returns False when it was not abnormal."""
    now = clock.now()
    with transaction.atomic():
        changed = CallbackProfile.objects.filter(pk=profile.pk, status=CallbackProfile.Status.ABNORMAL).update(
            status=CallbackProfile.Status.ENABLED,
            status_reason="",
            abnormal_since=None,
            consecutive_failures=0,
            exhausted_deliveries=0,
            first_failure_at=None,
            last_success_at=now,
        )
        if not changed:
            return False
        released = deliveries_release(profile=profile)
    profile.refresh_from_db()
    logger.info("profile.recovered", extra={"profile_id": str(profile.pk), "released": released})
    event_emit(
        account=profile.account,
        type=event_types.CALLBACK_PROFILE_RECOVERED,
        data={"profile_id": str(profile.pk), "name": profile.name},
    )
    signals.endpoint_recovered.send(sender=CallbackProfile, profile=profile)
    return True
