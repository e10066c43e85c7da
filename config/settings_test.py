"""Test settings: the production settings with the test-friendly environment filled in first."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "bm90LWEtcmVhbC1rZXktanVzdC1mb3ItdGVzdHMtMDA=")
os.environ.setdefault("CALLBACKS_ALLOW_HTTP", "true")
os.environ.setdefault("CALLBACKS_ALLOW_PRIVATE_NETWORKS", "true")
os.environ.setdefault("EMAIL_URL", "memorymail://")
os.environ.setdefault("TELEGRAM_BOT_USERNAME", "callback_center_test_bot")
# A metrics folder of this test run (and of the processes it starts), not the installation's; the
# test run removes it at its end (tests/conftest.py).
TEST_METRICS_DIR_PREFIX = "callbacks-metrics-"
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=TEST_METRICS_DIR_PREFIX)

from config.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
