"""Callbacks: the profiles list (status, statistics, Refresh, Enable / Disable) and the
"Configure a callback" form. Every change goes through `callbacks.services.profiles`; Refresh
through the engine's connectivity test."""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from callbacks.admin_views.filters import DateRangeFilter
from callbacks.admin_views.profile_form import SECRET_FIELDS, CallbackProfileForm
from callbacks.admin_views.profile_list import (
    REFRESH_REFUSED,
    HealthFilter,
    actions_block,
    delete_prompt,
    statistics_block,
    status_block,
)
from callbacks.admin_views.profile_page import trigger_curl
from callbacks.admin_views.reveal import secret_pop, secret_stash
from callbacks.admin_views.scoping import AccountScopedAdmin, account_required, may_write
from callbacks.admin_views.selectors import profile_event_counts
from callbacks.models import CallbackProfile
from callbacks.selectors.health import health_state
from callbacks.services.connectivity import profile_test
from callbacks.services.profiles import profile_delete, profile_public_keys, profile_signing_key_rotate

logger = logging.getLogger(__name__)

FIELDSETS = (
    ("Callback", {"fields": ["name", "description", "url", "http_method"]}),
    ("Headers", {"fields": ["headers"]}),
    ("Body", {"fields": ["body_type", "body_template"]}),
    ("Authentication", {"fields": ["auth_username", "auth_password", "auth_header"]}),
    ("Signing", {"fields": ["sign_standard_webhooks", "sign_v1a", "sign_md5", "md5_salt"]}),
    (
        "Parameter encryption",
        {
            "fields": [
                "encryption_cipher",
                "encryption_key",
                "encryption_iv_random",
                "encryption_iv",
                "encryption_fields",
            ]
        },
    ),
    ("Events to send", {"fields": ["event_types"]}),
    ("Failure notices", {"fields": ["failure_notice_emails"]}),
    (
        "Delivery",
        {
            "classes": ["collapse"],
            "fields": [
                "response_contract",
                ("batch_max_size", "batch_max_wait_ms"),
                # One a line: a fieldset opens on its own errors only for fields named at its top level.
                "ordering",
                "ordering_key_path",
                ("connect_timeout_s", "response_timeout_s"),
                "retry_schedule_s",
                "max_in_flight",
            ],
        },
    ),
)


def _secret_shown_name(field):
    if isinstance(field, tuple | list):
        return tuple(_secret_shown_name(item) for item in field)
    return f"{field}_state" if field in SECRET_FIELDS else field


def _secret_state(field: str, label: str):
    @admin.display(description=label)
    def shown(self, obj: CallbackProfile) -> str:
        return "● set" if getattr(obj, field) else "not set"

    return shown


class CallbackProfileAdmin(AccountScopedAdmin):
    form = CallbackProfileForm
    fieldsets = FIELDSETS
    change_form_template = "admin/callbacks/callbackprofile/change_form.html"
    list_display = ["callback", "address", "statistics", "row_actions"]
    list_display_links = None
    list_filter = [HealthFilter, "http_method", ("created_at", DateRangeFilter)]
    actions = ["delete_selected_callbacks"]
    search_fields = ["name", "description", "url"]
    search_help_text = "Search by name, description or address."
    empty_list_text = "No callbacks yet: add one to start receiving events."
    list_per_page = 25

    auth_password_state = _secret_state("auth_password", "Password")
    auth_header_state = _secret_state("auth_header", "Authorization")
    md5_salt_state = _secret_state("md5_salt", "MD5 security salt")
    encryption_key_state = _secret_state("encryption_key", "Key")

    # --- the list ------------------------------------------------------------------------------------
    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        return ["account", *columns] if request.user.is_superuser else columns

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        return [*filters, "account"] if request.user.is_superuser else filters

    def changelist_view(self, request: HttpRequest, extra_context=None):
        self._request = request
        self._writer = may_write(request)
        context = {
            "title": "Callbacks",
            "health_url": reverse("admin:callbacks_callbackprofile_health"),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        self._counts = profile_event_counts(profile_ids=[profile.pk for profile in changelist.result_list])
        return changelist

    @admin.display(description="Callback", ordering="name")
    def callback(self, obj: CallbackProfile) -> str:
        return format_html(
            '<a class="cc-title" href="{}">{}</a><span class="cc-reason">{}</span>',
            reverse("admin:callbacks_callbackprofile_change", args=[obj.pk]),
            obj.name,
            obj.description,
        )

    @admin.display(description="Address and status")
    def address(self, obj: CallbackProfile) -> str:
        return format_html(
            '<span class="cc-method">{}</span><span class="cc-address">{}</span><br>{}',
            obj.http_method,
            obj.url,
            status_block(obj),
        )

    @admin.display(description="Event statistics")
    def statistics(self, obj: CallbackProfile) -> str:
        return statistics_block(getattr(self, "_counts", {}).get(obj.pk))

    @admin.display(description="")
    def row_actions(self, obj: CallbackProfile) -> str:
        return actions_block(obj, writer=getattr(self, "_writer", False))

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # Django's own page lists rows; ours says what stops
        return actions

    @admin.action(description="Delete the selected callbacks", permissions=["delete"])
    def delete_selected_callbacks(self, request: HttpRequest, queryset):
        """Ask first with our own words, then delete each (a soft delete, history kept)."""
        profiles = list(queryset.order_by("name"))
        if request.POST.get("confirmed") == "yes":
            for profile in profiles:
                profile_delete(profile=profile)
            messages.success(request, _deleted_message(profiles))
            return None
        return self._delete_confirmation(request, profiles, bulk=True)

    def delete_view(self, request: HttpRequest, object_id, extra_context=None):
        """Our own confirmation ("Delete X? Nothing more will be sent to …"), never Django's page."""
        profile = self.get_object(request, unquote(object_id))
        if not self.has_delete_permission(request, profile):
            raise PermissionDenied
        if request.method == "POST":
            profile_delete(profile=profile)
            messages.success(request, _deleted_message([profile]))
            return HttpResponseRedirect(reverse("admin:callbacks_callbackprofile_changelist"))
        return self._delete_confirmation(request, [profile], bulk=False)

    def _delete_confirmation(self, request: HttpRequest, profiles: list[CallbackProfile], *, bulk: bool):
        if len(profiles) == 1:
            prompt = delete_prompt(profiles[0])
        else:
            prompt = f"Delete {len(profiles)} callbacks? Nothing more will be sent to their addresses."
        context = {
            **self.admin_site.each_context(request),
            "title": "Delete callback" if len(profiles) == 1 else "Delete callbacks",
            "opts": self.opts,
            "profiles": profiles,
            "prompt": prompt,
            "bulk": bulk,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "cancel_url": reverse("admin:callbacks_callbackprofile_changelist"),
        }
        return TemplateResponse(request, "admin/callbacks/callbackprofile/delete.html", context)

    # --- the form -------------------------------------------------------------------------------------
    def get_fieldsets(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return super().get_fieldsets(request, obj)
        # Looking without changing: secrets show only whether they are set, never their value.
        return [
            (name, {**options, "fields": [_secret_shown_name(field) for field in options["fields"]]})
            for name, options in super().get_fieldsets(request, obj)
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        account = obj.account if obj is not None else account_required(request)
        operator = request.user.is_superuser

        class AccountForm(form_class):
            def __init__(self, *args, **form_kwargs):
                super().__init__(*args, account=account, operator=operator, **form_kwargs)

        return AccountForm

    def save_form(self, request, form, change):
        profile, revealed_secret = form.service_save()
        if revealed_secret:
            secret_stash(request, slot=f"profile:{profile.pk}", value=revealed_secret)
        return profile

    def save_model(self, request, obj, form, change) -> None:
        """Saved by the profiles service in `save_form`."""

    def save_related(self, request, form, formsets, change) -> None:
        """Subscriptions are saved by the profiles service with the profile."""

    def response_add(self, request, obj, post_url_continue=None):
        messages.success(request, f"The callback “{obj.name}” is saved.")
        return HttpResponseRedirect(reverse("admin:callbacks_callbackprofile_change", args=[obj.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["title"] = "Callback"
        context["subtitle"] = obj.name if obj else "New callback"
        if obj is not None:
            context["revealed_secret"] = secret_pop(request, slot=f"profile:{obj.pk}")
            context["signing_secret_set"] = bool(obj.signing_secret)
            context["rotate_url"] = reverse("admin:callbacks_callbackprofile_rotate", args=[obj.pk])
            context["previous_secret_expires_at"] = obj.previous_signing_secret_expires_at
            context["sign_v1a"] = obj.sign_v1a
            context["public_key"], context["retired_public_keys"] = profile_public_keys(obj)
            context["rotate_key_url"] = reverse("admin:callbacks_callbackprofile_rotate_key", args=[obj.pk])
            context["trigger_curl"] = trigger_curl(request=request, profile=obj)
            context["health_block"] = status_block(obj)
            context["deliveries_url"] = f"{reverse('admin:callbacks_delivery_changelist')}?profile={obj.pk}"
        context["account_name"] = obj.account.name if obj else account_required(request).name
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- row actions -----------------------------------------------------------------------------------
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("health/", wrap(self.health_view), name="callbacks_callbackprofile_health"),
            path("<uuid:profile_id>/refresh/", wrap(self.refresh_view), name="callbacks_callbackprofile_refresh"),
            path("<uuid:profile_id>/status/", wrap(self.status_view), name="callbacks_callbackprofile_status"),
            path("<uuid:profile_id>/rotate/", wrap(self.rotate_view), name="callbacks_callbackprofile_rotate"),
            path(
                "<uuid:profile_id>/rotate-key/", wrap(self.rotate_key_view), name="callbacks_callbackprofile_rotate_key"
            ),
            *super().get_urls(),
        ]

    def _profile(self, request: HttpRequest, profile_id) -> CallbackProfile:
        return get_object_or_404(self.get_queryset(request), pk=profile_id)

    def refresh_view(self, request: HttpRequest, profile_id):
        """Run the connectivity test; answer the new status as JSON for the row to show."""
        profile = self._profile(request, profile_id)
        if request.method != "POST":
            return JsonResponse({"error": "POST only"}, status=405)
        if not may_write(request):
            return JsonResponse({"error": REFRESH_REFUSED}, status=403)
        result = profile_test(profile=profile)
        profile.refresh_from_db()
        return JsonResponse(
            {
                "status": profile.status,
                "status_label": profile.get_status_display(),
                "status_reason": profile.status_reason,
                "health": health_state(profile),
                "html": str(status_block(profile)),
                "ok": result.ok,
                "detail": _test_summary(result),
            }
        )

    def health_view(self, request: HttpRequest):
        """The status cells of the listed callbacks (`?id=…&id=…`), for the list to keep its pills current."""
        ids = request.GET.getlist("id")[: self.list_per_page]
        try:
            profiles = list(self.get_queryset(request).filter(pk__in=ids))
        except ValidationError:
            return JsonResponse({"error": "Give callback ids."}, status=400)
        return JsonResponse({"cells": {str(profile.pk): str(status_block(profile)) for profile in profiles}})

    def status_view(self, request: HttpRequest, profile_id):
        profile = self._profile(request, profile_id)
        if request.method == "POST" and may_write(request):
            from callbacks.services.profiles import profile_status_set

            try:
                profile_status_set(profile=profile, status=request.POST.get("status", ""))
                verb = "enabled" if request.POST.get("status") == "enabled" else "disabled"
                messages.success(request, f"“{profile.name}” is {verb}.")
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
        return HttpResponseRedirect(reverse("admin:callbacks_callbackprofile_changelist"))

    def rotate_view(self, request: HttpRequest, profile_id):
        profile = self._profile(request, profile_id)
        change_url = reverse("admin:callbacks_callbackprofile_change", args=[profile.pk])
        if request.method == "POST" and may_write(request):
            from callbacks.services.profiles import profile_secret_rotate

            secret = profile_secret_rotate(profile=profile)
            secret_stash(request, slot=f"profile:{profile.pk}", value=secret)
            messages.success(request, "A new signing secret is in use; the previous one also signs for 24 hours.")
        return HttpResponseRedirect(change_url)

    def rotate_key_view(self, request: HttpRequest, profile_id):
        profile = self._profile(request, profile_id)
        if request.method == "POST" and may_write(request):
            try:
                profile_signing_key_rotate(profile=profile)
                messages.success(
                    request,
                    "A new signing key is in use; the previous one also signs for 24 hours. Give your "
                    "receivers the new public key.",
                )
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
        return HttpResponseRedirect(reverse("admin:callbacks_callbackprofile_change", args=[profile.pk]))


def _deleted_message(profiles: list[CallbackProfile]) -> str:
    if len(profiles) == 1:
        return f"“{profiles[0].name}” is deleted: nothing more is sent to it. Its history stays in the delivery log."
    return f"{len(profiles)} callbacks are deleted: nothing more is sent to them. Their history stays in the log."


def _test_summary(result) -> str:
    """One line on the connectivity test's answer, for the button's tooltip."""
    answer = f"HTTP {result.status_code}" if result.status_code else (result.error_class or "no answer")
    return f"{answer} in {result.duration_ms} ms" + (f": {result.error_detail}" if result.error_detail else "")
