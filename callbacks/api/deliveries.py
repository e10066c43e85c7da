"""`/api/v1/deliveries/`: the delivery log with filters, one delivery with its attempts, retry, replay."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from callbacks.api.delivery_serializers import (
    DeliveryDetailSerializer,
    DeliveryFilterSerializer,
    DeliverySerializer,
    ReplayAnswerSerializer,
    ReplayJobSerializer,
    ReplaySerializer,
)
from callbacks.api.profiles import UUID_PATTERN
from callbacks.models import Delivery, ReplayJob
from callbacks.selectors.deliveries import delivery_get, delivery_list, moment_of
from callbacks.selectors.profiles import profile_get
from callbacks.selectors.replays import replay_job_get, replay_job_list
from callbacks.services.deliveries import delivery_retry
from callbacks.services.replays import deliveries_replay


class DeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = UUID_PATTERN

    def get_serializer_class(self):
        return DeliveryDetailSerializer if self.action == "retrieve" else DeliverySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Delivery.objects.none()
        filters = DeliveryFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return delivery_list(account=self.request.user.account, **filters.validated_data)

    def get_object(self) -> Delivery:
        delivery = delivery_get(account=self.request.user.account, delivery_id=self.kwargs["pk"])
        if delivery is None:
            raise Http404
        return delivery

    @extend_schema(summary="Send one delivery again now", request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk=None) -> Response:
        delivery = delivery_retry(delivery=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Replay a range of deliveries",
        description="Deliveries in one state (failed by default; delivered or cancelled) of a profile and/or a "
        "creation time range are sent again, keeping their ids. dry_run answers the count only. More than the "
        "account's replay quota is refused (400, with the count); a large replay answers 202 with a background job "
        "whose progress GET /api/v1/replay-jobs/{id}/ shows.",
        request=ReplaySerializer,
        responses={200: ReplayAnswerSerializer, 202: ReplayAnswerSerializer},
    )
    @action(detail=False, methods=["post"])
    def replay(self, request: Request) -> Response:
        serializer = ReplaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        account = request.user.account
        profile = None
        if values.get("profile") is not None:
            profile = profile_get(account=account, profile_id=values["profile"])
            if profile is None:
                return Response({"profile": ["No such callback."]}, status=status.HTTP_400_BAD_REQUEST)
        outcome = deliveries_replay(
            account=account,
            profile=profile,
            since=moment_of(values.get("created_after"), account, day_end=False),
            until=moment_of(values.get("created_before"), account, day_end=True),
            state=values.get("state"),
            dry_run=values["dry_run"],
        )
        answer = {"count": outcome.count, "dry_run": values["dry_run"], "limit": outcome.limit, "job": None}
        if outcome.job is None:
            return Response(answer)
        answer["job"] = ReplayJobSerializer(outcome.job).data
        location = reverse("replay-job-detail", args=[outcome.job.pk], request=request)
        return Response(answer, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class ReplayJobViewSet(viewsets.ReadOnlyModelViewSet):
    """Large replays running in the background, with their progress."""

    serializer_class = ReplayJobSerializer
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ReplayJob.objects.none()
        return replay_job_list(account=self.request.user.account)

    def get_object(self) -> ReplayJob:
        job = replay_job_get(account=self.request.user.account, job_id=self.kwargs["pk"])
        if job is None:
            raise Http404
        return job
