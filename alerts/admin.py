"""Alerts in the screens: the "Configure events" page and the open alerts on the dashboard."""

from django.contrib import admin

from alerts.admin_views import (
    configure_events_view,
    open_alerts_panel_context,
    telegram_binding_view,
    telegram_link_view,
    telegram_reacquire_view,
)

admin.site.view_add("alerts/configure/", configure_events_view, "alerts_configure")
admin.site.view_add("alerts/configure/telegram/", telegram_binding_view, "alerts_telegram_binding")
admin.site.view_add("alerts/configure/telegram/link/", telegram_link_view, "alerts_telegram_link")
admin.site.view_add("alerts/configure/telegram/reacquire/", telegram_reacquire_view, "alerts_telegram_reacquire")
admin.site.nav_add("Configure events", "admin:alerts_configure", 30)
admin.site.panel_add("admin/alerts/panel_open_alerts.html", open_alerts_panel_context, 30)
