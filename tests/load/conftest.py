"""Fixtures of the scale and fault suites: a fleet of real qcluster processes on the test database."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection

from tests.load.harness import process_environment
from tests.load.scenarios import Stage
from tests.load.servers import ScriptedReceiver

FLEET_LEASE_S = 15


class Fleet(Stage):
    """Starts qcluster processes against the test database and stops every one at the end."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.started = []

    def cluster(self, name: str = "cluster", **overrides: str):
        started = super().cluster(name, **overrides)
        self.started.append(started)
        return started

    def stop_all(self) -> None:
        for started in self.started:
            started.terminate()
        for started in self.started:
            started.stop()


@pytest.fixture
def fleet(transactional_db, settings, tmp_path):
    """Several qcluster processes need PostgreSQL (SKIP LOCKED) and a shared broker and cache (Redis)."""
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("several qcluster processes need PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    # The wake-up flag must be shared with the cluster processes, as in production.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": settings.REDIS_URL}
    }
    cache.clear()
    database = connection.settings_dict
    credentials = database["USER"] + (f":{database['PASSWORD']}" if database.get("PASSWORD") else "")
    url = f"postgres://{credentials}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
    environment = process_environment(
        database_url=url,
        redis_url=settings.REDIS_URL,
        cluster_name=settings.Q_CLUSTER["name"],
        workers=1,
        DJANGO_SETTINGS_MODULE="tests.load.settings_fleet",
        CALLBACKS_LEASE_S=str(FLEET_LEASE_S),
    )
    running = Fleet(environment=environment, workdir=tmp_path)
    yield running
    running.stop_all()
    cache.clear()


@pytest.fixture
def scripted_receiver():
    with ScriptedReceiver() as running:
        yield running


@pytest.fixture
def slow_receiver():
    """Answers after 100 ms, so batches are in flight when a fault strikes."""
    with ScriptedReceiver(default_delay_ms=100) as running:
        yield running
