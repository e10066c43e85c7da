"""First start: a demo account and an administrator when there are none; the catalogue seeded."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from callbacks.models import Account, Membership
from callbacks.services.catalogue import event_types_sync

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Seed the event catalogue; create a demo account and an admin user if there is none."

    def handle(self, *args, **options) -> None:
        event_types_sync()
        User = get_user_model()
        with transaction.atomic():
            account = Account.objects.order_by("created_at").first()
            if account is None:
                account = Account.objects.create(name="Demo account", admin_email="admin@example.com", timezone="UTC")
                self.stdout.write(f"Created account “{account.name}” ({account.id}).")
            if User.objects.filter(is_superuser=True).exists():
                self.stdout.write("An administrator exists: sign in at the address below.")
                return
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username=ADMIN_USERNAME, email=account.admin_email, password=password)
            Membership.objects.get_or_create(user=user, account=account, defaults={"role": Membership.Role.OWNER})
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the administrator. Sign in with username “{ADMIN_USERNAME}” and password “{password}” "
                "(shown once; change it with `python manage.py changepassword admin`)."
            )
        )
