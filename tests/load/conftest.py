"""Fixtures of the scale and fault suites: a fleet of real qcluster processes on the test database."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django_q.conf import Conf
from redis.exceptions import RedisError

from bench.harness import process_environment
from bench.scenarios import Stage
from bench.servers import REDIS_BINARY, RedisServer, ScriptedReceiver

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


@contextlib.contextmanager
def fleet_running(*, settings, tmp_path: Path, monkeypatch, redis_url: str):
    """A Fleet whose broker and cache are the Redis at `redis_url`, as are this process's."""
    if connection.vendor != "postgresql" or not redis_url:
        pytest.skip("several qcluster processes need PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    # The wake-up flag must be shared with the cluster processes, as in production.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    # This process queues wake-ups too (wake_request): into the fleet's queue, whatever Q_CLUSTER read at import.
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", redis_url)
    cache.clear()
    database = connection.settings_dict
    credentials = database["USER"] + (f":{database['PASSWORD']}" if database.get("PASSWORD") else "")
    url = f"postgres://{credentials}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
    environment = process_environment(
        database_url=url,
        redis_url=redis_url,
        cluster_name=settings.Q_CLUSTER["name"],
        workers=1,
        DJANGO_SETTINGS_MODULE="bench.settings_fleet",
        CALLBACKS_LEASE_S=str(FLEET_LEASE_S),
    )
    running = Fleet(environment=environment, workdir=tmp_path)
    yield running
    running.stop_all()
    # A test that failed with its Redis stopped has said so already.
    with contextlib.suppress(ConnectionError, RedisError):
        cache.clear()


@pytest.fixture
def fleet(transactional_db, settings, tmp_path, monkeypatch):
    """Several qcluster processes need PostgreSQL (SKIP LOCKED) and a shared broker and cache (REDIS_URL)."""
    redis_url = settings.REDIS_URL
    with fleet_running(settings=settings, tmp_path=tmp_path, monkeypatch=monkeypatch, redis_url=redis_url) as running:
        yield running


@pytest.fixture
def own_redis():
    """A private redis-server on a free port, which the test may stop and start (REDIS_URL's is never touched)."""
    if not Path(REDIS_BINARY).exists():
        pytest.skip(f"{REDIS_BINARY} is not installed")
    with RedisServer() as running:
        yield running


@pytest.fixture
def fleet_on_own_redis(transactional_db, settings, tmp_path, monkeypatch, own_redis):
    """A fleet whose broker and cache are `own_redis`, so the test can stop and start its Redis."""
    redis_url = own_redis.url
    with fleet_running(settings=settings, tmp_path=tmp_path, monkeypatch=monkeypatch, redis_url=redis_url) as running:
        yield running


@pytest.fixture
def scripted_receiver():
    with ScriptedReceiver() as running:
        yield running


@pytest.fixture
def slow_receiver():
    """Answers after 100 ms, so batches are in flight when a fault strikes."""
    with ScriptedReceiver(default_delay_ms=100) as running:
        yield running
