"""The one registry of event types: codes, categories, descriptions and example payloads.

Nothing else spells an event type's code: use the constants below (e.g. `event_types.OTP_SENT`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Category:
    MESSAGE_LIFECYCLE = "message_lifecycle"
    UPSTREAM_MESSAGE = "upstream_message"
    OTP = "otp"
    NOTIFICATION = "notification"
    BUSINESS_ALERT = "business_alert"
    ACCOUNT = "account"
    SYSTEM = "system"
    OPERATIONAL = "operational"

    LABELS = {
        MESSAGE_LIFECYCLE: "Message lifecycle",
        UPSTREAM_MESSAGE: "Upstream messages",
        OTP: "OTP verification",
        NOTIFICATION: "Notifications",
        BUSINESS_ALERT: "Business alerts",
        ACCOUNT: "Account",
        SYSTEM: "System",
        OPERATIONAL: "Operational",
    }


@dataclass(frozen=True)
class EventTypeSpec:
    code: str
    category: str
    description: str
    example: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # what a person reads; the code stays beside it
    ordering_key: str = ""  # the path in the data that per-key ordering follows by default ("": none)


MESSAGE_STATUS = "message.status"
MESSAGE_RESPONSE = "message.response"
MESSAGE_INBOUND = "message.inbound"
OTP_SENT = "otp.sent"
OTP_VERIFIED = "otp.verified"
OTP_VERIFICATION_TIMEOUT = "otp.verification_timeout"
NOTIFICATION_SMS = "notification.sms"
NOTIFICATION_PUSH = "notification.push"
ALERT_BALANCE_LOW = "alert.balance_low"
ALERT_VERIFICATION_RATE_LOW = "alert.verification_rate_low"
ACCOUNT_BALANCE = "account.balance"
ACCOUNT_MIN_BALANCE = "account.min_balance"
SYSTEM_LOGIN = "system.login"
SYSTEM_TEMPLATE_CHANGED = "system.template_changed"
SYSTEM_API_CALL = "system.api_call"
CALLBACK_PROFILE_DISABLED = "callback.profile_disabled"
CALLBACK_PROFILE_RECOVERED = "callback.profile_recovered"
CALLBACK_TEST = "callback.test"

MESSAGE_KEY = "message_id"  # what ties the events of one message (or one OTP) together

_MESSAGE = {
    "message_id": "msg_01JD6Z8Q2V7M3K",
    "channel": "sms",
    "phone": "+14155550123",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "content": "Your order #1234 has shipped.",
    "resource": "/v1/messages/msg_01JD6Z8Q2V7M3K",
}

REGISTRY: tuple[EventTypeSpec, ...] = (
    EventTypeSpec(
        MESSAGE_STATUS,
        Category.MESSAGE_LIFECYCLE,
        "A message changed status: sent, delivered, failed or read.",
        {**_MESSAGE, "status": "delivered", "status_at": "2026-11-23T09:30:12Z", "error_code": None},
        label="Message status changed",
        ordering_key=MESSAGE_KEY,
    ),
    EventTypeSpec(
        MESSAGE_RESPONSE,
        Category.MESSAGE_LIFECYCLE,
        "The carrier or app answered a message we sent (accepted or rejected, with its reason).",
        {**_MESSAGE, "response_code": "0", "response_text": "Accepted", "segments": 1, "price_usd": "0.0075"},
        label="Message answered by the carrier",
        ordering_key=MESSAGE_KEY,
    ),
    EventTypeSpec(
        MESSAGE_INBOUND,
        Category.UPSTREAM_MESSAGE,
        "A recipient sent a message to one of your numbers (upstream / MO message).",
        {
            "message_id": "mo_01JD6ZB1C4TQ",
            "channel": "sms",
            "from": "+14155550123",
            "to": "+14155559876",
            "content": "STOP",
            "received_at": "2026-11-23T09:31:00Z",
        },
        label="Message received (upstream)",
        ordering_key=MESSAGE_KEY,
    ),
    EventTypeSpec(
        OTP_SENT,
        Category.OTP,
        "A one-time password was sent.",
        {
            "message_id": "otp_01JD6ZC2M8",
            "channel": "sms",
            "phone": "+14155550123",
            "template": "login",
            "sent_at": "2026-11-23T09:32:00Z",
        },
        label="OTP sent",
        ordering_key=MESSAGE_KEY,
    ),
    EventTypeSpec(
        OTP_VERIFIED,
        Category.OTP,
        "A one-time password was entered correctly.",
        {"message_id": "otp_01JD6ZC2M8", "phone": "+14155550123", "verified_at": "2026-11-23T09:32:41Z"},
        label="OTP verified",
        ordering_key=MESSAGE_KEY,
    ),
    EventTypeSpec(
        OTP_VERIFICATION_TIMEOUT,
        Category.OTP,
        "A one-time password was not verified within the configured number of minutes.",
        {
            "message_id": "otp_01JD6ZC2M8",
            "phone": "+14155550123",
            "sent_at": "2026-11-23T09:32:00Z",
            "timeout_minutes": 5,
        },
        label="OTP not verified in time",
        ordering_key=MESSAGE_KEY,
    ),
    EventTypeSpec(
        NOTIFICATION_SMS,
        Category.NOTIFICATION,
        "A notification SMS was sent.",
        {**_MESSAGE, "template": "shipping_update"},
        label="Notification SMS sent",
        ordering_key=MESSAGE_KEY,
    ),
    EventTypeSpec(
        NOTIFICATION_PUSH,
        Category.NOTIFICATION,
        "A push notification was sent to an app.",
        {
            "message_id": "push_01JD6ZD9",
            "channel": "push",
            "device_token": "fcm:dGhpcyBpcyBhIHRva2Vu",
            "title": "Order shipped",
            "content": "Your order #1234 has shipped.",
        },
        label="Push notification sent",
        ordering_key=MESSAGE_KEY,
    ),
    EventTypeSpec(
        ALERT_BALANCE_LOW,
        Category.BUSINESS_ALERT,
        "The account balance fell below the insufficient-balance threshold.",
        {"balance_usd": "42.50", "threshold_usd": 50, "state": "firing"},
        label="Balance below threshold",
    ),
    EventTypeSpec(
        ALERT_VERIFICATION_RATE_LOW,
        Category.BUSINESS_ALERT,
        "The OTP verification rate over the rolling window fell below the minimum.",
        {
            "rate_percent": 61.5,
            "threshold_percent": 70,
            "window_minutes": 60,
            "sent": 200,
            "verified": 123,
            "state": "firing",
        },
        label="Verification rate below minimum",
    ),
    EventTypeSpec(
        ACCOUNT_BALANCE,
        Category.ACCOUNT,
        "The platform reports the account's current balance.",
        {"balance_usd": "120.00"},
        label="Account balance",
    ),
    EventTypeSpec(
        ACCOUNT_MIN_BALANCE,
        Category.ACCOUNT,
        "The account reached its minimum balance.",
        {"balance_usd": "42.50", "threshold_usd": 50},
        label="Minimum balance reached",
    ),
    EventTypeSpec(
        SYSTEM_LOGIN,
        Category.SYSTEM,
        "Someone signed in to the platform console.",
        {"user": "ada@example.com", "ip": "203.0.113.7", "at": "2026-11-23T09:00:00Z"},
        label="Console sign-in",
    ),
    EventTypeSpec(
        SYSTEM_TEMPLATE_CHANGED,
        Category.SYSTEM,
        "A message template was created, changed or deleted.",
        {"template": "login", "change": "updated", "by": "ada@example.com"},
        label="Message template changed",
    ),
    EventTypeSpec(
        SYSTEM_API_CALL,
        Category.SYSTEM,
        "The platform API was called with this account's credentials.",
        {"method": "POST", "path": "/v1/messages", "status": 201, "ip": "203.0.113.7"},
        label="Platform API called",
    ),
    EventTypeSpec(
        CALLBACK_PROFILE_DISABLED,
        Category.OPERATIONAL,
        "A callback failed for too long and was disabled (abnormal).",
        {
            "profile_id": "7c0e4a8e-2b1f-4e57-9d65-0d7f3b2a1c9e",
            "name": "Orders",
            "reason": "failing since 2026-11-18T09:00:00Z",
        },
        label="Callback paused (abnormal)",
    ),
    EventTypeSpec(
        CALLBACK_PROFILE_RECOVERED,
        Category.OPERATIONAL,
        "A disabled (abnormal) callback answered again and was enabled.",
        {"profile_id": "7c0e4a8e-2b1f-4e57-9d65-0d7f3b2a1c9e", "name": "Orders"},
        label="Callback answering again",
    ),
    EventTypeSpec(
        CALLBACK_TEST,
        Category.OPERATIONAL,
        "A connectivity test sent with Refresh; every profile receives it whatever it subscribes to.",
        {"message": "Connectivity test from Callback Center"},
        label="Connectivity test",
    ),
)

BY_CODE: dict[str, EventTypeSpec] = {spec.code: spec for spec in REGISTRY}
CHOICES: list[tuple[str, str]] = [(spec.code, spec.label) for spec in REGISTRY]


def event_type_get(code: str) -> EventTypeSpec | None:
    return BY_CODE.get(code)


def label_of(code: str) -> str:
    """The readable name of an event type ("OTP sent"), or the code itself when it is unknown."""
    spec = BY_CODE.get(code)
    return spec.label if spec else code


def ordering_key_of(code: str) -> str:
    """The path in the data that per-key ordering follows for this type when the profile names none."""
    spec = BY_CODE.get(code)
    return spec.ordering_key if spec else ""


def is_known(code: str) -> bool:
    return code in BY_CODE
