"""`manage.py apikey_create --account <id or name> [--scopes read,write] [--expires-days N]`: prints the key once."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from callbacks.management.account_lookup import account_named
from callbacks.management.commands.account_create import validation_error_text
from callbacks.services.api_keys import api_key_create


class Command(BaseCommand):
    help = "Create an API key for an account and print it. It is shown this once and stored only hashed."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--account", required=True, help="The account's id (printed by account_create) or its exact name."
        )
        parser.add_argument("--scopes", default="read,write", help="Comma-separated: read, write (default both).")
        parser.add_argument(
            "--expires-days", type=int, default=None, help="Days until the key expires (default never)."
        )
        parser.add_argument("--name", default="", help="A label to recognise the key by.")

    def handle(self, *args, **options) -> None:
        account = account_named(options["account"])
        scopes = [scope.strip() for scope in options["scopes"].split(",") if scope.strip()]
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be 1 or more.")
        expires_at = timezone.now() + timedelta(days=days) if days is not None else None
        try:
            api_key, raw_key = api_key_create(
                account=account, scopes=scopes, name=options["name"], expires_at=expires_at
            )
        except ValidationError as error:
            raise CommandError(validation_error_text(error)) from error
        self.stderr.write(
            f"API key {api_key.prefix}… for “{account.name}”, scopes {','.join(api_key.scopes)}, "
            f"{'expires ' + api_key.expires_at.isoformat() if api_key.expires_at else 'no expiry'}. "
            "Store it now: it is not shown again."
        )
        self.stdout.write(raw_key)
