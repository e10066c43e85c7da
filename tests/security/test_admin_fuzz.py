"""Hypothesis against the screens: generated query strings on the lists and generated form posts on
the configuration screens never reach a 5xx (a 500 would raise here: the client re-raises it)."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.admin_views import AlertSettingsForm
from callbacks import event_types
from callbacks.admin_views.profile_form import EDITABLE_FIELDS
from callbacks.models import Membership
from callbacks.services.events import event_emit
from tests.factories import CallbackProfileFactory, MembershipFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

EXAMPLES = 25
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any text the address or a form can carry: NUL and controls included, surrogates excluded (they
# cannot be percent-encoded), plus shapes that parsers trip on.
TRICKY = st.sampled_from(
    [
        "",
        "0001-01-01",
        "9999-12-31",
        "2026-13-45",
        "2026-02-30T25:61",
        "not-a-uuid",
        "00000000-0000-0000-0000-000000000000",
        "-1",
        "99999999999999999999",
        "1e309",
        "NaN",
        "\x00",
        "a\r\nb",
        '{"a":' * 3000 + "1" + "}" * 3000,
        "[" * 3000,
        "%00",
        "<script>",
    ]
)
ODD_TEXT = st.one_of(TRICKY, TRICKY, TRICKY, st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))

LISTS = {
    "/admin/callbacks/callbackprofile/": [
        "status",
        "http_method",
        "created_at__from",
        "created_at__to",
        "q",
        "o",
        "p",
        "e",
        "all",
    ],
    "/admin/callbacks/delivery/": ["state", "profile", "event_type", "within", "q", "o", "p", "e"],
    "/admin/callbacks/apikey/": ["q", "o", "p"],
    "/admin/reports/": ["page", "frequency"],
    "/admin/alerts/configure/": ["next"],
    "/admin/": ["account", "p"],
}


def query_strings(path: str) -> st.SearchStrategy[dict[str, str]]:
    """Mostly the list's own parameters, sometimes a made-up lookup."""
    known = st.sampled_from(LISTS[path])
    made_up = st.from_regex(r"[a-z_]{1,12}(__[a-z]{2,6})?", fullmatch=True)
    return st.dictionaries(st.one_of(known, known, known, made_up), ODD_TEXT, min_size=1, max_size=3)


@pytest.fixture
def owner_client(account) -> Client:
    membership = MembershipFactory(account=account, role=Membership.Role.OWNER)
    profile = CallbackProfileFactory(account=account)
    profile.event_types.set([event_types.MESSAGE_STATUS])
    event_emit(account=account, type=event_types.MESSAGE_STATUS, data={"phone": "+6591234567"})
    client = Client()
    client.force_login(membership.user)
    return client


@pytest.mark.parametrize("path", sorted(LISTS))
def test_generated_query_strings_on_the_lists_answer_below_500(owner_client, path):
    @FUZZ
    @given(query=query_strings(path))
    def check(query: dict[str, str]) -> None:
        assert owner_client.get(path, query).status_code < 500

    check()


FORMS = {
    "/admin/callbacks/callbackprofile/add/": list(EDITABLE_FIELDS),
    "/admin/callbacks/apikey/add/": ["name", "scope_choices", "expires_in_days"],
    "/admin/alerts/configure/": list(AlertSettingsForm.SERVICE_FIELDS),
    "/admin/reports/": ["frequencies", "recipients"],
    "/admin/callbacks/delivery/replay/": ["profile", "created_after", "created_before", "state", "confirm"],
    "/admin/account/switch/": ["account", "next"],
}
FORM_POST = st.sampled_from(sorted(FORMS)).flatmap(
    lambda path: st.tuples(st.just(path), st.fixed_dictionaries({}, optional={name: ODD_TEXT for name in FORMS[path]}))
)


@FUZZ
@given(post=FORM_POST)
def test_generated_form_posts_answer_below_500(owner_client, account, post):
    path, data = post
    response = owner_client.post(path, data)
    assert response.status_code < 500
    # whatever was accepted, the account's name stayed one line
    account.refresh_from_db()
    assert "\n" not in account.name


@FUZZ
@given(
    data=st.fixed_dictionaries(
        {},
        optional={name: ODD_TEXT for name in ["name", "timezone", "admin_email", "balance_usd", "platform_account_id"]},
    )
)
def test_generated_account_forms_answer_below_500(owner_client, account, data):
    response = owner_client.post(f"/admin/callbacks/account/{account.pk}/change/", data)
    assert response.status_code < 500
