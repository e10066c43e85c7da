"""Quotas per account through the API: profiles, fan-out, sizes, events per second, replay size."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django_q.brokers import get_broker

from callbacks import clock, event_types, tasks
from callbacks.api import rate_limits
from callbacks.delivery.engine import dispatch_batch
from callbacks.models import CallbackProfile, Delivery, Event, ReplayJob
from callbacks.services.quotas import quotas_of, quotas_set
from callbacks.services.replays import REPLAY_STALL_S, replay_jobs_resume
from tests.callbacks.engine_helpers import emit, profile_for
from tests.receivers import unused_port

PROFILES = "/api/v1/callback-profiles/"
EVENTS = "/api/v1/events/"
BATCH = "/api/v1/events/batch/"
REPLAY = "/api/v1/deliveries/replay/"


def profile_body(name: str = "Orders", **fields) -> dict:
    return {"name": name, "url": "http://127.0.0.1:9/hooks", "event_types": [event_types.MESSAGE_STATUS], **fields}


def failed_deliveries(account, profile, count: int) -> list[Delivery]:
    event = emit(account, {"n": 1})
    Delivery.objects.filter(event=event).delete()
    return Delivery.objects.bulk_create(
        [
            Delivery(account=account, event=event, profile=profile, event_type=event.type, state="failed")
            for _ in range(count)
        ]
    )


def test_profiles_per_account_are_capped_with_the_count_named(api, account):
    # given an account whose operator allows 2 profiles
    quotas_set(account=account, quota_profiles=2)
    for index in range(2):
        assert api.post(PROFILES, profile_body(f"p{index}", event_types=[]), format="json").status_code == 201

    # when a third is created
    answer = api.post(PROFILES, profile_body("p2", event_types=[]), format="json")

    # then it is refused with the count and the quota, and nothing is stored
    assert answer.status_code == 400
    message = answer.json()["non_field_errors"][0]
    assert "2 profiles" in message and "quota is 2" in message
    assert CallbackProfile.objects.filter(account=account).count() == 2


def test_fan_out_per_event_type_is_capped_on_create_and_on_change(api, account):
    # given 2 profiles subscribed to message.status and a fan-out quota of 2
    quotas_set(account=account, quota_fanout=2)
    for index in range(2):
        both = [event_types.MESSAGE_STATUS, event_types.MESSAGE_RESPONSE]
        assert api.post(PROFILES, profile_body(f"p{index}", event_types=both), format="json").status_code == 201

    # when a third subscribes to it, on create or by a change
    created = api.post(PROFILES, profile_body("third"), format="json")
    other = api.post(PROFILES, profile_body("other", event_types=[event_types.MESSAGE_INBOUND]), format="json")
    changed = api.patch(
        f"{PROFILES}{other.json()['id']}/",
        {"event_types": [event_types.MESSAGE_INBOUND, event_types.MESSAGE_STATUS]},
        format="json",
    )

    # then both are refused naming the event type, and one event still fans out to 2 deliveries
    assert created.status_code == 400 and event_types.MESSAGE_STATUS in created.json()["event_types"][0]
    assert other.status_code == 201
    assert changed.status_code == 400 and "quota is 2" in changed.json()["event_types"][0]
    event = emit(account)
    assert Delivery.objects.filter(event=event).count() == 2


def test_template_and_header_sizes_are_capped_by_default(api, account):
    # given the defaults (16 KiB template, 8 KiB of headers)
    big_template = '{"pad": "' + "x" * 64_000 + '", "phone": <data.phone>}'
    many_headers = {f"X-Pad-{index}": "v" * 4000 for index in range(30)}

    # when a profile comes with a 64 KiB template and 30 × 4 KiB headers
    answer = api.post(PROFILES, profile_body(body_template=big_template, headers=many_headers), format="json")

    # then both fields are refused with their size and the quota
    assert answer.status_code == 400
    errors = answer.json()
    assert "quota is 16,384 bytes of a body template" in errors["body_template"][0]
    assert "quota is 8,192 bytes of a profile's headers" in errors["headers"][0]
    assert not CallbackProfile.objects.filter(account=account).exists()


def test_an_operator_override_raises_a_size_quota_and_a_lowered_one_blocks_no_other_edit(api, account):
    # given an operator who allowed a 40 KB template
    quotas_set(account=account, quota_template_bytes=40_000)
    template = '{"pad": "' + "x" * 30_000 + '"}'
    created = api.post(PROFILES, profile_body(body_template=template), format="json")
    assert created.status_code == 201

    # when the quota is lowered again and the profile is renamed, then its template grown
    quotas_set(account=account, quota_template_bytes=None)
    renamed = api.patch(f"{PROFILES}{created.json()['id']}/", {"name": "Renamed"}, format="json")
    grown = api.patch(f"{PROFILES}{created.json()['id']}/", {"body_template": template + " "}, format="json")

    # then the rename goes through and the bigger template does not
    assert renamed.status_code == 200
    assert grown.status_code == 400 and "body_template" in grown.json()


def test_events_per_second_answer_429_with_retry_after(api, other_api, account, monkeypatch):
    # given an account allowed 3 events per second, at a fixed moment
    quotas_set(account=account, quota_events_per_s=3)
    moment = [1_900_000_000.4]
    monkeypatch.setattr(rate_limits, "_wall_clock", lambda: moment[0])
    body = {"type": event_types.MESSAGE_STATUS, "data": {"n": 1}}

    # when it posts 4 events within that second
    answers = [api.post(EVENTS, body, format="json") for _ in range(4)]

    # then the 4th is 429 with Retry-After and a JSON error, and stores nothing; others are not slowed
    assert [answer.status_code for answer in answers] == [202, 202, 202, 429]
    assert answers[3]["Retry-After"] == "1"
    assert "at most 3 events per second" in answers[3].json()["detail"]
    assert Event.objects.filter(account=account).count() == 3
    assert other_api.post(EVENTS, body, format="json").status_code == 202
    # and the next second it is accepted again
    moment[0] += 1
    assert api.post(EVENTS, body, format="json").status_code == 202


def test_events_taken_in_blocks_never_pass_the_quota_across_processes(api, account, monkeypatch):
    # given an account allowed 120 events per second (taken from the shared count 2 at a time), at a fixed
    # moment, posting from processes that each hold their own unused part of a block
    quotas_set(account=account, quota_events_per_s=120)
    monkeypatch.setattr(rate_limits, "_wall_clock", lambda: 1_900_000_000.4)
    body = {"type": event_types.MESSAGE_STATUS, "data": {"n": 1}}

    # when 130 events are posted, every third one from a new process (its held events lost with it)
    answers = []
    for number in range(130):
        if number % 3 == 0:
            monkeypatch.setattr(rate_limits, "_leased", {})
        answers.append(api.post(EVENTS, body, format="json").status_code)

    # then no more than the quota were accepted, and at most one block per process short of it
    accepted = answers.count(202)
    assert 120 - 2 * 44 <= accepted <= 120
    assert answers[accepted:] == [429] * (130 - accepted)
    assert Event.objects.filter(account=account).count() == accepted


def test_events_from_one_process_reach_the_quota_exactly(api, account, monkeypatch):
    # given an account allowed 100 events per second at a fixed moment, posting from one process
    quotas_set(account=account, quota_events_per_s=100)
    monkeypatch.setattr(rate_limits, "_wall_clock", lambda: 1_900_000_000.4)
    body = {"type": event_types.MESSAGE_STATUS, "data": {"n": 1}}

    # when 101 events are posted
    answers = [api.post(EVENTS, body, format="json").status_code for _ in range(101)]

    # then exactly 100 are accepted and the 101st is refused
    assert answers == [202] * 100 + [429]


def test_a_batch_counts_each_of_its_events_against_the_quota(api, account, monkeypatch):
    # given an account allowed 5 events per second, at a fixed moment, that has posted 3 single events
    quotas_set(account=account, quota_events_per_s=5)
    monkeypatch.setattr(rate_limits, "_wall_clock", lambda: 1_900_000_000.4)
    single = {"type": event_types.MESSAGE_STATUS, "data": {"n": 0}}
    assert [api.post(EVENTS, single, format="json").status_code for _ in range(3)] == [202] * 3

    # when it posts a batch of 3 in the same second
    batch = {"events": [{"type": event_types.MESSAGE_STATUS, "data": {"n": n}} for n in range(1, 4)]}
    answer = api.post(BATCH, batch, format="json")

    # then the batch is refused whole with Retry-After, and nothing of it is stored
    assert answer.status_code == 429 and answer["Retry-After"] == "1"
    assert "at most 5 events per second" in answer.json()["detail"]
    assert Event.objects.filter(account=account).count() == 3


def test_a_batch_larger_than_the_quota_takes_a_second_of_its_own(api, account, monkeypatch):
    # given an account allowed 5 events per second, at a fixed moment
    quotas_set(account=account, quota_events_per_s=5)
    moment = [1_900_000_000.4]
    monkeypatch.setattr(rate_limits, "_wall_clock", lambda: moment[0])
    batch = {"events": [{"type": event_types.MESSAGE_STATUS, "data": {"n": n}} for n in range(8)]}

    # when it posts a batch of 8, then a single event in the same second, then one the next second
    whole = api.post(BATCH, batch, format="json")
    same_second = api.post(EVENTS, {"type": event_types.MESSAGE_STATUS, "data": {"n": 9}}, format="json")
    moment[0] += 1
    next_second = api.post(EVENTS, {"type": event_types.MESSAGE_STATUS, "data": {"n": 10}}, format="json")

    # then the batch is stored whole, counted as the whole second's quota, and the next second is free
    assert whole.status_code == 207 and whole.json()["accepted"] == 8
    assert same_second.status_code == 429
    assert next_second.status_code == 202
    assert Event.objects.filter(account=account).count() == 9


def test_replay_over_the_quota_is_refused_with_the_count(api, account):
    # given 8 failed deliveries and a replay quota of 5
    quotas_set(account=account, quota_replay=5)
    failed_deliveries(account, profile_for(account, None), 8)

    # when the range is counted, then replayed
    dry = api.post(REPLAY, {"dry_run": True}, format="json")
    refused = api.post(REPLAY, {}, format="json")

    # then the count and the limit are answered, the replay refused, and nothing queued again
    assert dry.json() == {"count": 8, "dry_run": True, "limit": 5, "job": None}
    assert refused.status_code == 400 and "8 deliveries match" in refused.json()["non_field_errors"][0]
    assert Delivery.objects.filter(account=account, state="failed").count() == 8


def test_large_replay_runs_as_a_background_job_with_progress(api, other_api, account, receiver, settings):
    # given 7 failed deliveries, more than a replay sent at once
    settings.CALLBACKS_REPLAY_INLINE_MAX = 3
    profile = profile_for(account, receiver)
    failed_deliveries(account, profile, 7)

    # when they are replayed
    answer = api.post(REPLAY, {"profile": str(profile.pk)}, format="json")

    # then a job is queued with its progress, readable by its account only
    assert answer.status_code == 202
    job = answer.json()["job"]
    assert answer.json()["count"] == 7 and job["status"] == "queued" and job["total"] == 7 and job["done"] == 0
    assert answer["Location"].endswith(f"/api/v1/replay-jobs/{job['id']}/")
    assert other_api.get(f"/api/v1/replay-jobs/{job['id']}/").status_code == 404
    assert Delivery.objects.filter(account=account, state="failed").count() == 7

    # and when the queued task runs, the job is done and the deliveries go out again
    assert tasks.replay_job_run(job["id"]) == 7
    progress = api.get(f"/api/v1/replay-jobs/{job['id']}/").json()
    assert (progress["status"], progress["done"], progress["percent"]) == ("done", 7, 100)
    assert [row["id"] for row in api.get("/api/v1/replay-jobs/").json()["results"]] == [job["id"]]
    dispatch_batch(worker_id="test")
    assert len(receiver.wait_for(7)) == 7


def test_replay_job_resumes_where_it_stopped(account):
    # given a job that queued part of its range before its worker stopped
    profile = profile_for(account, None)
    rows = sorted(
        failed_deliveries(account, profile, 6), key=lambda row: (row.created_at, row.event_id, row.pk)
    )  # the job's order
    job = ReplayJob.objects.create(account=account, state="failed", until=clock.now() + timedelta(hours=1), total=6)
    Delivery.objects.filter(pk__in=[row.pk for row in rows[:2]]).update(state="pending")
    ReplayJob.objects.filter(pk=job.pk).update(done=2, last_delivery_id=rows[1].pk, status="running")

    # when the task runs again
    done = tasks.replay_job_run(str(job.pk))

    # then the rest is queued, each once
    assert done == 6
    assert Delivery.objects.filter(profile=profile, state="pending").count() == 6


def test_account_api_shows_quotas_and_a_key_cannot_raise_them(api, account):
    # given an override of one quota
    quotas_set(account=account, quota_profiles=7)

    # when the account is read, and a key tries to raise its quotas
    shown = api.get("/api/v1/account/").json()["quotas"]
    api.patch("/api/v1/account/", {"quotas": {"profiles": 1000}, "quota_profiles": 1000}, format="json")

    # then the quotas in force are shown, and nothing changed
    assert shown == {
        "profiles": 7,
        "fanout": 20,
        "template_bytes": 16384,
        "header_bytes": 8192,
        "events_per_s": 500,
        "replay": 50000,
    }
    account.refresh_from_db()
    assert quotas_of(account).profiles == 7


@pytest.mark.parametrize("value", ["-1", "many", "1.5", 10_000_001])
def test_an_operator_gets_a_clear_error_for_a_bad_quota(account, value):
    with pytest.raises(ValidationError) as error:
        quotas_set(account=account, quota_fanout=value)
    assert "quota_fanout" in error.value.message_dict
    account.refresh_from_db()
    assert account.quota_fanout is None


def test_a_replay_job_whose_task_was_lost_is_resumed_by_the_sweep(
    api, account, receiver, settings, django_capture_on_commit_callbacks
):
    # given a large replay accepted, whose queued task is then lost with the queue
    settings.CALLBACKS_REPLAY_INLINE_MAX = 3
    profile = profile_for(account, receiver)
    failed_deliveries(account, profile, 5)
    broker = get_broker()
    broker.purge_queue()
    with django_capture_on_commit_callbacks(execute=True):
        job_id = api.post(REPLAY, {}, format="json").json()["job"]["id"]
    assert broker.queue_size() == 1
    broker.purge_queue()

    # when the sweep runs before and after the job looks stalled
    with django_capture_on_commit_callbacks(execute=True):
        early = replay_jobs_resume()
        clock.advance(seconds=REPLAY_STALL_S + 1)
        resumed = replay_jobs_resume()
        again = replay_jobs_resume()

    # then it is queued once more, once, and running it finishes the replay
    assert (early, resumed, again) == (0, 1, 0)
    assert broker.queue_size() == 1
    assert tasks.replay_job_run(job_id) == 5
    assert ReplayJob.objects.get(pk=job_id).status == ReplayJob.Status.DONE


def test_events_are_accepted_while_the_shared_cache_is_down(api, account, settings, monkeypatch):
    # given a quota of 1 event per second and a cache that refuses every connection
    quotas_set(account=account, quota_events_per_s=1)
    monkeypatch.setattr(rate_limits, "_cache_failed_at", -rate_limits.CACHE_OUTAGE_PAUSE_S)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{unused_port()}/0",
        }
    }
    body = {"type": event_types.MESSAGE_STATUS, "data": {"n": 1}}

    # when events are posted
    answers = [api.post(EVENTS, body, format="json").status_code for _ in range(3)]

    # then they are stored: the quota protects the engine, it never loses a producer's events
    assert answers == [202, 202, 202]
    assert Event.objects.filter(account=account).count() == 3
