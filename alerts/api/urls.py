"""Routes of the alerts API, mounted under /api/v1/."""

from django.urls import path

from alerts.api.views import AlertListView, AlertSettingsView, TelegramLinkView, TelegramReacquireView

urlpatterns = [
    path("alert-settings/", AlertSettingsView.as_view(), name="alert-settings"),
    path("alert-settings/telegram/link/", TelegramLinkView.as_view(), name="alert-settings-link"),
    path("alert-settings/telegram/reacquire/", TelegramReacquireView.as_view(), name="alert-settings-reacquire"),
    path("alerts/", AlertListView.as_view(), name="alert-list"),
]
