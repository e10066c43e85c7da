"""Reports in the screens: settings, history, one report with its chart."""

from django.contrib import admin

from reports.admin_views import report_chart_view, report_csv_view, report_detail_view, reports_view

admin.site.view_add("reports/", reports_view, "reports_home")
admin.site.view_add("reports/<uuid:report_id>/", report_detail_view, "reports_detail")
admin.site.view_add("reports/<uuid:report_id>/chart.png", report_chart_view, "reports_chart")
admin.site.view_add("reports/<uuid:report_id>/csv/", report_csv_view, "reports_csv")
admin.site.nav_add("Reports", "admin:reports_home", 40)
