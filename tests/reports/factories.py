"""Factories for the rows report tests need: hourly DeliveryStats rollups."""

from __future__ import annotations

import datetime as dt

import factory

from callbacks import event_types
from callbacks.models import DeliveryStats
from tests.factories import CallbackProfileFactory


class DeliveryStatsFactory(factory.django.DjangoModelFactory):
    """One hour of one profile and event type; `account` follows the profile."""

    class Meta:
        model = DeliveryStats

    profile = factory.SubFactory(CallbackProfileFactory)
    account = factory.LazyAttribute(lambda stats: stats.profile.account)
    event_type = event_types.MESSAGE_STATUS
    hour = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC)
    delivered = 10
    failed = 0
    failed_attempts = factory.LazyAttribute(lambda stats: stats.failed)
    attempts = factory.LazyAttribute(lambda stats: stats.delivered + stats.failed_attempts)
    failures_by_class = factory.LazyAttribute(
        lambda stats: {"http_status": stats.failed_attempts} if stats.failed_attempts else {}
    )
