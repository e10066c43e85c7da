"""Batch ingest end to end, as an installation runs it: a real gunicorn with `make run`'s settings, a
real qcluster and a real receiver on 127.0.0.1, on a database of their own (SQLite here; PostgreSQL and
Redis when DATABASE_URL and REDIS_URL point there)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from bench.api_load import Gunicorn
from bench.harness import ROOT, Cluster, ThrowawayDatabase, manage, process_environment, wait_until
from bench.scenarios import id_key
from tests.receivers import Receiver

pytestmark = pytest.mark.slow

EVENTS = 30


@pytest.fixture
def installation(tmp_path):
    """(environment, API key) of a freshly migrated installation with one account."""
    postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    database = ThrowawayDatabase(backend="postgres" if postgres else "sqlite", directory=tmp_path).create()
    environment = process_environment(
        database_url=database.url,
        redis_url=os.environ.get("REDIS_URL", "") if postgres else "",
        cluster_name=database.name,
        workers=1,
        CACHE_DIR=str(tmp_path / "cache"),
        DJANGO_SETTINGS_MODULE="bench.settings_fleet",
    )
    try:
        manage(["migrate", "--noinput", "-v", "0"], environment)
        account_id = manage(["account_create", "--name", "End to end", "--admin-email", "ops@example.com"], environment)
        key = manage(["apikey_create", "--account", account_id.strip()], environment).strip().splitlines()[-1]
        yield environment, key
    finally:
        database.drop()


def test_a_posted_batch_is_delivered_by_the_cluster(installation, tmp_path):
    environment, key = installation
    headers = {"Authorization": f"Bearer {key}"}
    with Receiver() as receiver, Gunicorn(environment, tmp_path / "gunicorn.log") as server:
        cluster = Cluster(environment, log_path=tmp_path / "cluster.log").start()
        try:
            # given a callback to the receiver, created through the API
            api = f"{server.url}/api/v1"
            profile = requests.post(
                f"{api}/callback-profiles/",
                json={"name": "Receiver", "url": receiver.url("/hooks"), "event_types": ["message.status"]},
                headers=headers,
                timeout=30,
            )
            assert profile.status_code == 201, profile.text

            # when a batch of good events and two bad ones is posted
            events = [{"type": "message.status", "data": {"n": n}, "idempotency_key": f"k-{n}"} for n in range(EVENTS)]
            events.insert(7, {"type": "no.such_type", "data": {}})
            events.append({"type": "message.status", "data": "not an object"})
            answer = requests.post(f"{api}/events/batch/", json={"events": events}, headers=headers, timeout=30)

            # then the good ones are accepted, the bad ones refused in place
            assert answer.status_code == 207, answer.text
            results = answer.json()["results"]
            assert [item["status"] for item in results].count("accepted") == EVENTS
            assert results[7]["status"] == results[-1]["status"] == "refused"
            accepted = {item["id"] for item in results if item["status"] == "accepted"}

            # and the cluster delivers each accepted event to the receiver once
            arrived = receiver.wait_for(EVENTS, timeout_s=90)
            assert {request.json()["id"] for request in arrived} == accepted
            assert len({id_key(request.header("webhook-id")) for request in arrived}) == EVENTS
            assert sorted(request.json()["data"]["n"] for request in arrived) == list(range(EVENTS))

            # and the delivery log says so
            def all_delivered() -> bool:
                rows = requests.get(f"{api}/deliveries/?limit=100", headers=headers, timeout=30).json()["results"]
                return len(rows) == EVENTS and {row["state"] for row in rows} == {"delivered"}

            assert wait_until(all_delivered, timeout_s=30, interval_s=0.3)

            # and posting the batch again stores nothing new (idempotency per item)
            again = requests.post(f"{api}/events/batch/", json={"events": events}, headers=headers, timeout=30).json()
            assert {item["id"] for item in again["results"] if item["status"] == "accepted"} == accepted
            assert all(item["replayed"] for item in again["results"] if item["status"] == "accepted")
        finally:
            cluster.stop()
    assert len(receiver.requests) == EVENTS


def readme_block(heading: str) -> str:
    """The first ```sh block under `heading` in the README."""
    text = (ROOT / "README.md").read_text()
    after = text[text.index(f"## {heading}\n") :]
    return after[after.index("```sh\n") + len("```sh\n") : after.index("\n```", after.index("```sh\n"))]


def test_the_readmes_first_event_works_as_written(tmp_path):
    # given an installation set up as `make run` sets it up (the demo account), serving and delivering
    database = ThrowawayDatabase(backend="sqlite", directory=tmp_path).create()
    environment = process_environment(
        database_url=database.url, cluster_name=database.name, workers=1, CACHE_DIR=str(tmp_path / "cache")
    )
    manage(["migrate", "--noinput", "-v", "0"], environment)
    manage(["bootstrap"], environment)
    with Receiver() as receiver, Gunicorn(environment, tmp_path / "gunicorn.log") as server:
        cluster = Cluster(environment, log_path=tmp_path / "cluster.log").start()
        try:
            # when the README's commands run as written (only the ports differ), every curl failing on
            # an error answer
            script = readme_block("A first event").replace("http://127.0.0.1:8000", server.url)
            script = script.replace("http://127.0.0.1:9000/hooks", receiver.url("/hooks"))
            script = script.replace(".venv/bin/python", sys.executable)
            result = subprocess.run(
                [
                    "bash",
                    "-c",
                    f'set -euo pipefail\ncurl() {{ command curl -sS --fail-with-body "$@"; echo; }}\n{script}',
                ],
                cwd=ROOT,
                env=environment,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stdout + result.stderr

            # then the receiver of the README got the single event and the batch's two, signed
            arrived = receiver.wait_for(3, timeout_s=60)
            assert sorted(request.json()["data"]["message_id"] for request in arrived) == ["m-1", "m-2", "m-3"]
            assert all(request.header("webhook-signature").startswith("v1,") for request in arrived)
            assert {request.path for request in arrived} == {"/hooks"}
        finally:
            cluster.stop()
            database.drop()
