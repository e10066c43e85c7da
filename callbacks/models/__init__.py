"""Data of the callbacks app: tenancy, the event catalogue, profiles and the delivery log."""

from callbacks.models.accounts import Account, ApiKey, Membership
from callbacks.models.deliveries import Attempt, Delivery, DeliveryStats, Event
from callbacks.models.profiles import CallbackProfile, EventType
from callbacks.models.replays import ReplayJob

__all__ = [
    "Account",
    "ApiKey",
    "Attempt",
    "CallbackProfile",
    "Delivery",
    "DeliveryStats",
    "Event",
    "EventType",
    "Membership",
    "ReplayJob",
]
