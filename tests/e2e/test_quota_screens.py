"""Quotas on the Account screen (operators set them, members see them) and a large replay's progress."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from callbacks import tasks
from callbacks.models import Delivery, ReplayJob
from callbacks.services.events import event_emit
from callbacks.services.profiles import profile_create
from callbacks.services.quotas import quotas_of
from tests.e2e.conftest import PASSWORD, expect, login, shot

pytestmark = pytest.mark.e2e


def failed_deliveries_add(event, profile, count: int) -> None:
    Delivery.objects.bulk_create(
        [
            Delivery(account=profile.account, event=event, profile=profile, event_type=event.type, state="failed")
            for _ in range(count)
        ]
    )


def replay_counted(page, live_server, user, profile) -> None:
    """Signed in, the replay screen asked to count every delivery of `profile`."""
    login(page, live_server, user)
    page.goto(f"{live_server.url}/admin/callbacks/delivery/replay/")
    page.select_option("#id_profile", str(profile.pk))
    page.fill("#id_created_after", "2000-01-01T00:00")
    page.fill("#id_created_before", "2100-01-01T00:00")
    page.get_by_role("button", name="Count the deliveries").click()


def test_an_operator_sets_quotas_that_members_then_see(page, live_server, owner, owner_account):
    # given an operator on the customer's Account screen
    operator = get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    login(page, live_server, operator)
    page.goto(f"{live_server.url}/admin/callbacks/account/{owner_account.pk}/change/")
    expect(page.locator("#id_quota_profiles")).to_have_attribute("placeholder", "100")

    # when a bad value is saved, then good ones
    page.fill("#id_quota_fanout", "-3")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".field-quota_fanout .errorlist")).to_be_visible()
    page.fill("#id_quota_fanout", "3")
    page.fill("#id_quota_profiles", "1")
    shot(page, "30-operator-quotas")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_be_visible()

    # then they are in force, and the customer sees them without a way to change them
    owner_account.refresh_from_db()
    assert (quotas_of(owner_account).profiles, quotas_of(owner_account).fanout) == (1, 3)
    assert quotas_of(owner_account).replay == 50_000
    page.context.clear_cookies()
    login(page, live_server, owner)
    page.goto(f"{live_server.url}/admin/callbacks/account/{owner_account.pk}/change/")
    expect(page.get_by_test_id("quota-profiles")).to_contain_text("1")
    expect(page.get_by_test_id("quota-fanout")).to_contain_text("3")
    expect(page.get_by_test_id("quota-events_per_s")).to_contain_text("Events per second through the API:")
    expect(page.locator("#id_quota_profiles")).to_have_count(0)
    shot(page, "31-member-quotas")


def test_a_large_replay_shows_its_progress(page, live_server, owner, owner_account, receiver, settings):
    # given 7 failed deliveries, more than a replay sends at once
    settings.CALLBACKS_REPLAY_INLINE_MAX = 3
    profile = profile_create(account=owner_account, name="Orders", url=receiver.url())
    event = event_emit(account=owner_account, type="message.status", data={"message_id": "m1"})
    Delivery.objects.filter(event=event).delete()
    failed_deliveries_add(event, profile, 7)

    # when the customer replays them
    replay_counted(page, live_server, owner, profile)
    page.get_by_role("button", name="Replay 7 deliveries").click()

    # then a progress page follows the background job until it is done
    expect(page.get_by_test_id("replay-job-status")).to_have_text("Queued")
    expect(page.get_by_test_id("replay-job-progress")).to_contain_text("0 of 7")
    shot(page, "32-replay-queued")
    tasks.replay_job_run(str(ReplayJob.objects.get().pk))
    expect(page.get_by_test_id("replay-job-status")).to_have_text("Done")
    expect(page.get_by_test_id("replay-job-progress")).to_contain_text("7 of 7 queued again (100%)")
    assert Delivery.objects.filter(profile=profile, state="pending").count() == 7
    page.goto(f"{live_server.url}/admin/callbacks/delivery/replay/")
    expect(page.get_by_test_id("replay-jobs")).to_contain_text("Done, 7 of 7")


def test_a_replay_over_the_quota_cannot_be_confirmed(page, live_server, owner, owner_account):
    # given a replay quota of 2 and 3 failed deliveries
    owner_account.quota_replay = 2
    owner_account.save(update_fields=["quota_replay"])
    profile = profile_create(account=owner_account, name="Orders", url="http://127.0.0.1:9/a")
    event = event_emit(account=owner_account, type="message.status", data={})
    failed_deliveries_add(event, profile, 3)

    # when the range is counted
    replay_counted(page, live_server, owner, profile)

    # then the count shows with the quota, and the replay button is off
    expect(page.get_by_test_id("replay-count")).to_contain_text("3 deliveries match")
    expect(page.get_by_test_id("replay-over-quota")).to_contain_text("at most 2")
    expect(page.get_by_role("button", name="Replay 3 deliveries")).to_be_disabled()


def test_a_callback_over_the_profiles_quota_is_refused_on_the_screen(page, live_server, owner, owner_account):
    # given an account allowed one profile, which it has
    owner_account.quota_profiles = 1
    owner_account.save(update_fields=["quota_profiles"])
    profile_create(account=owner_account, name="Orders", url="http://127.0.0.1:9/a")

    # when the customer configures a second one
    login(page, live_server, owner)
    page.goto(f"{live_server.url}/admin/callbacks/callbackprofile/add/")
    page.fill("#id_name", "Receipts")
    page.fill("#id_url", "http://127.0.0.1:9/b")
    page.get_by_role("button", name="Save", exact=True).click()

    # then the form says why, and nothing is stored
    expect(page.locator("main")).to_contain_text("The account has 1 profile.")
    expect(page.locator("main")).to_contain_text("quota is 1 callback profiles")
    shot(page, "33-profiles-quota")
    assert owner_account.callback_profiles.count() == 1
