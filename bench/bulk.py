"""Millions of rows in seconds: one `INSERT … SELECT` over a number series, per table.

Every column takes the model's default unless overridden, so the rows stay valid when the models
gain fields. Ids come from the series number, so events and their deliveries pair up: event n has
id `e0000000…n`, delivery n has id `d0000000…n` and points at event n.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import Model

from callbacks.models import Delivery, Event

ID_PREFIX = {Event: "e0000000", Delivery: "d0000000"}


def _id_sql(prefix: str) -> str:
    """SQL for the UUID of row `n` (the series column), as this database stores UUIDs."""
    if connection.vendor == "postgresql":
        return f"('{prefix}' || lpad(to_hex(n), 24, '0'))::uuid"
    return f"printf('{prefix}%024x', n)"


def _series_sql(start: int, count: int) -> tuple[str, list[int]]:
    if connection.vendor == "postgresql":
        return "generate_series(%s, %s) AS series(n)", [start, start + count - 1]
    return (
        "(WITH RECURSIVE series(n) AS (SELECT %s UNION ALL SELECT n + 1 FROM series WHERE n < %s) SELECT n FROM series)",
        [start, start + count - 1],
    )


def rows_insert(*, model: type[Model], start: int, count: int, values: dict[str, Any], sql: dict[str, str]) -> None:
    """Insert rows `start`…`start+count-1` of `model`: `sql` gives raw expressions (of `n`) per column,
    `values` fixed values per field attname; every other column gets the field's default."""
    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        columns.append(connection.ops.quote_name(field.column))
        if field.attname in sql:
            expressions.append(sql[field.attname])
            continue
        value = values[field.attname] if field.attname in values else field.get_default()
        expressions.append("%s")
        params.append(field.get_db_prep_save(value, connection))
    series, series_params = _series_sql(start, count)
    statement = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(expressions)} FROM {series}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params + series_params)


def deliveries_insert(*, profile, start: int, count: int, event_type: str, **delivery_values: Any) -> None:
    """`count` events of `profile`'s account, each with one delivery to `profile` (numbered from `start`)."""
    with transaction.atomic():
        rows_insert(
            model=Event,
            start=start,
            count=count,
            values={"account_id": profile.account_id, "type": event_type, "payload": {"n": 1, "status": "delivered"}},
            sql={"id": _id_sql(ID_PREFIX[Event])},
        )
        rows_insert(
            model=Delivery,
            start=start,
            count=count,
            values={
                "account_id": profile.account_id,
                "profile_id": profile.pk,
                "event_type": event_type,
                **delivery_values,
            },
            sql={"id": _id_sql(ID_PREFIX[Delivery]), "event_id": _id_sql(ID_PREFIX[Event])},
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Delivery._meta.db_table}")
            cursor.execute(f"ANALYZE {Event._meta.db_table}")
