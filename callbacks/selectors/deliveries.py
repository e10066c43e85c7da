"""Reads of the delivery log, scoped to one account: events, deliveries with their attempts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import F, QuerySet

from callbacks.delivery import ordering, sql
from callbacks.models import Account, Delivery, Event
from callbacks.selectors.profiles import _moment


def moment_of(value: dt.date | dt.datetime | None, account: Account, *, day_end: bool) -> dt.datetime | None:
    """A date means its whole day in the account's timezone (start, or the next day's start for an end)."""
    return None if value is None else _moment(value, account, day_end=day_end)


def delivery_list(
    *,
    account: Account,
    profile: Any = None,
    state: str | None = None,
    event_type: str | None = None,
    event: Any = None,
    created_after: dt.date | dt.datetime | None = None,
    created_before: dt.date | dt.datetime | None = None,
) -> QuerySet[Delivery]:
    """The account's deliveries, newest first, filtered."""
    rows = Delivery.objects.filter(account=account)
    if profile is not None:
        rows = rows.filter(profile_id=profile)
    if state:
        rows = rows.filter(state=state)
    if event_type:
        rows = rows.filter(event_type=event_type)
    if event is not None:
        rows = rows.filter(event_id=event)
    if created_after is not None:
        rows = rows.filter(created_at__gte=moment_of(created_after, account, day_end=False))
    if created_before is not None:
        end = moment_of(created_before, account, day_end=True)
        is_moment = isinstance(created_before, dt.datetime)
        rows = rows.filter(created_at__lte=end) if is_moment else rows.filter(created_at__lt=end)
    # The callback's name and whether it is deleted, without loading (and decrypting) each profile.
    rows = rows.annotate(profile_name=F("profile__name"), profile_deleted_at=F("profile__deleted_at"))
    return rows.order_by("-created_at", "id")


def delivery_get(*, account: Account, delivery_id: Any) -> Delivery | None:
    return (
        Delivery.objects.filter(account=account, pk=delivery_id)
        .select_related("profile")
        .prefetch_related("attempts")
        .first()
    )


def event_get(*, account: Account, event_id: Any) -> Event | None:
    return Event.objects.filter(account=account, pk=event_id).prefetch_related("deliveries").first()


def deliveries_waiting(deliveries: list[Delivery]) -> dict[Any, str]:
    """Of these deliveries, those pending behind an earlier unfinished delivery of their key (per-key
    ordering): delivery id → key. One query for the lot."""
    keyed = [row.pk for row in deliveries if row.ordering_key is not None and row.state == Delivery.State.PENDING]
    if not keyed:
        return {}
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT d.id, d.ordering_key FROM {table} d WHERE d.id IN ({sql.placeholders(len(keyed))})"  # noqa: S608
            f" AND d.state = 'pending' AND {ordering.earlier_unfinished_sql('d')}",
            [sql.uuid_param(pk) for pk in keyed],
        )
        return {sql.uuid_value(pk): key for pk, key in cursor.fetchall()}
