"""The first run: an operator and a customer owner for the demo account, their logins printed last."""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from callbacks.models import Membership

BOX_LOGIN = re.compile(r"user name: (\S+)\s*║\n║\s+password:\s+(\S+)")
SERVE_WAIT_S = 90


def _logins(text: str) -> dict[str, str]:
    return dict(BOX_LOGIN.findall(text))


@pytest.mark.django_db
def test_bootstrap_creates_an_operator_and_the_demo_accounts_owner_and_prints_both_last(client):
    # given an empty installation / when bootstrap runs
    out = StringIO()
    call_command("bootstrap", stdout=out)

    # then the box comes last, with both logins, and each of them signs in
    text = out.getvalue().rstrip()
    assert text.splitlines()[-1].startswith("╚") and "╔" in text
    logins = _logins(text)
    assert set(logins) == {"admin", "owner"}
    request = RequestFactory().post("/admin/login/")  # the sign-in lockout reads the request
    operator = authenticate(request, username="admin", password=logins["admin"])
    owner = authenticate(request, username="owner", password=logins["owner"])
    assert operator.is_superuser and not owner.is_superuser and owner.is_staff
    membership = owner.memberships.get()
    assert membership.role == Membership.Role.OWNER and membership.account.name == "Demo account"

    # and the owner sees the customer's screens, as the owner of the demo account
    client.force_login(owner)
    page = client.get("/admin/").content.decode()
    assert "Demo account" in page and "Owner" in page and "Operator" not in page

    # when it runs again, then nobody is created and no password is shown
    again = StringIO()
    call_command("bootstrap", stdout=again)
    assert _logins(again.getvalue()) == {} and "changepassword" in again.getvalue()
    assert Membership.objects.filter(role=Membership.Role.OWNER, user__is_superuser=False).count() == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_make_runs_steps_print_the_logins_after_the_server_and_cluster_are_up(tmp_path):
    # given a fresh installation (its own SQLite file) migrated and bootstrapped as `make run` does
    env = {
        **os.environ,
        "SECRET_KEY": "first-run-test-key",
        "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(b"k" * 32).decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
        "CACHE_DIR": str(tmp_path / "cache"),
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "Q_WORKERS": "1",
    }
    logins_file = tmp_path / "logins"
    manage = [sys.executable, "manage.py"]
    run = {"cwd": settings.BASE_DIR, "env": env, "capture_output": True, "text": True, "timeout": 120, "check": True}
    subprocess.run([*manage, "migrate", "--noinput"], **run)
    boot = subprocess.run([*manage, "bootstrap", "--logins-later", "--logins-file", str(logins_file)], **run)
    assert "password" not in boot.stdout and logins_file.stat().st_mode & 0o077 == 0

    # when serve starts
    port = _free_port()
    serve = subprocess.Popen(
        [*manage, "serve", "--port", str(port), "--web-workers", "1", "--logins-file", str(logins_file)],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + SERVE_WAIT_S
        while time.monotonic() < deadline:
            line = serve.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("╚"):
                break
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    output = "".join(lines)

    # then the box comes after the web server's and the cluster's start, with both logins, shown once
    assert output.rstrip().splitlines()[-1].startswith("╚"), output[-2000:]
    box_at = output.index("╔")
    assert output.index("Booting worker") < box_at and output.index("running.") < box_at
    assert output.index("Callback Center on http://") < box_at
    assert set(_logins(output[box_at:])) == {"admin", "owner"}
    assert not Path(logins_file).exists()
