"""`manage.py secrets_reencrypt`: every stored secret re-encrypted under the first FIELD_ENCRYPTION_KEYS key.

Rotation: put a new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), run this, then
drop the old keys. Values stored in plain text (from before encryption) are encrypted too.
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import TextField, Value
from django.db.models.functions import Cast

from callbacks.fields import EncryptedTextField, secret_reencrypt

BATCH_SIZE = 500


def encrypted_fields() -> list[tuple[type, str]]:
    """Every (model, field name) of the project stored as an EncryptedTextField."""
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options) -> None:
        failures: list[str] = []
        for model, field_name in encrypted_fields():
            rewritten = 0
            # Cast to a plain text column: read the stored token, not the decrypted value.
            rows = (
                model._default_manager.exclude(**{field_name: ""})
                .exclude(**{f"{field_name}__isnull": True})
                .annotate(stored=Cast(field_name, TextField()))
                .values_list("pk", "stored")
            )
            batch: list[tuple[object, str]] = []
            for pk, stored in rows.iterator(chunk_size=BATCH_SIZE):
                try:
                    batch.append((pk, secret_reencrypt(stored)))
                except InvalidToken:
                    failures.append(f"{model._meta.label}.{field_name} pk={pk}")
                if len(batch) >= BATCH_SIZE:
                    rewritten += self._write(model, field_name, batch)
                    batch = []
            rewritten += self._write(model, field_name, batch)
            self.stdout.write(f"{model._meta.label}.{field_name}: {rewritten} re-encrypted")
        if failures:
            raise CommandError(
                "These secrets cannot be decrypted with any key of FIELD_ENCRYPTION_KEYS "
                f"(was a key removed?): {', '.join(failures)}"
            )

    @staticmethod
    def _write(model: type, field_name: str, batch: list[tuple[object, str]]) -> int:
        with transaction.atomic():
            for pk, token in batch:
                # A Value with a plain text type is written as is, not encrypted a second time.
                model._default_manager.filter(pk=pk).update(**{field_name: Value(token, output_field=TextField())})
        return len(batch)
