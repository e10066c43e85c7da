"""Routes of the reports API, mounted under /api/v1/."""

from django.urls import path

from reports.api.views import ReportDetailView, ReportListView, ReportSettingsView

urlpatterns = [
    path("report-settings/", ReportSettingsView.as_view(), name="report-settings"),
    path("reports/", ReportListView.as_view(), name="report-list"),
    path("reports/<str:report_id>/", ReportDetailView.as_view(), name="report-detail"),
]
