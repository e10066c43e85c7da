"""Fixtures of the alerts suites: tasks run inline, a fake Telegram Bot API, the engine's clock reset."""

from __future__ import annotations

import pytest

from callbacks import clock
from tests.alerts.fake_telegram import BOT_USERNAME, FakeBotApi

BOT_TOKEN = "123456789:TEST-token-for-the-fake-api"
WEBHOOK_SECRET = "webhook-secret-0123456789"


@pytest.fixture(autouse=True)
def clock_reset():
    yield
    clock.reset()


@pytest.fixture
def tasks_inline(monkeypatch):
    """django-q2 runs the alerts app's tasks at once, in this process (as a worker would, minus the queue).

    Other apps' tasks (the dispatcher's wake-ups) stay queued; tests that need deliveries run the engine.
    """
    from django_q import tasks

    queue = tasks.async_task

    def async_task(func, *args, **kwargs):
        if isinstance(func, str) and func.startswith("alerts."):
            kwargs["sync"] = True
        return queue(func, *args, **kwargs)

    monkeypatch.setattr(tasks, "async_task", async_task)


@pytest.fixture
def fake_telegram(settings):
    api = FakeBotApi(token=BOT_TOKEN).start()
    settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN
    settings.TELEGRAM_BOT_USERNAME = BOT_USERNAME
    settings.TELEGRAM_API_BASE_URL = api.base_url
    settings.TELEGRAM_WEBHOOK_SECRET = WEBHOOK_SECRET
    yield api
    api.stop()
