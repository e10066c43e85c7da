from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from reports.schedules import schedules_register

        post_migrate.connect(schedules_register, sender=self, dispatch_uid="reports.schedules_register")
