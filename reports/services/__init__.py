"""Services of the reports app: settings (for the API and the admin screens) and sending."""

from reports.services.sending import report_claim, report_periods_due, report_send, reports_send_due
from reports.services.subscriptions import report_settings_get, report_settings_update

__all__ = [
    "report_claim",
    "report_periods_due",
    "report_send",
    "report_settings_get",
    "report_settings_update",
    "reports_send_due",
]
