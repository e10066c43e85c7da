"""Which accounts a signed-in user may act for. Every query of customer data goes through here."""

from __future__ import annotations

from django.db.models import QuerySet

from callbacks.models import Account


def accounts_for_user(user) -> QuerySet[Account]:
    if not user.is_authenticated:
        return Account.objects.none()
    if user.is_superuser:
        return Account.objects.all()
    return Account.objects.filter(memberships__user=user)
