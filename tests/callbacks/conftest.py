"""Fixtures of the engine tests that start worker processes of their own."""

from __future__ import annotations

import os

import pytest

from bench.harness import ThrowawayDatabase

POSTGRES_CONFIGURED = os.environ.get("DATABASE_URL", "").startswith("postgres")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not POSTGRES_CONFIGURED, reason="needs PostgreSQL (DATABASE_URL)"),
            ],
        ),
    ]
)
def workers_database_url(request, tmp_path):
    """The URL of a database of its own for the worker processes a test starts, on each backend: a
    SQLite file, or a PostgreSQL database created here and dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'workers.sqlite3'}"
        return
    database = ThrowawayDatabase(backend="postgres", directory=tmp_path).create()
    try:
        yield database.url
    finally:
        database.drop()
