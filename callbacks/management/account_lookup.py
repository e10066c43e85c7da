"""Which account a command's `--account` names: its id, or else its exact name."""

from __future__ import annotations

import uuid

from django.core.management.base import CommandError

from callbacks.models import Account

ACCOUNTS_LISTED = 10


def account_named(given: str) -> Account:
    """The account whose id, or else whose exact name, is `given`; a CommandError listing the accounts
    (id and name) when there is none, or naming each one when several share the name."""
    try:
        found = Account.objects.filter(pk=uuid.UUID(given)).first()
    except ValueError:
        found = None
    if found is not None:
        return found
    named = list(Account.objects.filter(name=given.strip())[: ACCOUNTS_LISTED + 1])
    if len(named) == 1:
        return named[0]
    if named:
        raise CommandError(
            f"{len(named) if len(named) <= ACCOUNTS_LISTED else 'Several'} accounts are named “{given.strip()}”: "
            f"give the id of one.\n{_listed(named)}"
        )
    accounts = list(Account.objects.all()[: ACCOUNTS_LISTED + 1])
    there = f"The accounts:\n{_listed(accounts)}" if accounts else "There is no account yet: see account_create."
    raise CommandError(f"No account with id or name “{given}”. {there}")


def _listed(accounts: list[Account]) -> str:
    lines = [f"  {account.id}  {account.name}" for account in accounts[:ACCOUNTS_LISTED]]
    if len(accounts) > ACCOUNTS_LISTED:
        lines.append("  …")
    return "\n".join(lines)
