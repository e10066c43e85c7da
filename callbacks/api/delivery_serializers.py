"""Serializers of events, deliveries and attempts (the delivery log) and of the engine's actions."""

from __future__ import annotations

from rest_framework import serializers

from callbacks.api.profiles import DateOrDateTimeField
from callbacks.models import Attempt, Delivery, Event, ReplayJob


class EventIngestSerializer(serializers.Serializer):
    type = serializers.CharField(max_length=64, help_text="An event type code from /api/v1/event-types/.")
    data = serializers.JSONField(help_text="The event's payload: a JSON object of at most 256 KiB.")
    idempotency_key = serializers.CharField(
        max_length=200,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="The same key within 24 h returns the first event instead of storing a second.",
    )


class EventBatchSerializer(serializers.Serializer):
    events = EventIngestSerializer(many=True, help_text="1 to 1,000 events, each checked on its own.")


class EventBatchItemSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["accepted", "refused"])
    id = serializers.UUIDField(required=False, help_text="The event's id (accepted items).")
    replayed = serializers.BooleanField(
        required=False, help_text="True when the idempotency key named an event of the last 24 hours."
    )
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="The failing fields and their messages (refused items).",
    )


class EventBatchAnswerSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    refused = serializers.IntegerField()
    results = EventBatchItemSerializer(many=True, help_text="One result per item, in the order posted.")


class TriggerSerializer(serializers.Serializer):
    data = serializers.JSONField(help_text="The payload to send: a JSON object of at most 256 KiB.")
    type = serializers.CharField(max_length=64, required=False, help_text="Default: callback.test.")


class DeliveryBriefSerializer(serializers.ModelSerializer):
    profile = serializers.UUIDField(source="profile_id", read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "profile", "state"]


class EventSerializer(serializers.ModelSerializer):
    data = serializers.JSONField(source="payload", read_only=True)
    deliveries = DeliveryBriefSerializer(many=True, read_only=True)

    class Meta:
        model = Event
        fields = ["id", "type", "data", "idempotency_key", "created_at", "payload_purged_at", "deliveries"]


class AttemptSerializer(serializers.ModelSerializer):
    # Through the one redaction rule, also for attempts stored before it applied at write.
    request_url = serializers.CharField(source="request_url_shown", read_only=True)
    request_headers = serializers.JSONField(source="request_headers_shown", read_only=True)

    class Meta:
        model = Attempt
        fields = [
            "number",
            "started_at",
            "duration_ms",
            "request_method",
            "request_url",
            "request_headers",
            "request_body",
            "response_status",
            "response_headers",
            "response_body",
            "error_class",
            "error_detail",
            "outcome",
            "receiver_delivery_id",
        ]


class DeliverySerializer(serializers.ModelSerializer):
    event = serializers.UUIDField(source="event_id", read_only=True)
    profile = serializers.UUIDField(source="profile_id", read_only=True)
    profile_name = serializers.SerializerMethodField(help_text="The callback's name.")
    profile_deleted = serializers.SerializerMethodField(
        help_text="True once the callback is deleted: its history stays until retention removes it."
    )

    def get_profile_name(self, delivery: Delivery) -> str:
        return getattr(delivery, "profile_name", None) or delivery.profile.name

    def get_profile_deleted(self, delivery: Delivery) -> bool:
        if hasattr(delivery, "profile_deleted_at"):
            return delivery.profile_deleted_at is not None
        return delivery.profile.deleted_at is not None

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event",
            "profile",
            "profile_name",
            "profile_deleted",
            "event_type",
            "batch_id",
            "state",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error_class",
            "created_at",
            "completed_at",
            "ordering_key",
        ]


class DeliveryDetailSerializer(DeliverySerializer):
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "attempts"]


class DeliveryFilterSerializer(serializers.Serializer):
    profile = serializers.UUIDField(required=False)
    state = serializers.ChoiceField(choices=Delivery.State.choices, required=False)
    event_type = serializers.CharField(required=False)
    event = serializers.UUIDField(required=False)
    created_after = DateOrDateTimeField(required=False)
    created_before = DateOrDateTimeField(required=False)


class ReplaySerializer(serializers.Serializer):
    profile = serializers.UUIDField(required=False)
    created_after = DateOrDateTimeField(required=False)
    created_before = DateOrDateTimeField(required=False)
    state = serializers.ChoiceField(
        choices=[Delivery.State.FAILED, Delivery.State.DELIVERED, Delivery.State.CANCELLED], required=False
    )
    dry_run = serializers.BooleanField(default=False)


class ReplayJobSerializer(serializers.ModelSerializer):
    profile = serializers.UUIDField(source="profile_id", read_only=True, allow_null=True)
    created_after = serializers.DateTimeField(source="since", read_only=True)
    created_before = serializers.DateTimeField(source="until", read_only=True)
    percent = serializers.IntegerField(read_only=True, help_text="done / total, as a whole percentage.")

    class Meta:
        model = ReplayJob
        fields = [
            "id",
            "status",
            "total",
            "done",
            "percent",
            "profile",
            "state",
            "created_after",
            "created_before",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ReplayAnswerSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Matching (dry run), queued again, or to be queued by the job.")
    dry_run = serializers.BooleanField()
    limit = serializers.IntegerField(help_text="The account's replay quota: more matching is refused.")
    job = ReplayJobSerializer(allow_null=True, help_text="A large replay runs as this background job.")


class ConnectivitySerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField()
    error_class = serializers.CharField()
    error_detail = serializers.CharField()
    response_body = serializers.CharField()
    webhook_id = serializers.CharField()
    profile_status = serializers.CharField()
    recovered = serializers.BooleanField()


class StatsFilterSerializer(serializers.Serializer):
    since = DateOrDateTimeField(required=False)
    until = DateOrDateTimeField(required=False)
