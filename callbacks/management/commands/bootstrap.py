"""First start: the catalogue seeded; a demo account, an operator and the demo account's owner when missing.

The new logins are printed last, in a box; with `--logins-later` they wait in a file for `serve`,
which prints them once the server is up (what `make run` does).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from callbacks.management.first_run import Login, logins_box, logins_file_default, logins_save
from callbacks.models import Account, Membership
from callbacks.services.catalogue import event_types_sync

ADMIN_USERNAME = "admin"
OWNER_USERNAME = "owner"


class Command(BaseCommand):
    help = "Seed the event catalogue; create a demo account, an operator and the account's owner if missing."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--logins-later", action="store_true", help="Keep the new logins for `serve` to print once it is up."
        )
        parser.add_argument(
            "--logins-file", type=Path, default=None, help="Where they wait (default: .first-run-logins)."
        )
        parser.add_argument("--address", default="http://127.0.0.1:8000/admin/", help="Where to sign in, for the box.")

    def handle(self, *args, logins_later: bool, logins_file: Path | None, address: str, **options) -> None:
        event_types_sync()
        with transaction.atomic():
            account = Account.objects.order_by("created_at").first()
            if account is None:
                account = Account.objects.create(name="Demo account", admin_email="admin@example.com", timezone="UTC")
                self.stdout.write(f"Created account “{account.name}” ({account.id}).")
            logins = [*self._operator_ensure(account), *self._owner_ensure(account)]
        if logins_later:
            logins_save(logins, logins_file or logins_file_default())
            if logins:
                self.stdout.write("The new logins are printed once the server is up.")
            return
        self.stdout.write(self.style.SUCCESS(logins_box(address=address, logins=logins)))

    def _operator_ensure(self, account: Account) -> list[Login]:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return []
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=ADMIN_USERNAME, email=account.admin_email, password=password)
        Membership.objects.get_or_create(user=user, account=account, defaults={"role": Membership.Role.OWNER})
        return [Login("Operator (every account)", ADMIN_USERNAME, password)]

    def _owner_ensure(self, account: Account) -> list[Login]:
        """A customer's own login, so the customer's view is one sign-in away."""
        owners = Membership.objects.filter(account=account, role=Membership.Role.OWNER, user__is_superuser=False)
        if owners.exists():
            return []
        User = get_user_model()
        username = OWNER_USERNAME
        suffix = 1
        while User.objects.filter(username=username).exists():
            suffix += 1
            username = f"{OWNER_USERNAME}{suffix}"
        password = secrets.token_urlsafe(12)
        user = User.objects.create_user(
            username=username, email=f"{username}@example.com", password=password, is_staff=True
        )
        Membership.objects.create(user=user, account=account, role=Membership.Role.OWNER)
        return [Login(f"Customer (owner of “{account.name}”)", username, password)]
