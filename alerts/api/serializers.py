"""Shapes of the alerts API. Validation of thresholds and e-mails lives in `alerts.services.settings`."""

from __future__ import annotations

from rest_framework import serializers

from alerts.models import Alert


class TelegramBindingSerializer(serializers.Serializer):
    bound = serializers.BooleanField()
    chat = serializers.CharField(source="chat_label", help_text="Who is bound (@user or name).")
    bound_at = serializers.DateTimeField(allow_null=True)
    bot_username = serializers.CharField()
    start_link = serializers.URLField(
        allow_null=True,
        help_text="https://t.me/<bot>?start=<token>: open it to bind a chat. Shown to write keys once issued "
        "(POST alert-settings/telegram/link/); null otherwise, and while no bot is configured.",
    )
    token_expires_at = serializers.DateTimeField(allow_null=True)


class AlertSettingsSerializer(serializers.Serializer):
    """The thresholds and receivers of the caller's account. On PUT, the fields left out stay as they are."""

    timeout_enabled = serializers.BooleanField(required=False)
    timeout_minutes = serializers.IntegerField(
        required=False, help_text="Minutes within which an OTP must be verified."
    )
    rate_enabled = serializers.BooleanField(required=False)
    rate_min_percent = serializers.IntegerField(required=False, help_text="Minimum acceptable verification rate (%).")
    rate_window_minutes = serializers.IntegerField(required=False, help_text="Rolling window of the rate (minutes).")
    rate_min_sample = serializers.IntegerField(required=False, help_text="OTPs sent in the window before judging.")
    balance_enabled = serializers.BooleanField(required=False)
    balance_threshold_usd = serializers.IntegerField(required=False, help_text="A positive whole number of USD.")
    reminder_quiet_hours = serializers.IntegerField(required=False, help_text="Remind of a firing alert after this.")
    emails = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Up to 5 addresses (a comma-separated string is accepted too).",
    )
    telegram = TelegramBindingSerializer(read_only=True)


class AlertSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "state",
            "value",
            "threshold",
            "message",
            "details",
            "fired_at",
            "resolved_at",
            "last_notified_at",
            "reminders_sent",
            "sent_to",
        ]
        read_only_fields = fields
