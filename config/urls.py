"""Top-level routes: the admin (the configuration screens), the API, its schema, health, metrics."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from alerts.webhook import telegram_webhook
from callbacks.api.operations import metrics_view
from config.health import healthz

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("callbacks.api.urls")),
    path("api/v1/", include("alerts.api.urls")),
    path("api/v1/", include("reports.api.urls")),
    path("telegram/webhook/", telegram_webhook, name="telegram-webhook"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its script as a file, so the docs pass the Content-Security-Policy.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
]

handler400 = "callbacks.api.errors.bad_request"
handler404 = "callbacks.api.errors.not_found"
