"""The delivery log: search, filters, one delivery with its attempts, Retry, and Replay a range.

Retry and replay are `callbacks.services.deliveries`'s; the screens only ask and show."""

from __future__ import annotations

import json
import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from callbacks import event_types
from callbacks.admin_views.accounts import status_mark
from callbacks.admin_views.errors import service_errors_show
from callbacks.admin_views.filters import RecentFilter, filter_titled
from callbacks.admin_views.scoping import AccountScopedAdmin, account_required, may_write
from callbacks.models import CallbackProfile, Delivery
from callbacks.selectors.deliveries import deliveries_waiting
from callbacks.selectors.replays import replay_job_get, replay_job_list
from callbacks.services.deliveries import delivery_retry
from callbacks.services.replays import REPLAYABLE_STATES, deliveries_replay
from callbacks.text_checks import DATE_RANGE_MESSAGE, date_in_range

SEARCH_PAYLOAD_KEYS = ("message_id", "phone", "from", "to", "mobile")
# Deliveries that ended without reaching the receiver: the list offers Retry now beside them.
RETRY_FROM_LIST_STATES = (Delivery.State.FAILED, Delivery.State.CANCELLED)


def waiting_text(key: str) -> str:
    return f"waiting for an earlier delivery of key {key}"


class ProfileFilter(admin.SimpleListFilter):
    title = "callback"
    parameter_name = "profile"

    def lookups(self, request, model_admin):
        profiles = CallbackProfile.all_objects.all()  # a deleted callback's history is still in the log
        if not request.user.is_superuser:
            profiles = profiles.filter(account=account_required(request))
        rows = profiles.order_by(F("deleted_at").asc(nulls_first=True), "name").values_list("pk", "name", "deleted_at")[
            :100
        ]
        return [(str(pk), f"{name} (deleted callback)" if deleted_at else name) for pk, name, deleted_at in rows]

    def queryset(self, request, queryset):
        try:
            profile_id = uuid.UUID(self.value()) if self.value() else None
        except ValueError:
            profile_id = None  # a malformed id in the address filters nothing
        return queryset.filter(profile_id=profile_id) if profile_id else queryset


class EventTypeFilter(admin.SimpleListFilter):
    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        return [(spec.code, f"{spec.label} ({spec.code})") for spec in event_types.REGISTRY]

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset


class _LogChangeList(ChangeList):
    """The log is not counted a second time for a "total" (`show_full_result_count` off). Unfiltered, the
    count it has is the total: said so, the search bar shows no "Show all" of what is already all shown."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        if self.full_result_count is None and not (self.query or self.has_active_filters):
            self.full_result_count = self.result_count


class DeliveryAdmin(AccountScopedAdmin):
    list_display = ["created", "event_type_shown", "callback", "state_shown", "attempts", "last_answer", "row_actions"]
    list_display_links = ["created"]
    list_filter = [
        ("state", filter_titled(admin.ChoicesFieldListFilter, "status")),
        ProfileFilter,
        EventTypeFilter,
        RecentFilter,
    ]
    search_fields = ["event_type"]
    search_help_text = "Search by event id, delivery id or webhook-id (a batch's), message id or phone number."
    empty_list_text = (
        "No deliveries yet. Each event sent to one of your callbacks shows up here, with the request of each "
        "attempt and the answer it got."
    )
    list_select_related = ["profile", "event"]
    list_per_page = 50
    actions = None
    show_full_result_count = False
    change_form_template = "admin/callbacks/delivery/detail.html"

    def get_changelist(self, request: HttpRequest, **kwargs):
        return _LogChangeList

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            identifier = uuid.UUID(term)
        except ValueError:
            match = Q()
            for key in SEARCH_PAYLOAD_KEYS:
                match |= Q(**{f"event__payload__{key}": term})
            return queryset.filter(match), False
        # A batch's webhook-id, as a receiver reports it, finds every delivery of the batch.
        return queryset.filter(Q(event_id=identifier) | Q(pk=identifier) | Q(batch_id=identifier)), False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        self._writer = may_write(request)
        context = {"title": "Delivery log", "may_write": self._writer, **(extra_context or {})}
        response = super().changelist_view(request, context)
        changelist = getattr(response, "context_data", {}).get("cl")
        # Rendered after this returns: which rows wait for their key, in one query for the page.
        self._waiting = deliveries_waiting(list(changelist.result_list)) if changelist is not None else {}
        return response

    @admin.display(description="Time", ordering="created_at")
    def created(self, obj: Delivery) -> str:
        return obj.created_at.strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="Event", ordering="event_type")
    def event_type_shown(self, obj: Delivery) -> str:
        payload = obj.event.payload or {}
        detail = payload.get("message_id") or payload.get("phone") or ""
        return format_html(
            '{} <code>{}</code><span class="cc-reason">{}</span>',
            event_types.label_of(obj.event_type),
            obj.event_type,
            detail,
        )

    @admin.display(description="Callback")
    def callback(self, obj: Delivery) -> str:
        return str(obj.profile)  # "Orders (deleted callback)" once deleted

    @admin.display(description="Status", ordering="state")
    def state_shown(self, obj: Delivery) -> str:
        key = getattr(self, "_waiting", {}).get(obj.pk)
        if key is None:
            return status_mark(obj.state, obj.get_state_display())
        return format_html(
            '{}<span class="cc-reason" data-testid="waiting-for-key">{}</span>',
            status_mark(obj.state, obj.get_state_display()),
            waiting_text(key),
        )

    @admin.display(description="Attempts", ordering="attempt_count")
    def attempts(self, obj: Delivery) -> int:
        return obj.attempt_count

    @admin.display(description="Last answer")
    def last_answer(self, obj: Delivery) -> str:
        if obj.last_status_code:
            return format_html('<span class="cc-mono">HTTP {}</span>', obj.last_status_code)
        return obj.last_error_class or "—"

    @admin.display(description="")
    def row_actions(self, obj: Delivery) -> str:
        details = format_html(
            '<a class="cc-button" href="{}">Details</a>', reverse("admin:callbacks_delivery_change", args=[obj.pk])
        )
        if not getattr(self, "_writer", False) or obj.state not in RETRY_FROM_LIST_STATES:
            return format_html('<div class="cc-row-actions">{}</div>', details)
        # A button of the changelist's own form (forms cannot nest): it posts there with its CSRF token.
        return format_html(
            '<div class="cc-row-actions">{}<button type="submit" class="cc-button" formaction="{}" formmethod="post" '
            'name="back" value="list">Retry now</button></div>',
            details,
            reverse("admin:callbacks_delivery_retry", args=[obj.pk]),
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("replay/", wrap(self.replay_view), name="callbacks_delivery_replay"),
            path("replay/<uuid:job_id>/", wrap(self.replay_job_view), name="callbacks_delivery_replay_job"),
            path("<uuid:delivery_id>/retry/", wrap(self.retry_view), name="callbacks_delivery_retry"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        offer = self.switch_offer(request, object_id)
        if offer is not None:
            return offer
        delivery = self.get_object(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": "Delivery",
            "event_json": json.dumps(delivery.event.payload, indent=2, ensure_ascii=False),
            "delivery": delivery,
            "event_label": event_types.label_of(delivery.event_type),
            "attempts": delivery.attempts.order_by("number"),
            "waiting": waiting_text(key) if (key := deliveries_waiting([delivery]).get(delivery.pk)) else "",
            "may_write": may_write(request),
            "opts": self.opts,
        }
        return TemplateResponse(request, self.change_form_template, context)

    def retry_view(self, request: HttpRequest, delivery_id):
        delivery = get_object_or_404(self.get_queryset(request), pk=delivery_id)
        if request.method == "POST" and may_write(request):
            try:
                delivery_retry(delivery=delivery)
                messages.success(request, "The delivery is queued to be sent again now.")
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
        if request.POST.get("back") == "list":
            return HttpResponseRedirect(reverse("admin:callbacks_delivery_changelist"))
        return HttpResponseRedirect(reverse("admin:callbacks_delivery_change", args=[delivery.pk]))

    def replay_view(self, request: HttpRequest):
        account = account_required(request)
        form = ReplayForm(request.POST or None, account=account)
        context = {
            **self.admin_site.each_context(request),
            "title": "Replay deliveries",
            "form": form,
            "opts": self.opts,
            "count": None,
            "jobs": replay_job_list(account=account)[:5],
        }
        if request.method == "POST" and may_write(request) and form.is_valid():
            arguments = form.service_arguments()
            try:
                if request.POST.get("confirm") == form.fingerprint():
                    outcome = deliveries_replay(account=account, dry_run=False, **arguments)
                    if outcome.job is not None:
                        messages.success(request, f"{outcome.count:,} deliveries are being queued again.")
                        return HttpResponseRedirect(
                            reverse("admin:callbacks_delivery_replay_job", args=[outcome.job.pk])
                        )
                    replayed = outcome.count
                    messages.success(request, f"{replayed} deliver{'y' if replayed == 1 else 'ies'} queued again.")
                    return HttpResponseRedirect(reverse("admin:callbacks_delivery_changelist"))
                outcome = deliveries_replay(account=account, dry_run=True, **arguments)
                context["count"], context["limit"] = outcome.count, outcome.limit
                context["fingerprint"] = form.fingerprint()
            except ValidationError as error:
                service_errors_show(form, error, {"since": "created_after", "until": "created_before"})
        return TemplateResponse(request, "admin/callbacks/delivery/replay.html", context)

    def replay_job_view(self, request: HttpRequest, job_id):
        """A background replay's progress (the page reloads itself until the job is over)."""
        job = replay_job_get(account=account_required(request), job_id=job_id)
        if job is None:
            raise Http404
        context = {
            **self.admin_site.each_context(request),
            "title": "Replay in the background",
            "job": job,
            "running": job.status in (job.Status.QUEUED, job.Status.RUNNING),
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/callbacks/delivery/replay_job.html", context)


def date_range_validate(value) -> None:
    if not date_in_range(value):
        raise ValidationError(DATE_RANGE_MESSAGE)


class ReplayForm(forms.Form):
    """Which deliveries to send again: a callback, a time range and the states to include."""

    profile = forms.ModelChoiceField(queryset=CallbackProfile.objects.none(), label="Callback")
    created_after = forms.DateTimeField(
        label="From",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        validators=[date_range_validate],
    )
    created_before = forms.DateTimeField(
        label="To",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        validators=[date_range_validate],
    )
    state = forms.ChoiceField(
        label="Deliveries that are",
        choices=[(state, Delivery.State(state).label) for state in REPLAYABLE_STATES],
        initial=Delivery.State.FAILED,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, account, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["profile"].queryset = CallbackProfile.objects.filter(account=account).order_by("name")

    def service_arguments(self) -> dict:
        return {
            "profile": self.cleaned_data["profile"],
            "since": self.cleaned_data["created_after"],
            "until": self.cleaned_data["created_before"],
            "state": self.cleaned_data["state"],
        }

    def fingerprint(self) -> str:
        """The confirmation names exactly the range that was counted."""
        data = self.service_arguments()
        return "|".join([str(data["profile"].pk), data["since"].isoformat(), data["until"].isoformat(), data["state"]])
