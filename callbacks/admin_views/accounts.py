"""Accounts, memberships and API keys in the screens."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from callbacks.admin_views.errors import service_errors_show
from callbacks.admin_views.reveal import secret_pop, secret_stash
from callbacks.admin_views.scoping import AccountScopedAdmin, account_required, may_write
from callbacks.models import Account, ApiKey
from callbacks.services.accounts import account_create, account_update, account_values_check
from callbacks.services.api_keys import api_key_create, api_key_revoke, api_key_values_check
from callbacks.services.quotas import QUOTA_FIELDS, QUOTAS, quota_default, quotas_check, quotas_of, quotas_set
from callbacks.tenancy import accounts_for_user


def status_mark(state: str, label: str | None = None) -> str:
    """The coloured pill used for every status in the screens."""
    return format_html('<span class="cc-status {}">{}</span>', state, label or state.capitalize())


ACCOUNT_FIELDS = ["name", "timezone", "admin_email", "balance_usd", "platform_account_id", "platform_api_key"]


def moment_shown(moment, *, none: str = "") -> str:
    """A time as every screen shows it, "2026-11-23 09:30", in the current account's time zone."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else none


def timezone_choices() -> list[tuple[str, str]]:
    """Every IANA time zone, UTC first: a picker instead of free text."""
    zones = sorted(zone for zone in zoneinfo.available_timezones() if zone != "UTC" and "/" in zone)
    return [("UTC", "UTC"), *((zone, zone.replace("_", " ")) for zone in zones)]


class AccountForm(forms.ModelForm):
    """Account changes: checked by `callbacks.services.accounts` while validating (its errors beside the
    fields), then written by the same service when the screen saves. `clean()` writes nothing."""

    class Meta:
        model = Account
        fields = ACCOUNT_FIELDS
        labels = {
            "timezone": "Time zone",
            "admin_email": "Admin e-mail",
            "balance_usd": "Balance (USD)",
            "platform_api_key": "Platform API key",
            "quota_profiles": "Profiles",
            "quota_fanout": "Fan-out (profiles per event type)",
            "quota_template_bytes": "Body template (bytes)",
            "quota_header_bytes": "Headers (bytes)",
            "quota_events_per_s": "Events per second (API)",
            "quota_replay": "Deliveries per replay",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in QUOTAS:
            field = self.fields.get(f"quota_{name}")
            if field is not None:
                field.widget.attrs["placeholder"] = f"{quota_default(name):,}"
                field.help_text = f"{field.help_text} Empty: the default ({quota_default(name):,})."
        if "timezone" in self.fields:
            current = self.instance.timezone if not self.instance._state.adding else "UTC"
            choices = timezone_choices()
            if current not in dict(choices):
                choices.append((current, current))  # a zone stored before the picker keeps showing
            self.fields["timezone"] = forms.ChoiceField(
                label="Time zone",
                choices=choices,
                initial=current,
                help_text="Reports and every time on the screens use it.",
            )
        if "platform_api_key" in self.fields:
            is_set = bool(not self.instance._state.adding and self.instance.platform_api_key)
            self.fields["platform_api_key"].widget = forms.PasswordInput(
                attrs={"placeholder": "•••••••• set: type to replace" if is_set else ""}, render_value=True
            )
            self.fields["platform_api_key"].required = False
            self.fields["platform_api_key"].help_text = "Write-only: leave empty to keep the stored key."
            self.initial["platform_api_key"] = ""

    def _post_clean(self) -> None:
        """The account rules are the service's."""

    def service_values(self) -> dict:
        values = {name: self.cleaned_data[name] for name in self.fields if name in self.cleaned_data}
        if not values.get("platform_api_key"):
            values.pop("platform_api_key", None)
        if not self.instance._state.adding:
            values = {name: value for name, value in values.items() if name in self.changed_data}
        return values

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        account = None if self.instance._state.adding else self.instance
        try:
            values = self.service_values()
            quotas = {name: values.pop(name) for name in QUOTA_FIELDS if name in values}
            account_values_check(account=account, **values)
            quotas_check(**quotas)
        except ValidationError as error:
            service_errors_show(self, error)
        return cleaned

    def service_save(self) -> Account:
        """Write through the accounts service (called by the screen once the form is valid)."""
        values = self.service_values()
        quotas = {name: values.pop(name) for name in QUOTA_FIELDS if name in values}
        with transaction.atomic():
            if self.instance._state.adding:
                account = account_create(**values)
            else:
                account = account_update(account=Account.objects.get(pk=self.instance.pk), **values)
            return quotas_set(account=account, **quotas) if quotas else account


class AccountAdmin(AccountScopedAdmin):
    form = AccountForm
    list_display = ["name", "timezone", "admin_email", "balance_usd", "created", "owner_invite"]

    @admin.display(description="")
    def owner_invite(self, obj: Account) -> str:
        """Operators give a customer its owner by invitation, never through Django's user forms."""
        return format_html(
            '<a class="cc-button" href="{}?account={}&amp;role=owner">Invite an owner</a>',
            reverse("admin:callbacks_membership_add"),
            obj.pk,
        )

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Account) -> str:
        return moment_shown(obj.created_at)

    search_fields = ["name", "admin_email", "platform_account_id"]

    def get_queryset(self, request: HttpRequest):
        accounts = accounts_for_user(request.user)
        if request.user.is_superuser:
            return accounts
        current = account_required(request)
        return accounts.filter(pk=current.pk)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        # "Change account" would read as switching to another one (the header's switcher does that).
        return super().change_view(request, object_id, form_url, {"title": "Account", **(extra_context or {})})

    def get_fieldsets(self, request: HttpRequest, obj=None):
        if self.has_change_permission(request, obj):
            fields = ACCOUNT_FIELDS
        else:
            # Looking without changing: the platform key shows only whether it is set.
            fields = [name if name != "platform_api_key" else "platform_api_key_state" for name in ACCOUNT_FIELDS]
        # Quotas are the operators': they set them, the account's members see what is in force.
        quotas = QUOTA_FIELDS if request.user.is_superuser else ["quotas_in_force"]
        description = "What this account can make the shared delivery engine do. Empty: the installation's default."
        return [(None, {"fields": fields}), ("Quotas", {"fields": quotas, "description": description})]

    @admin.display(description="Quotas in force")
    def quotas_in_force(self, obj: Account) -> str:
        quotas = quotas_of(obj).as_dict()
        return format_html_join(
            "",
            '<div data-testid="quota-{}">{}: <strong>{}</strong></div>',
            ((name, capfirst(QUOTAS[name][1]), f"{value:,}") for name, value in quotas.items()),
        )

    @admin.display(description="Platform API key")
    def platform_api_key_state(self, obj: Account) -> str:
        return "● set" if obj.platform_api_key else "not set"

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # The balance comes from the platform; customers read it, operators may correct it.
        return [] if request.user.is_superuser else ["balance_usd", "platform_account_id", "quotas_in_force"]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if not request.user.is_superuser:
            account = account_required(request)
            return HttpResponseRedirect(reverse("admin:callbacks_account_change", args=[account.pk]))
        return super().changelist_view(request, {"title": "Accounts", **(extra_context or {})})

    def save_form(self, request, form, change):
        return form.service_save()

    def save_model(self, request, obj, form, change) -> None:
        """Saved by the accounts service in `save_form`."""

    def save_related(self, request, form, formsets, change) -> None:
        """No related rows."""


class ApiKeyCreateForm(forms.ModelForm):
    """Creating a key goes through `api_key_create`; the full key is shown once afterwards."""

    scope_choices = forms.MultipleChoiceField(
        label="Scopes",
        choices=ApiKey.Scope.choices,
        initial=[ApiKey.Scope.READ, ApiKey.Scope.WRITE],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Read lets a program list profiles and the delivery log; write lets it change them and send events.",
    )
    expires_in_days = forms.IntegerField(
        label="Expires in (days)", min_value=1, max_value=3650, required=False, help_text="Empty: never expires."
    )

    class Meta:
        model = ApiKey
        fields = ["name"]

    def _expires_at(self):
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timedelta(days=days) if days else None

    def clean(self):
        """Checked by the API keys service; nothing is written until the screen saves."""
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            api_key_values_check(scopes=cleaned.get("scope_choices") or [], expires_at=self._expires_at())
        except ValidationError as error:
            service_errors_show(self, error, {"scopes": "scope_choices", "expires_at": "expires_in_days"})
        return cleaned

    def service_save(self) -> tuple[ApiKey, str]:
        return api_key_create(
            account=self.account,
            name=self.cleaned_data.get("name", ""),
            scopes=self.cleaned_data.get("scope_choices") or [],
            expires_at=self._expires_at(),
            created_by=self.user,
        )


class ApiKeyAdmin(AccountScopedAdmin):
    form = ApiKeyCreateForm
    list_display = [
        "key_name",
        "prefix_shown",
        "scopes_shown",
        "created",
        "last_used",
        "expires",
        "state",
        "row_actions",
    ]
    list_display_links = None
    search_fields = ["name", "prefix"]
    empty_list_text = "No API keys yet. Programs use a key to post events and read this account's log through the API."
    actions = None

    @admin.display(description="Name", ordering="name")
    def key_name(self, obj: ApiKey) -> str:
        return format_html('<span class="cc-title">{}</span>', obj.name or "Unnamed key")

    @admin.display(description="Key", ordering="prefix")
    def prefix_shown(self, obj: ApiKey) -> str:
        return format_html('<span class="cc-mono">{}_…</span>', obj.prefix)

    @admin.display(description="Scopes")
    def scopes_shown(self, obj: ApiKey) -> str:
        return format_html_join(" ", '<span class="cc-method">{}</span>', ((scope,) for scope in obj.scopes))

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: ApiKey) -> str:
        return moment_shown(obj.created_at)

    @admin.display(description="Last used", ordering="last_used_at")
    def last_used(self, obj: ApiKey) -> str:
        return moment_shown(obj.last_used_at, none="Never")

    @admin.display(description="Expires", ordering="expires_at")
    def expires(self, obj: ApiKey) -> str:
        return moment_shown(obj.expires_at, none="Never")

    @admin.display(description="Status")
    def state(self, obj: ApiKey) -> str:
        if obj.revoked_at:
            return status_mark("revoked", "Revoked")
        if not obj.is_active():
            return status_mark("expired", "Expired")
        return status_mark("active", "Active")

    @admin.display(description="")
    def row_actions(self, obj: ApiKey) -> str:
        if obj.revoked_at or not self._writer:
            return ""
        # A button of the changelist's own form (forms cannot nest): it posts there with its CSRF token.
        return format_html(
            '<button type="submit" class="cc-button danger" formaction="{}" formmethod="post" '
            'data-confirm="Revoke the key {}_…? Programs using it stop working at once.">Revoke</button>',
            reverse("admin:callbacks_apikey_revoke", args=[obj.pk]),
            obj.prefix,
        )

    def changelist_view(self, request: HttpRequest, extra_context=None):
        self._writer = may_write(request)
        return super().changelist_view(request, {"title": "API keys", **(extra_context or {})})

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        """A key has nothing to change: the list shows all there is (another account's key is a 404)."""
        self.get_object(request, object_id)
        return HttpResponseRedirect(reverse("admin:callbacks_apikey_changelist"))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        account = account_required(request)
        user = request.user

        class BoundForm(form_class):
            def __init__(self, *args, **form_kwargs):
                super().__init__(*args, **form_kwargs)
                self.account, self.user = account, user

        return BoundForm

    def save_form(self, request, form, change):
        created_key, raw_key = form.service_save()
        secret_stash(request, slot=f"apikey:{created_key.pk}", value=raw_key)
        return created_key

    def save_model(self, request, obj, form, change) -> None:
        """Saved by `api_key_create` in `save_form`."""

    def save_related(self, request, form, formsets, change) -> None:
        """No related rows."""

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:callbacks_apikey_created", args=[obj.pk]))

    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url, {"title": "Create an API key", **(extra_context or {})})

    def get_urls(self):
        return [
            path(
                "<uuid:key_id>/created/", self.admin_site.admin_view(self.created_view), name="callbacks_apikey_created"
            ),
            path("<uuid:key_id>/revoke/", self.admin_site.admin_view(self.revoke_view), name="callbacks_apikey_revoke"),
            *super().get_urls(),
        ]

    def created_view(self, request: HttpRequest, key_id):
        api_key = get_object_or_404(self.get_queryset(request), pk=key_id)
        raw_key = secret_pop(request, slot=f"apikey:{api_key.pk}")
        context = {
            **self.admin_site.each_context(request),
            "title": "API key created",
            "api_key": api_key,
            "raw_key": raw_key,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/callbacks/apikey/created.html", context)

    def revoke_view(self, request: HttpRequest, key_id):
        api_key = get_object_or_404(self.get_queryset(request), pk=key_id)
        if request.method != "POST" or not may_write(request):
            return HttpResponseRedirect(reverse("admin:callbacks_apikey_changelist"))
        api_key_revoke(api_key=api_key)
        messages.success(request, f"The key {api_key.prefix}_… is revoked.")
        return HttpResponseRedirect(reverse("admin:callbacks_apikey_changelist"))
