"""`/api/v1/callback-profiles/`: list with filters, create, read, change, delete, rotate the secret and key."""

from __future__ import annotations

import datetime as dt

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from callbacks.api import schema  # noqa: F401  (registers the API key security scheme)
from callbacks.api.profile_serializers import (
    ProfileCreatedSerializer,
    ProfileSerializer,
    SecretRotatedSerializer,
    SigningKeyRotatedSerializer,
)
from callbacks.models import CallbackProfile
from callbacks.selectors import health
from callbacks.selectors.profiles import profile_list
from callbacks.services.profiles import (
    profile_delete,
    profile_public_keys,
    profile_secret_rotate,
    profile_signing_key_rotate,
)
from callbacks.text_checks import DATE_RANGE_MESSAGE, date_in_range

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


@extend_schema_field(OpenApiTypes.STR)
class DateOrDateTimeField(serializers.Field):
    """A date (`2026-11-23`, the whole day in the account's timezone) or an ISO 8601 date-time."""

    default_error_messages = {
        "invalid": "Enter a date (2026-11-23) or a date-time (2026-11-23T09:30:00Z).",
        "range": DATE_RANGE_MESSAGE,
    }

    def get_value(self, dictionary):
        # DRF reads an empty query parameter as absent; here it is a malformed date.
        return dictionary.get(self.field_name, serializers.empty)

    def to_internal_value(self, data) -> dt.date | dt.datetime:
        text = str(data).strip()
        try:
            value = parse_date(text) or parse_datetime(text)
        except ValueError:
            value = None
        if value is None:
            self.fail("invalid")
        if not date_in_range(value):
            self.fail("range")
        return value


class ProfileFilterSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True)
    http_method = serializers.ChoiceField(choices=CallbackProfile.HttpMethod.choices, required=False)
    status = serializers.ChoiceField(choices=CallbackProfile.Status.choices, required=False)
    health = serializers.ChoiceField(choices=health.CHOICES, required=False)
    created_after = DateOrDateTimeField(required=False)
    created_before = DateOrDateTimeField(required=False)

    def validate(self, attrs: dict) -> dict:
        after, before = attrs.get("created_after"), attrs.get("created_before")
        if after is not None and before is not None and type(after) is type(before) and after > before:
            raise serializers.ValidationError({"created_before": "Must not be earlier than created_after."})
        return attrs


PROFILE_FILTER_PARAMETERS = [
    OpenApiParameter("name", OpenApiTypes.STR, description="Part of the name (case-insensitive)."),
    OpenApiParameter("http_method", OpenApiTypes.STR, enum=CallbackProfile.HttpMethod.values),
    OpenApiParameter("status", OpenApiTypes.STR, enum=CallbackProfile.Status.values),
    OpenApiParameter(
        "health",
        OpenApiTypes.STR,
        enum=list(health.STATES),
        description="enabled, failing (its last attempts failed), abnormal or disabled.",
    ),
    OpenApiParameter(
        "created_after",
        OpenApiTypes.DATE,
        description="Created on or after this date (account timezone); an ISO date-time is accepted too.",
    ),
    OpenApiParameter(
        "created_before",
        OpenApiTypes.DATE,
        description="Created on or before this date (account timezone); an ISO date-time is accepted too.",
    ),
]


@extend_schema_view(
    list=extend_schema(summary="List callbacks", parameters=PROFILE_FILTER_PARAMETERS),
    retrieve=extend_schema(summary="One callback (secrets are never shown)"),
    create=extend_schema(
        summary="Create a callback",
        responses={201: ProfileCreatedSerializer},
        description="The answer carries the generated signing secret (`signing_secret`) this once.",
    ),
    update=extend_schema(summary="Replace a callback", responses={200: ProfileCreatedSerializer}),
    partial_update=extend_schema(summary="Change some fields", responses={200: ProfileCreatedSerializer}),
    destroy=extend_schema(
        summary="Delete a callback profile",
        description="Nothing more is sent to it and its waiting deliveries end as cancelled; it answers 404 "
        "afterwards. Its deliveries and statistics stay in the log and reports as a deleted callback until "
        "retention removes them.",
    ),
)
class CallbackProfileViewSet(viewsets.ModelViewSet):
    serializer_class = ProfileSerializer
    lookup_value_regex = UUID_PATTERN
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CallbackProfile.objects.none()
        account = self.request.user.account
        if self.action != "list":
            return profile_list(account=account)
        filters = ProfileFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return profile_list(account=account, **filters.validated_data)

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False) and self.request.user.is_authenticated:
            context["account"] = self.request.user.account
        return context

    def _answer(self, profile: CallbackProfile, status_code: int) -> Response:
        return Response(
            ProfileCreatedSerializer(profile, context=self.get_serializer_context()).data, status=status_code
        )

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._answer(serializer.save(), status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=kwargs.pop("partial", False))
        serializer.is_valid(raise_exception=True)
        return self._answer(serializer.save(), status.HTTP_200_OK)

    def perform_destroy(self, profile: CallbackProfile) -> None:
        profile_delete(profile=profile)

    @extend_schema(
        summary="Rotate the signing secret",
        description="A new whsec_ secret, shown only in this answer. The old one keeps signing for 24 hours.",
        request=None,
        responses={200: SecretRotatedSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk=None) -> Response:
        profile = self.get_object()
        new_secret = profile_secret_rotate(profile=profile)
        answer = {
            "signing_secret": new_secret,
            "previous_signing_secret_expires_at": profile.previous_signing_secret_expires_at,
        }
        return Response(SecretRotatedSerializer(answer).data)

    @extend_schema(
        summary="Rotate the v1a signing key",
        description="A new ed25519 key; the answer carries its public key (whpk_…). The old key keeps signing "
        "for 24 hours, so receivers can take the new public key meanwhile. 400 when v1a signing is off.",
        request=None,
        responses={200: SigningKeyRotatedSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-signing-key")
    def rotate_signing_key(self, request: Request, pk=None) -> Response:
        profile = self.get_object()
        public_key = profile_signing_key_rotate(profile=profile)
        retired = [{"public_key": key, "expires_at": expires} for key, expires in profile_public_keys(profile)[1]]
        answer = {"signing_public_key": public_key, "previous_signing_public_keys": retired}
        return Response(SigningKeyRotatedSerializer(answer).data)
