"""The reports API: the caller's report settings, its report history and one report as JSON or CSV."""

from __future__ import annotations

import json

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, renderers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callbacks.models import Account
from reports.api.serializers import ReportDetailSerializer, ReportSerializer, ReportSettingsSerializer
from reports.building import report_csv
from reports.emails import report_csv_filename
from reports.models import Frequency, Report
from reports.periods import send_time_next
from reports.selectors import report_get, report_list
from reports.services import report_settings_get, report_settings_update


class CsvRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, str):
            return data.encode(self.charset)
        # Errors (404, 401) keep their JSON body even when CSV was asked for.
        return json.dumps(data).encode(self.charset)


def _settings_answer(account: Account) -> dict:
    subscription = report_settings_get(account=account)
    now = timezone.now()
    return ReportSettingsSerializer(
        {
            "frequencies": subscription.frequencies,
            "recipients": subscription.recipients,
            "effective_recipients": subscription.effective_recipients,
            "timezone": account.timezone,
            "next_send_at": {
                frequency: send_time_next(frequency=frequency, timezone=account.timezone, now=now)
                for frequency in subscription.frequencies
            },
        }
    ).data


class ReportSettingsView(APIView):
    @extend_schema(responses=ReportSettingsSerializer, summary="Which reports the account receives, and where")
    def get(self, request: Request) -> Response:
        return Response(_settings_answer(request.user.account))

    @extend_schema(
        request=ReportSettingsSerializer, responses=ReportSettingsSerializer, summary="Change report settings"
    )
    def put(self, request: Request) -> Response:
        serializer = ReportSettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The service checks each address and answers with field-named errors (400).
        report_settings_update(
            account=request.user.account,
            frequencies=serializer.validated_data["frequencies"],
            recipients=serializer.validated_data["recipients"],
        )
        return Response(_settings_answer(request.user.account))


@extend_schema(parameters=[OpenApiParameter("frequency", enum=Frequency.values)], summary="Reports sent and pending")
class ReportListView(generics.ListAPIView):
    serializer_class = ReportSerializer

    def get_queryset(self):
        return report_list(account=self.request.user.account, frequency=self.request.query_params.get("frequency"))


class ReportDetailView(APIView):
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]

    @extend_schema(
        parameters=[OpenApiParameter("format", enum=["json", "csv"], description="Or send `Accept: text/csv`.")],
        responses={
            200: ReportDetailSerializer,
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR, description="Counts per profile and event type"
            ),
        },
        summary="One report, as JSON or as the CSV of its counts",
    )
    def get(self, request: Request, report_id: str) -> Response:
        report: Report | None = report_get(account=request.user.account, report_id=report_id)
        if report is None:
            raise NotFound("No such report.")
        if request.accepted_renderer.format == "csv":
            filename = report_csv_filename(report=report)
            return Response(
                report_csv(report=report), headers={"Content-Disposition": f'attachment; filename="{filename}"'}
            )
        return Response(ReportDetailSerializer(report).data)
