"""Services of the reports app: settings (for the API and the admin screens) and sending."""

from reports.services.subscriptions import report_settings_get, report_settings_update

__all__ = ["report_settings_get", "report_settings_update"]
