"""`manage.py account_create --name … --admin-email … [--timezone …]`: prints the new account's id."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from callbacks.services.accounts import account_create


def validation_error_text(error: ValidationError) -> str:
    """One line per failing field, `field: message`, for a command-line user."""
    if hasattr(error, "error_dict"):
        return "\n".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    return " ".join(error.messages)


class Command(BaseCommand):
    help = "Create an account and print its id (use it with apikey_create --account)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True, help="The customer's name.")
        parser.add_argument("--admin-email", required=True, help="Receives failure notices by default.")
        parser.add_argument("--timezone", default="UTC", help="IANA time zone for reports (default UTC).")
        parser.add_argument("--balance", default="0.00", help="Balance in USD (default 0.00).")

    def handle(self, *args, **options) -> None:
        try:
            account = account_create(
                name=options["name"],
                admin_email=options["admin_email"],
                timezone=options["timezone"],
                balance_usd=options["balance"],
            )
        except ValidationError as error:
            raise CommandError(validation_error_text(error)) from error
        self.stdout.write(str(account.id))
