"""Fixtures shared by every suite: accounts, API keys and an authenticated API client."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from callbacks import clock
from callbacks.delivery.stopping import stop_reset
from callbacks.delivery.wake import wake_memory_clear
from callbacks.models import Account
from callbacks.services.api_keys import api_key_create, api_keys_forget
from tests.factories import AccountFactory
from tests.receivers import Receiver


@pytest.fixture(autouse=True, scope="session")
def _metrics_folder_removed():
    """The metric files this run's processes wrote go with it (only a folder the test settings made)."""
    yield
    folder = Path(settings.PROMETHEUS_MULTIPROC_DIR)
    prefix = getattr(settings, "TEST_METRICS_DIR_PREFIX", None)
    if prefix and folder.name.startswith(prefix) and folder.parent == Path(tempfile.gettempdir()):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def account(db) -> Account:
    return AccountFactory()


@pytest.fixture
def other_account(db) -> Account:
    return AccountFactory()


def api_client_for(account: Account, scopes: tuple[str, ...] = ("read", "write")) -> APIClient:
    """An API client that sends `Authorization: Bearer <a new key of account>`."""
    _, raw_key = api_key_create(account=account, scopes=scopes, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.fixture
def api(account: Account) -> APIClient:
    return api_client_for(account)


@pytest.fixture
def other_api(other_account: Account) -> APIClient:
    return api_client_for(other_account)


@pytest.fixture
def receiver():
    """A real HTTP receiver on 127.0.0.1 (see tests/receivers.py); answers 200 until told otherwise."""
    with Receiver() as running:
        yield running


@pytest.fixture
def receiver_factory():
    """Call it for as many receivers as a test needs; all are stopped afterwards."""
    started: list[Receiver] = []

    def make() -> Receiver:
        started.append(Receiver().start())
        return started[-1]

    yield make
    for running in started:
        running.stop()


@pytest.fixture(autouse=True)
def _engine_state_reset():
    """Each test starts on the real clock with an empty cache (it holds the dispatcher's wake-up flag)."""
    clock.reset()
    cache.clear()
    wake_memory_clear()
    stop_reset()
    api_keys_forget()
    yield
    clock.reset()
    stop_reset()
