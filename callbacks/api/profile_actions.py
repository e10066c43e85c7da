"""`/api/v1/callback-profiles/{id}/test/`, `trigger/` and `stats/`: the engine's actions on one profile."""

from __future__ import annotations

from dataclasses import asdict

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callbacks import event_types
from callbacks.api.delivery_serializers import (
    ConnectivitySerializer,
    EventSerializer,
    StatsFilterSerializer,
    TriggerSerializer,
)
from callbacks.api.events import PayloadTooLargeError, event_answer, request_size_check
from callbacks.api.rate_limits import AccountEventRateThrottle
from callbacks.delivery.record import stats
from callbacks.models import CallbackProfile
from callbacks.selectors.deliveries import moment_of
from callbacks.selectors.health import health_state
from callbacks.selectors.profiles import profile_get
from callbacks.services.connectivity import profile_test
from callbacks.services.events import PayloadTooLarge, event_emit


def _profile(request: Request, pk) -> CallbackProfile:
    profile = profile_get(account=request.user.account, profile_id=pk)
    if profile is None:
        raise Http404
    return profile


class ProfileTestView(APIView):
    @extend_schema(
        summary="Test connectivity (Refresh)",
        description="Sends a signed callback.test request now and shows the answer. Success on an abnormal "
        "profile enables it again and releases its held deliveries.",
        request=None,
        responses={200: ConnectivitySerializer},
    )
    def post(self, request: Request, pk) -> Response:
        result = profile_test(profile=_profile(request, pk))
        return Response(ConnectivitySerializer(asdict(result)).data)


class ProfileTriggerView(APIView):
    throttle_classes = [AccountEventRateThrottle]

    @extend_schema(
        summary="Call this profile with the given data",
        description="Stores an event (type callback.test unless given) delivered to this profile only, "
        "whatever it subscribes to; answers 202 with the event and its delivery.",
        request=TriggerSerializer,
        responses={202: EventSerializer},
    )
    def post(self, request: Request, pk) -> Response:
        profile = _profile(request, pk)
        request_size_check(request)
        serializer = TriggerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        try:
            event = event_emit(
                account=request.user.account,
                type=values.get("type") or event_types.CALLBACK_TEST,
                data=values["data"],
                profile=profile,
            )
        except PayloadTooLarge as error:
            raise PayloadTooLargeError(error.message_dict["data"][0]) from error
        return event_answer(event)


class ProfileStatsView(APIView):
    @extend_schema(
        summary="Event statistics of this profile",
        description="Delivered, failed and attempts, in total and per event type, from the hourly rollups; "
        "optionally only the hours in [since, until).",
        parameters=[StatsFilterSerializer],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, pk) -> Response:
        profile = _profile(request, pk)
        filters = StatsFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        account = request.user.account
        answer = stats.profile_stats(
            profile_id=profile.pk,
            since=moment_of(filters.validated_data.get("since"), account, day_end=False),
            until=moment_of(filters.validated_data.get("until"), account, day_end=True),
        )
        health = {
            "health": health_state(profile),
            "status": profile.status,
            "status_reason": profile.status_reason,
            "consecutive_failures": profile.consecutive_failures,
            "first_failure_at": profile.first_failure_at,
            "last_success_at": profile.last_success_at,
            "last_failure_at": profile.last_failure_at,
            "last_error": profile.last_error,
        }
        return Response({"profile": str(profile.pk), **answer, "health": health})
