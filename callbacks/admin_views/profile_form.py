"""The "Configure a callback" form. Validation and saving are `callbacks.services.profiles`'s:
the form only converts what the browser sends into the service's arguments, puts the service's
field errors beside the fields (`clean` writes nothing) and saves through the service when asked."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError

from callbacks import event_types
from callbacks.admin_views.errors import service_errors_show
from callbacks.admin_views.profile_widgets import EventTypeGroupsWidget, KeyValueWidget, SecretInput
from callbacks.models import CallbackProfile
from callbacks.services import profile_rules as rules
from callbacks.services.profiles import SECRET_FIELDS, profile_create, profile_update, profile_validate
from callbacks.text_checks import JSON_DEPTH_MESSAGE, json_problem

LIST_FIELDS = ("encryption_fields", "failure_notice_emails", "retry_schedule_s")
# The order the form shows them in; the service decides which fields it accepts.
EDITABLE_FIELDS = [
    "name",
    "description",
    "url",
    "http_method",
    "headers",
    "body_type",
    "body_template",
    "auth_username",
    "auth_password",
    "auth_header",
    "sign_standard_webhooks",
    "sign_v1a",
    "sign_md5",
    "md5_salt",
    "encryption_cipher",
    "encryption_key",
    "encryption_iv_random",
    "encryption_iv",
    "encryption_fields",
    "event_types",
    "response_contract",
    "batch_max_size",
    "batch_max_wait_ms",
    "ordering",
    "ordering_key_path",
    "connect_timeout_s",
    "response_timeout_s",
    "retry_schedule_s",
    "max_in_flight",
    "failure_notice_emails",
]


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


class CommaListField(forms.CharField):
    """A list edited as comma-separated text."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value):
        return _comma_list(super().to_python(value))


class RetryScheduleField(CommaListField):
    def to_python(self, value):
        items = super().to_python(value)
        try:
            return [int(item) for item in items]
        except ValueError as error:
            raise ValidationError("Seconds as whole numbers, comma-separated, e.g. 0, 5, 300, 1800.") from error


class BoundedJSONField(forms.JSONField):
    """JSON no deeper than MAX_JSON_DEPTH and free of text no database stores, as the API takes it."""

    text_checked = True

    def to_python(self, value):
        try:
            document = super().to_python(value)
        except RecursionError as error:
            raise ValidationError(JSON_DEPTH_MESSAGE) from error
        problem = json_problem(document)
        if problem is not None:
            where, message = problem
            if not where or self.text_checked:
                raise ValidationError(f"{where}: {message}" if where else message)
        return document

    def bound_data(self, data, initial):
        # Shown again as typed when it cannot be read back (Django's own would recurse again).
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)


class HeadersField(BoundedJSONField):
    """Headers as a JSON object; a value the rules refused shows again as typed, even a lone surrogate
    (escaped as JSON writes it: the page could not carry the character itself). Their text is checked
    by the profile rules, which name the header and the reason."""

    text_checked = False

    def prepare_value(self, value):
        text = super().prepare_value(value)
        try:
            text.encode()
        except UnicodeEncodeError:
            return json.dumps(value)
        return text


class CallbackProfileForm(forms.ModelForm):
    # Plain text: the service checks the address (placeholders such as <data.id> are allowed in it).
    url = forms.CharField(
        label="Address",
        max_length=2048,
        widget=forms.TextInput(attrs={"placeholder": "https://example.com/callbacks", "class": "vTextField"}),
        help_text="Where Callback Center sends the events. Placeholders such as &lt;data.phone&gt; are percent-encoded.",
    )
    headers = HeadersField(required=False, widget=KeyValueWidget(), help_text="Sent with every request.")
    event_types = forms.MultipleChoiceField(
        required=False,
        widget=EventTypeGroupsWidget,
        help_text="Point at an event type to see its example payload on the right.",
    )
    encryption_fields = CommaListField(
        required=False,
        label="Parameters to encrypt",
        help_text="Paths in the event's data, comma-separated, e.g. phone, email.",
    )
    failure_notice_emails = CommaListField(
        required=False,
        label="Failure notices to",
        help_text="Up to 5 addresses, comma-separated. Empty: the account's admin e-mail.",
    )
    retry_schedule_s = RetryScheduleField(
        required=False,
        label="Retry schedule (s)",
        help_text="Seconds before each retry. Empty: 0, 5, 300, 1800, 7200, 18000, 36000, 36000.",
    )

    class Meta:
        model = CallbackProfile
        fields = EDITABLE_FIELDS
        labels = {
            "name": "Name",
            "url": "Address",
            "http_method": "HTTP method",
            "body_template": "Body template",
            "auth_username": "Username",
            "auth_password": "Password",
            "auth_header": "Authorization",
            "sign_standard_webhooks": "Sign with Standard Webhooks (v1, shared secret)",
            "sign_v1a": "Sign with ed25519 (Standard Webhooks v1a, public key)",
            "sign_md5": "Add the legacy MD5 hash",
            "md5_salt": "MD5 security salt",
            "encryption_cipher": "Algorithm",
            "encryption_key": "Key",
            "encryption_iv_random": "Random IV per message (recommended)",
            "encryption_iv": "Fixed IV",
            "batch_max_size": "Events per request",
            "batch_max_wait_ms": "Wait for a batch (ms)",
            "ordering": "Ordering",
            "ordering_key_path": "Key path",
            "connect_timeout_s": "Connect timeout (s)",
            "response_timeout_s": "Response timeout (s)",
            "max_in_flight": "Requests in flight at most",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "body_template": forms.Textarea(attrs={"rows": 7, "placeholder": "Empty: the standard envelope"}),
            "encryption_iv": forms.TextInput(attrs={"maxlength": 16, "autocomplete": "off"}),
        }
        help_texts = {
            "sign_v1a": "Receivers verify with a public key alone, so a leaked receiver cannot forge callbacks. "
            "Beside v1 or instead of it.",
            "md5_salt": "At most 40 characters: hash = md5(salt + account id + api key + callback id).",
            "encryption_key": "16, 24 or 32 bytes for AES-128, -192 or -256 (UTF-8: a character outside ASCII takes 2 to 4).",
            "encryption_iv": "Exactly 16 bytes (UTF-8). Used only when the random IV is off.",
            "ordering": "Per key sends the events of one key (one message, one OTP) one at a time, in the order "
            "they happened. It costs speed: a key's next event waits until the one before is delivered or has "
            "failed for good, retries included, so one slow or failing key holds back its own later events "
            "(other keys go on in parallel).",
            "ordering_key_path": "Path in the event data, e.g. order.id. Empty: message_id for message and OTP "
            "events. Events without a value there are sent without waiting.",
        }

    def __init__(self, *args, account=None, operator: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.operator = operator
        if "ordering" in self.fields:
            self.fields["ordering"].required = False
        # A read-only look builds the form without fields: only set up the ones present.
        if "event_types" in self.fields:
            self.fields["event_types"].choices = [(code, code) for code in _event_type_codes()]
        self._number_limits_show()
        if "failure_notice_emails" in self.fields and account is not None:
            self.fields[
                "failure_notice_emails"
            ].help_text = (
                f"Up to 5 addresses, comma-separated. Empty: the account's admin e-mail, {account.admin_email}."
            )
        if "http_method" in self.fields:
            self.fields["http_method"].choices = [(method, method) for method in CallbackProfile.HttpMethod.values]
        if not self.instance._state.adding:
            self.initial["event_types"] = list(self.instance.event_types.values_list("code", flat=True))
        for name in SECRET_FIELDS:
            if name not in self.fields:
                continue
            field = self.fields[name]
            field.required = False
            field.widget = SecretInput(is_set=bool(not self.instance._state.adding and getattr(self.instance, name)))
            if not self.instance._state.adding:
                self.initial[name] = ""

    def _number_limits_show(self) -> None:
        """Give the number boxes the service's limits, so the browser tells the range as it is typed."""
        limits = {
            "batch_max_size": rules.BATCH_SIZE_RANGE,
            "batch_max_wait_ms": rules.BATCH_WAIT_MS_RANGE,
            "max_in_flight": rules.MAX_IN_FLIGHT_RANGE,
            "connect_timeout_s": (None, rules.CONNECT_TIMEOUT_S_MAX),
            "response_timeout_s": (None, rules.RESPONSE_TIMEOUT_S_MAX),
        }
        for name, (low, high) in limits.items():
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs.update({"max": high} if low is None else {"min": low, "max": high})

    def _post_clean(self) -> None:
        """The model's rules are the service's: nothing is checked or assigned here."""

    def service_fields(self) -> dict:
        data = {name: self.cleaned_data[name] for name in EDITABLE_FIELDS if name in self.cleaned_data}
        data["headers"] = data.get("headers") or {}
        if not data.get("ordering"):
            data.pop("ordering", None)  # not sent (an older page): the stored setting, or none, stays
        for name in SECRET_FIELDS:
            # An empty secret box keeps the stored secret.
            if not self.instance._state.adding and not data.get(name):
                data.pop(name, None)
        return data

    def clean(self):
        """Checked by the profiles service; nothing is written until the screen saves (`service_save`)."""
        cleaned = super().clean()
        if self.errors:
            return cleaned
        profile = None if self.instance._state.adding else self.instance
        try:
            profile_validate(account=self.account, profile=profile, **self.service_fields())
        except ValidationError as error:
            service_errors_show(self, error)
            self._operator_hint_add()
        return cleaned

    def service_save(self) -> tuple[CallbackProfile, str | None]:
        """Write through the profiles service; answers the profile and a new signing secret to show once."""
        if self.instance._state.adding:
            profile = profile_create(account=self.account, **self.service_fields())
        else:
            profile = profile_update(profile=self.instance, **self.service_fields()) or self.instance
        return profile, getattr(profile, "new_signing_secret", "") or None

    def _operator_hint_add(self) -> None:
        """An operator refused an http:// or private address learns which setting allows it."""
        if not self.operator or "url" not in self.errors:
            return
        setting = rules.url_refusal_setting(str(self.data.get(self.add_prefix("url"), "")).strip())
        if setting:
            self.add_error(
                "url",
                f"Operator: {setting}=true in the server's environment (.env) allows it, for every account; "
                "see the configuration page of the docs.",
            )


def _event_type_codes() -> list[str]:
    return [spec.code for spec in event_types.REGISTRY]
