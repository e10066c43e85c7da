"""The "Configure events" screen: alert thresholds, receivers and the Telegram binding.

Saving goes through `alerts.services.settings.alert_settings_update`; the binding through
`alerts.telegram`. The screen only converts the form and shows the answers.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from alerts.selectors import alert_recipients_get, alert_settings_get, alerts_list
from alerts.services.settings import alert_settings_update
from alerts.telegram import telegram_binding_link, telegram_binding_reacquire, telegram_binding_state
from callbacks.admin_views.errors import service_errors_show
from callbacks.admin_views.scoping import account_current, account_required, may_write

OPEN_ALERTS_SHOWN = 6
NUMBER_INPUT = {"inputmode": "numeric", "class": "cc-number"}


class AlertSettingsForm(forms.Form):
    """Text boxes rather than number fields, so the service's own messages say what is wrong."""

    timeout_enabled = forms.BooleanField(required=False, label="Timeout without verification")
    timeout_minutes = forms.CharField(label="Minutes", widget=forms.TextInput(attrs=NUMBER_INPUT))
    rate_enabled = forms.BooleanField(required=False, label="Low verification rate")
    rate_min_percent = forms.CharField(label="Below (%)", widget=forms.TextInput(attrs=NUMBER_INPUT))
    balance_enabled = forms.BooleanField(required=False, label="Insufficient balance")
    balance_threshold_usd = forms.CharField(label="Below (USD)", widget=forms.TextInput(attrs=NUMBER_INPUT))
    telegram = forms.BooleanField(
        required=False, label="Telegram", widget=forms.CheckboxInput(attrs={"data-telegram-toggle": "cc-telegram-step"})
    )
    emails = forms.CharField(
        required=False,
        label="E-mail addresses",
        widget=forms.TextInput(attrs={"placeholder": "ops@example.com, oncall@example.com", "size": 60}),
        help_text="Comma-separated, at most 5.",
    )

    SERVICE_FIELDS = (
        "timeout_enabled",
        "timeout_minutes",
        "rate_enabled",
        "rate_min_percent",
        "balance_enabled",
        "balance_threshold_usd",
        "emails",
    )

    def service_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.SERVICE_FIELDS}


def _initial(account, binding) -> dict:
    alert_settings = alert_settings_get(account=account)
    recipients = alert_recipients_get(account=account)
    initial = {name: getattr(alert_settings, name) for name in AlertSettingsForm.SERVICE_FIELDS if name != "emails"}
    initial["emails"] = ", ".join(recipients.emails)
    # A link just issued keeps the Telegram step open.
    initial["telegram"] = recipients.telegram_chat_id is not None or binding.start_link is not None
    return initial


def configure_events_view(request: HttpRequest) -> HttpResponse:
    account = account_required(request)
    writer = may_write(request)
    binding = telegram_binding_state(account=account, show_link=writer)
    initial = _initial(account, binding)
    if request.GET.get("telegram") == "new":
        initial["telegram"] = True  # just reacquired: the new link is the next step
    form = AlertSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and writer and form.is_valid():
        try:
            alert_settings_update(account=account, **form.service_fields())
        except ValidationError as error:
            service_errors_show(form, error)
        else:
            messages.success(request, "Your alert settings are saved.")
            return HttpResponseRedirect(reverse("admin:alerts_configure"))
    context = {
        **admin.site.each_context(request),
        "title": "Configure events",
        "form": form,
        "may_write": writer,
        "binding": binding,
        "open_alerts": list(alerts_list(account=account, state="firing")[:OPEN_ALERTS_SHOWN]),
        "recent_alerts": list(alerts_list(account=account)[:10]),
    }
    return TemplateResponse(request, "admin/alerts/configure_events.html", context)


def telegram_binding_view(request: HttpRequest) -> JsonResponse:
    """The binding as the page polls it, so a chat bound meanwhile appears without a reload."""
    state = telegram_binding_state(account=account_required(request), show_link=may_write(request))
    return JsonResponse(
        {
            "bound": state.bound,
            "chat": state.chat_label or (str(state.chat_id) if state.chat_id else ""),
            "bound_at": state.bound_at.isoformat() if state.bound_at else None,
            "start_link": state.start_link,
        }
    )


def telegram_link_view(request: HttpRequest) -> HttpResponse:
    """Owners and admins issue the START BOT link; viewers are never shown one."""
    account = account_required(request)
    if request.method == "POST" and may_write(request):
        telegram_binding_link(account=account)
    return HttpResponseRedirect(reverse("admin:alerts_configure") + "#cc-telegram-step")


def telegram_reacquire_view(request: HttpRequest) -> HttpResponse:
    account = account_required(request)
    if request.method == "POST" and may_write(request):
        telegram_binding_reacquire(account=account)
        messages.success(request, "The previous chat is unbound. Open the new START BOT link to bind a chat.")
        # Telegram stays chosen, so the new START BOT link shows at once.
        return HttpResponseRedirect(reverse("admin:alerts_configure") + "?telegram=new")
    return HttpResponseRedirect(reverse("admin:alerts_configure"))


def open_alerts_panel_context(request: HttpRequest) -> dict | None:
    account = account_current(request)
    if account is None:
        return None
    return {"alerts": list(alerts_list(account=account, state="firing")[:OPEN_ALERTS_SHOWN])}
