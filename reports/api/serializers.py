"""Serializers of the reports API: settings in and out, reports out."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reports.models import Frequency, Report


@extend_schema_field({"oneOf": [{"type": "array", "items": {"type": "string", "format": "email"}}, {"type": "string"}]})
class RecipientsField(serializers.Field):
    """A list of addresses, or one comma-separated string; the service validates each address."""

    def to_internal_value(self, data):
        if isinstance(data, str) or (isinstance(data, list) and all(isinstance(item, str) for item in data)):
            return data
        raise serializers.ValidationError("Give a list of e-mail addresses or one comma-separated string.")

    def to_representation(self, value):
        return list(value)


class ReportSettingsSerializer(serializers.Serializer):
    frequencies = serializers.ListField(child=serializers.ChoiceField(choices=Frequency.choices), allow_empty=True)
    recipients = RecipientsField(help_text="Up to 5 addresses; empty: the account's admin e-mail.")
    effective_recipients = serializers.ListField(child=serializers.EmailField(), read_only=True)
    timezone = serializers.CharField(read_only=True, help_text="The account's time zone: reports go at 17:00 there.")
    next_send_at = serializers.DictField(
        child=serializers.DateTimeField(), read_only=True, help_text="frequency → when its next report is due"
    )


class ReportSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    success_rate = serializers.FloatField(read_only=True, allow_null=True, help_text="Percent delivered of finished.")

    class Meta:
        model = Report
        fields = [
            "id",
            "frequency",
            "period_start",
            "period_end",
            "timezone",
            "delivered_count",
            "failed_count",
            "success_rate",
            "status",
            "sent_at",
            "recipients",
        ]
        read_only_fields = fields

    def get_status(self, report: Report) -> str:
        return "sent" if report.sent_at else "pending"


class ReportDetailSerializer(ReportSerializer):
    class Meta(ReportSerializer.Meta):
        fields = [
            *ReportSerializer.Meta.fields,
            "attempt_count",
            "failed_attempt_count",
            "per_profile_counts",
            "event_type_counts",
            "failures_by_class",
            "busiest_hour",
            "busiest_hour_count",
            "chart_series",
            "send_attempts",
            "last_error",
        ]
        read_only_fields = fields
