"""`/api/v1/account/` (the caller's account) and `/api/v1/api-keys/` (its keys; a new key is shown once)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callbacks.api.profiles import UUID_PATTERN
from callbacks.models import Account, ApiKey
from callbacks.services.accounts import account_update
from callbacks.services.api_keys import api_key_create, api_key_revoke
from callbacks.services.quotas import quotas_of

MAX_KEY_LIFETIME_DAYS = 3650


class AccountSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(max_length=200, required=False)
    timezone = serializers.CharField(
        max_length=64, required=False, help_text="IANA time zone of reports, e.g. Europe/Berlin."
    )
    admin_email = serializers.CharField(required=False, help_text="Receives failure notices by default.")
    balance_usd = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, coerce_to_string=True)
    platform_account_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    platform_api_key = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text="Used by the legacy MD5 hash (write-only)."
    )
    platform_api_key_set = serializers.SerializerMethodField()
    quotas = serializers.SerializerMethodField(help_text="The quotas in force (an operator sets them).")
    created_at = serializers.DateTimeField(read_only=True)

    def get_platform_api_key_set(self, account: Account) -> bool:
        return bool(account.platform_api_key)

    def get_quotas(self, account: Account) -> dict[str, int]:
        return quotas_of(account).as_dict()

    def update(self, account: Account, validated_data: dict[str, Any]) -> Account:
        return account_update(account=account, **validated_data)


class AccountView(APIView):
    """The account the API key belongs to."""

    @extend_schema(summary="The caller's account", responses=AccountSerializer)
    def get(self, request: Request) -> Response:
        return Response(AccountSerializer(request.user.account).data)

    @extend_schema(
        summary="Change the account (timezone, admin e-mail, balance…)",
        request=AccountSerializer,
        responses=AccountSerializer,
    )
    def patch(self, request: Request) -> Response:
        serializer = AccountSerializer(request.user.account, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(AccountSerializer(serializer.save()).data)


class ApiKeySerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    prefix = serializers.CharField(read_only=True, help_text="The visible start of the key.")
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKey.Scope.choices),
        required=False,
        help_text="Any of read and write, at most those of the calling key (default: the calling key's).",
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    expires_in_days = serializers.IntegerField(
        write_only=True,
        required=False,
        min_value=1,
        max_value=MAX_KEY_LIFETIME_DAYS,
        help_text="Instead of expires_at.",
    )
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    active = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)

    def get_active(self, api_key: ApiKey) -> bool:
        return api_key.is_active()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        days = attrs.pop("expires_in_days", None)
        if days is not None:
            if attrs.get("expires_at") is not None:
                raise serializers.ValidationError({"expires_in_days": "Give expires_at or expires_in_days, not both."})
            attrs["expires_at"] = timezone.now() + timedelta(days=days)
        return attrs


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The full key: shown only in this answer.")


@extend_schema_view(
    list=extend_schema(summary="API keys of the account (revoked ones included)"),
    retrieve=extend_schema(summary="One API key (never the key itself)"),
    create=extend_schema(summary="Create an API key", responses={201: ApiKeyCreatedSerializer}),
    destroy=extend_schema(summary="Revoke an API key"),
)
class ApiKeyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ApiKeySerializer
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiKey.objects.none()
        return ApiKey.objects.filter(account=self.request.user.account).order_by("-created_at", "id")

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, raw_key = api_key_create(
            account=request.user.account, parent=request.auth, **serializer.validated_data
        )
        answer = ApiKeyCreatedSerializer(api_key).data
        answer["key"] = raw_key
        return Response(answer, status=status.HTTP_201_CREATED)

    def perform_destroy(self, api_key: ApiKey) -> None:
        api_key_revoke(api_key=api_key)
