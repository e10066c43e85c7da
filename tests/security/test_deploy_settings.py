"""Production settings: `check --deploy` is clean with the .env written for an https site, and the
HTTPS settings, the proxy header and the Content-Security-Policy reach the answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from config.envfile import envfile_write
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]


def _deploy_check(env_file: Path, **extra: str) -> subprocess.CompletedProcess:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ENV_FILE": str(env_file), **extra}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_production_env_file(tmp_path):
    # given the .env written for a site served over https
    env_file = tmp_path / ".env"
    assert envfile_write(env_file, site_url="https://callbacks.example.com")
    assert "HTTPS=true" in env_file.read_text()
    # when Django's deployment checks run with it / then nothing is reported
    result = _deploy_check(env_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_check_deploy_names_what_is_missing_without_https(tmp_path):
    # given the same file with HTTPS turned off
    env_file = tmp_path / ".env"
    envfile_write(env_file, site_url="https://callbacks.example.com")
    result = _deploy_check(env_file, HTTPS="false")
    # then the checks name HSTS, the redirect and both cookies
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


@pytest.fixture
def https_settings(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


@pytest.mark.django_db
def test_behind_a_tls_proxy_answers_carry_hsts_and_secure_cookies(https_settings):
    client = Client()
    # plain http is sent to https
    plain = client.get("/admin/login/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    # what the proxy marks as https is served, with HSTS
    page = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    # and the cookies of a sign-in are Secure and (the session's) HttpOnly
    user = UserFactory()
    signed_in = client.post(
        "/admin/login/?next=/admin/",
        {"username": user.username, "password": "correct horse battery staple"},
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert signed_in.status_code == 302
    assert signed_in.cookies["sessionid"]["secure"] and signed_in.cookies["sessionid"]["httponly"]
    assert client.cookies["csrftoken"]["secure"]


@pytest.mark.django_db
def test_the_screens_and_api_docs_carry_a_content_security_policy():
    page = Client().get("/admin/login/")
    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert "Content-Security-Policy" in Client().get("/api/docs/")


def _directives(header: str) -> set[str]:
    return {part.strip() for part in header.split(";") if part.strip()}


@pytest.mark.django_db
def test_every_answer_carries_the_policy_django_csp_builds_from_the_settings(account):
    from csp.utils import build_policy

    from callbacks.services.api_keys import api_key_create

    # given the policy django-csp builds from CONTENT_SECURITY_POLICY
    expected = _directives(build_policy())
    assert "default-src 'self'" in expected and "object-src 'none'" in expected
    _, key = api_key_create(account=account, name="csp")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    # when a screen, an API answer, an API error and a page not found are asked for
    answers = [
        Client().get("/admin/login/"),
        api.post("/api/v1/events/", {"type": "message.status", "data": {}}, content_type="application/json"),
        api.post("/api/v1/events/", "{", content_type="application/json"),
        Client().get("/no-such-page/"),
    ]
    # then each carries that policy, once
    assert [answer.status_code for answer in answers] == [200, 202, 400, 404]
    for answer in answers:
        assert _directives(answer["Content-Security-Policy"]) == expected, answer.status_code


@pytest.mark.django_db
def test_with_debug_on_djangos_error_pages_go_without_the_policy(settings):
    # given DEBUG on, whose technical 404 page has inline scripts and styles
    settings.DEBUG = True
    # then a page not found goes without the policy, and a screen keeps it
    assert "Content-Security-Policy" not in Client().get("/no-such-page/")
    assert "Content-Security-Policy" in Client().get("/admin/login/")
