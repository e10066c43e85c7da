"""The alerts API: thresholds and receivers of the caller's account, and the alerts it fired."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.api.serializers import AlertSerializer, AlertSettingsSerializer
from alerts.models import Alert
from alerts.selectors import alert_recipients_get, alert_settings_get, alerts_list
from alerts.services.settings import EDITABLE_FIELDS, alert_settings_update
from alerts.telegram import telegram_binding_link, telegram_binding_reacquire, telegram_binding_state
from callbacks.models import Account, ApiKey


def _settings_answer(request: Request) -> dict:
    """The settings as stored; the START BOT link only to write keys, and only one already issued."""
    account: Account = request.user.account
    alert_settings = alert_settings_get(account=account)
    answer = {field: getattr(alert_settings, field) for field in EDITABLE_FIELDS if field != "emails"}
    answer["emails"] = alert_recipients_get(account=account).emails
    answer["telegram"] = telegram_binding_state(account=account, show_link=ApiKey.Scope.WRITE in request.auth.scopes)
    return AlertSettingsSerializer(answer).data


class AlertSettingsView(APIView):
    @extend_schema(responses=AlertSettingsSerializer, summary="Alert thresholds, receivers and Telegram binding")
    def get(self, request: Request) -> Response:
        return Response(_settings_answer(request))

    @extend_schema(request=AlertSettingsSerializer, responses=AlertSettingsSerializer, summary="Change alert settings")
    def put(self, request: Request) -> Response:
        data = request.data
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": ["Send the settings as a JSON object."]})
        # The service checks every value and answers with field-named errors (400).
        alert_settings_update(
            account=request.user.account, **{field: data[field] for field in EDITABLE_FIELDS if field in data}
        )
        return Response(_settings_answer(request))


class TelegramLinkView(APIView):
    @extend_schema(
        request=None,
        responses=AlertSettingsSerializer,
        summary="Issue the START BOT link (write keys only)",
        description="Returns the valid link if there is one, else a new single-use link; a bound chat stays bound.",
    )
    def post(self, request: Request) -> Response:
        telegram_binding_link(account=request.user.account)
        return Response(_settings_answer(request))


class TelegramReacquireView(APIView):
    @extend_schema(request=None, responses=AlertSettingsSerializer, summary="Unbind the chat and issue a new link")
    def post(self, request: Request) -> Response:
        telegram_binding_reacquire(account=request.user.account)
        return Response(_settings_answer(request))


@extend_schema(
    parameters=[
        OpenApiParameter("kind", enum=Alert.Kind.values),
        OpenApiParameter("state", enum=["firing", "resolved"]),
    ]
)
class AlertListView(generics.ListAPIView):
    serializer_class = AlertSerializer

    def get_queryset(self):
        return alerts_list(
            account=self.request.user.account,
            kind=self.request.query_params.get("kind"),
            state=self.request.query_params.get("state"),
        )
