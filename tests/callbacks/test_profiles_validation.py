"""Every rule of a callback profile, through the API: a 400 naming the field and saying what is wrong."""

from __future__ import annotations

import pytest

from callbacks import event_types
from callbacks.models import CallbackProfile

PROFILES = "/api/v1/callback-profiles/"


def payload(**overrides) -> dict:
    return {
        "name": "Orders",
        "url": "http://127.0.0.1:9/hook",
        "event_types": [event_types.MESSAGE_STATUS],
        **overrides,
    }


def refused(api, field: str, **overrides) -> str:
    """POST a profile that breaks one rule; assert a 400 naming `field` only; answer its message."""
    response = api.post(PROFILES, payload(**overrides), format="json")
    assert response.status_code == 400, response.json()
    errors = response.json()
    assert list(errors) == [field], errors
    assert not CallbackProfile.objects.exists()
    return " ".join(str(message) for message in errors[field])


def accepted(api, **overrides) -> dict:
    response = api.post(PROFILES, payload(**overrides), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


# --- URL -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_url_must_be_https_unless_the_operator_allows_http(api, settings):
    settings.CALLBACKS_ALLOW_HTTP = False
    assert "https://" in refused(api, "url", url="http://127.0.0.1:9/hook")
    assert accepted(api, url="https://127.0.0.1:9/hook")["url"] == "https://127.0.0.1:9/hook"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/x", "https://169.254.169.254/latest", "https://[::ffff:10.0.0.1]/x", "https://0x7f.1/x"]
)
def test_url_to_a_private_address_is_refused_unless_allowed(api, settings, url):
    settings.CALLBACKS_ALLOW_PRIVATE_NETWORKS = False
    assert "private" in refused(api, "url", url=url)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/x", "scheme “ftp” is not allowed"),
        ("https:///nohost", "no host"),
        ("http://<data.host>/x", "not in the host"),
        ("http://127.0.0.1/<data.nope>", "Unknown placeholder <data.nope>"),
    ],
)
def test_url_shape_errors(api, url, message):
    assert message in refused(api, "url", url=url)


# --- method, headers, body -------------------------------------------------------------------------


@pytest.mark.django_db
def test_method_must_be_one_of_get_post_put_delete(api):
    assert '"PATCH" is not a valid choice' in refused(api, "http_method", http_method="PATCH")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-Bad": "a\r\nInjected: yes"}, "line break"),
        ({"Bad Name": "x"}, "not a valid header name"),
        ({"Host": "evil.example"}, "“Host” is set by Callback Center"),
        ({"content-length": "1"}, "“content-length” is set by Callback Center"),
        ({"Transfer-Encoding": "chunked"}, "cannot be overridden"),
        ({"Connection": "close"}, "cannot be overridden"),
        ({"Upgrade": "h2c"}, "cannot be overridden"),
        ({"webhook-signature": "v1,forged"}, "cannot be overridden"),
        ({"Webhook-Id": "x"}, "cannot be overridden"),
        ({"Authorization": "Bearer x"}, "authentication fields"),
    ],
)
def test_headers_refuse_line_breaks_hop_by_hop_and_reserved_names(api, headers, message):
    assert message in refused(api, "headers", headers=headers)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-A": "🙂"}, "only visible ASCII"),
        ({"X-A": "a\u2028b"}, "\\u2028"),
        ({"X-A": "caf\u00e9"}, "position 4"),
        ({"X-A": "\x7f"}, "only visible ASCII"),
        ({"X-A": {"b": 1}}, "must be text, not an object"),
        ({"X-A": 1}, "must be text, not a number"),
        ({"X-A": None}, "must be text, not null"),
        ({"X-A": ["a"]}, "must be text, not a list"),
    ],
)
def test_header_values_only_what_http_carries_and_only_text(api, headers, message):
    assert message in refused(api, "headers", headers=headers)


@pytest.mark.django_db
def test_an_authorization_value_only_what_http_carries(api):
    assert "only visible ASCII" in refused(api, "auth_header", auth_header="Bearer 🙂")
    assert accepted(api, auth_header="Bearer a b\tc")["auth_header_set"] is True


@pytest.mark.django_db
def test_text_fields_refuse_other_json_types(api):
    assert refused(api, "name", name={"a": 1})
    assert refused(api, "description", description=["a"])


@pytest.mark.django_db
def test_a_parameter_to_encrypt_must_be_in_the_events_data(api):
    # given AES with a parameter that message.status events do not have (their phone is in "phone")
    common = {"encryption_cipher": "aes-128-gcm", "encryption_key": "k" * 16}

    # then it is refused under encryption_fields, naming it and the ones there are
    message = refused(api, "encryption_fields", encryption_fields=["to"], **common)
    assert "Not in the data of message.status: to" in message and "phone" in message
    assert accepted(api, encryption_fields=["phone", "data.status"], **common)


@pytest.mark.django_db
def test_ordinary_headers_are_kept(api):
    assert accepted(api, headers={"X-Tenant": "acme", "Content-Type": "application/vnd.acme+json"})["headers"] == {
        "X-Tenant": "acme",
        "Content-Type": "application/vnd.acme+json",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_get_and_delete_take_no_body(api, method):
    message = refused(api, "body_template", http_method=method, body_template='{"a": 1}')
    assert f"{method} requests carry no body" in message
    assert accepted(api, http_method=method)["http_method"] == method


@pytest.mark.django_db
def test_body_type_must_be_known(api):
    assert "not a valid choice" in refused(api, "body_type", body_type="yaml")


@pytest.mark.django_db
def test_template_placeholders_must_exist_in_the_subscribed_events(api):
    message = refused(api, "body_template", body_template='{"to": <data.phon>}')
    assert "<data.phon>" in message and "<data.phone>" in message


@pytest.mark.django_db
def test_json_template_must_be_json_once_filled(api):
    assert "not JSON" in refused(api, "body_template", body_template='{"to": <data.phone>,}')
    assert accepted(api, body_template='{"to": <data.phone>, "text": "Hi <data.name>"}')


@pytest.mark.django_db
def test_xml_template_is_accepted_with_its_placeholders(api):
    answer = accepted(api, body_type="xml", body_template="<sms><to><data.phone></to></sms>")
    assert answer["body_type"] == "xml"


# --- authentication --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_username_needs_a_password_and_the_other_way_round(api):
    assert "password" in refused(api, "auth_password", auth_username="user")
    assert "username" in refused(api, "auth_username", auth_password="secret")


@pytest.mark.django_db
def test_basic_auth_and_an_authorization_value_exclude_each_other(api):
    message = refused(api, "auth_header", auth_username="u", auth_password="p", auth_header="Bearer t")
    assert "not both" in message


@pytest.mark.django_db
def test_authorization_value_cannot_carry_line_breaks(api):
    assert "contains a line break" in refused(api, "auth_header", auth_header="Bearer t\r\nX-Injected: 1")


# --- signing ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_md5_signing_needs_a_salt_of_at_most_40_characters(api):
    assert "salt" in refused(api, "md5_salt", sign_md5=True)
    assert "at most 40 characters (41 given)" in refused(api, "md5_salt", sign_md5=True, md5_salt="s" * 41)
    assert accepted(api, sign_md5=True, md5_salt="s" * 40)["md5_salt_set"] is True


@pytest.mark.django_db
def test_at_least_one_signing_method(api):
    message = refused(api, "sign_standard_webhooks", sign_standard_webhooks=False, sign_md5=False)
    assert "at least one signing method" in message


# --- encryption ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cipher", "length"),
    [("aes-128-cfb", 16), ("aes-192-cfb", 24), ("aes-256-cfb", 32), ("aes-128-gcm", 16), ("aes-256-gcm", 32)],
)
def test_encryption_key_length_matches_the_cipher(api, cipher, length):
    message = refused(
        api, "encryption_key", encryption_cipher=cipher, encryption_key="k" * (length - 1), encryption_fields=["phone"]
    )
    assert f"exactly {length} bytes ({length - 1} given)" in message
    accepted(api, encryption_cipher=cipher, encryption_key="k" * length, encryption_fields=["phone"])


@pytest.mark.django_db
def test_fixed_iv_must_be_16_characters(api):
    common = {"encryption_cipher": "aes-128-cfb", "encryption_key": "k" * 16, "encryption_fields": ["phone"]}
    message = refused(api, "encryption_iv", encryption_iv_random=False, encryption_iv="short", **common)
    assert "exactly 16 bytes (5 given" in message
    answer = accepted(api, encryption_iv_random=False, encryption_iv="i" * 16, **common)
    assert answer["encryption_iv"] == "i" * 16 and answer["encryption_iv_random"] is False


@pytest.mark.django_db
def test_random_iv_needs_no_iv(api):
    answer = accepted(api, encryption_cipher="aes-256-gcm", encryption_key="k" * 32, encryption_fields=["phone"])
    assert answer["encryption_iv_random"] is True


@pytest.mark.django_db
def test_a_cipher_needs_parameters_to_encrypt(api):
    message = refused(api, "encryption_fields", encryption_cipher="aes-128-gcm", encryption_key="k" * 16)
    assert "at least one parameter" in message


@pytest.mark.django_db
def test_cipher_must_be_known(api):
    assert "not a valid choice" in refused(api, "encryption_cipher", encryption_cipher="des-cbc")


# --- batching, timeouts, retries, in-flight -----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_max_size", 0, "greater than or equal to 1"),
        ("batch_max_size", 1001, "less than or equal to 1000"),
        ("batch_max_wait_ms", -1, "greater than or equal to 0"),
        ("batch_max_wait_ms", 60001, "less than or equal to 60000"),
        ("connect_timeout_s", 31, "less than or equal to 30"),
        ("connect_timeout_s", 0, "above 0"),
        ("response_timeout_s", 121, "less than or equal to 120"),
        ("response_timeout_s", -5, "above 0"),
        ("max_in_flight", 0, "greater than or equal to 1"),
        ("max_in_flight", 501, "less than or equal to 500"),
        ("retry_schedule_s", [-1], "greater than or equal to 0"),
        ("retry_schedule_s", list(range(21)), "no more than 20"),
        ("retry_schedule_s", ["soon"], "valid integer"),
    ],
)
def test_numeric_bounds(api, field, value, message):
    assert message in refused(api, field, **{field: value})


@pytest.mark.django_db
def test_numeric_fields_within_bounds_are_stored(api):
    answer = accepted(
        api,
        batch_max_size=50,
        batch_max_wait_ms=2000,
        connect_timeout_s=30,
        response_timeout_s=120,
        max_in_flight=500,
        retry_schedule_s=[0, 10, 60],
    )
    assert (answer["batch_max_size"], answer["batch_max_wait_ms"], answer["max_in_flight"]) == (50, 2000, 500)
    assert (answer["connect_timeout_s"], answer["response_timeout_s"]) == (30.0, 120.0)
    assert answer["retry_schedule_s"] == [0, 10, 60]


# --- failure notices, subscriptions, status -----------------------------------------------------------


@pytest.mark.django_db
def test_failure_notice_emails_name_the_bad_address(api):
    message = refused(api, "failure_notice_emails", failure_notice_emails=["ops@acme.test", "ops-at-acme"])
    assert "“ops-at-acme” is not a valid e-mail address" in message


@pytest.mark.django_db
def test_failure_notice_emails_at_most_five(api):
    addresses = [f"ops{number}@acme.test" for number in range(6)]
    assert "At most 5 addresses (6 given)" in refused(api, "failure_notice_emails", failure_notice_emails=addresses)


@pytest.mark.django_db
def test_failure_notice_emails_accept_comma_separated_text(api):
    answer = accepted(api, failure_notice_emails="a@acme.test, b@acme.test;c@acme.test")
    assert answer["failure_notice_emails"] == ["a@acme.test", "b@acme.test", "c@acme.test"]


@pytest.mark.django_db
def test_subscriptions_must_be_known_event_types(api):
    message = refused(api, "event_types", event_types=[event_types.OTP_SENT, "otp.nope", "sms.bounced"])
    assert "Unknown event types: otp.nope, sms.bounced" in message


@pytest.mark.django_db
def test_abnormal_status_cannot_be_chosen_by_hand(api):
    assert "abnormal only by failing" in refused(api, "status", status="abnormal")


@pytest.mark.django_db
def test_name_is_required(api):
    response = api.post(PROFILES, {"url": "http://127.0.0.1:9/hook"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["name"]


@pytest.mark.django_db
def test_every_problem_is_reported_at_once(api):
    # given a profile breaking several rules
    response = api.post(
        PROFILES,
        payload(
            http_method="GET",
            body_template="{}",
            headers={"Host": "x"},
            sign_md5=True,
            failure_notice_emails="nope",
            encryption_cipher="aes-128-cfb",
        ),
        format="json",
    )
    # then each failing field is named in the same answer
    assert response.status_code == 400
    assert set(response.json()) == {
        "body_template",
        "headers",
        "md5_salt",
        "failure_notice_emails",
        "encryption_key",
        "encryption_fields",
    }


@pytest.mark.django_db
def test_update_validates_the_result_of_the_change(api):
    # given a valid POST profile with a body
    answer = accepted(api, body_template='{"to": <data.phone>}')
    # when only the method is changed to GET / then the existing body is the problem named
    response = api.patch(f"{PROFILES}{answer['id']}/", {"http_method": "GET"}, format="json")
    assert response.status_code == 400
    assert "GET requests carry no body" in response.json()["body_template"][0]
    # and unsubscribing from the type whose fields the template uses is refused too
    response = api.patch(f"{PROFILES}{answer['id']}/", {"event_types": [event_types.ACCOUNT_BALANCE]}, format="json")
    assert response.status_code == 400 and "<data.phone>" in response.json()["body_template"][0]
    assert CallbackProfile.objects.get(pk=answer["id"]).http_method == "POST"
