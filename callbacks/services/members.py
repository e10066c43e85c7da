"""Members of an account: invited by e-mail with a role, their role changed, removed.

An invitation creates the user when the address is new (a staff user without a password) and
e-mails a link to set one; nobody ever fills in Django's user forms. Every account keeps an owner.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from callbacks.models import Account, Membership

logger = logging.getLogger(__name__)

ROLES_GRANTED_BY = {
    Membership.Role.OWNER: {Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.VIEWER},
    Membership.Role.ADMIN: {Membership.Role.ADMIN, Membership.Role.VIEWER},
}


def welcome_link(*, user) -> str:
    """The address of the page where `user` sets a password; it works once (Django's token generator)."""
    path = reverse(
        "admin:welcome", args=[urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)]
    )
    return f"{settings.SITE_URL}{path}"


def _role_check(*, role: str, granted_by: str | None) -> None:
    if role not in Membership.Role.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(Membership.Role.labels)}."})
    # None: an operator, who may grant any role.
    if granted_by is not None and role not in ROLES_GRANTED_BY.get(granted_by, set()):
        raise ValidationError({"role": "Only an owner may make someone an owner."})


def member_invite(*, account: Account, email: str, role: str, granted_by: str | None = None) -> Membership:
    """Add the person with `email` to `account` with `role` and e-mail them how to sign in.

    `granted_by` is the inviter's role (None for an operator). A new address gets a user without a
    password and a link to set one; a known one gets a link to sign in. `invitation_sent` on the
    answer says whether the mail server took the e-mail."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": f"“{email}” is not a valid e-mail address."}) from None
    _role_check(role=role, granted_by=granted_by)
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).order_by("pk").first()
        if user is None:
            user = User.objects.filter(username__iexact=email).first()
        if user is None:
            user = User(username=email, email=email, is_staff=True)
            user.set_unusable_password()
            user.save()
        elif not user.is_staff:
            user.is_staff = True  # a member signs in to the screens, which only staff users may
            user.save(update_fields=["is_staff"])
        if Membership.objects.filter(user=user, account=account).exists():
            raise ValidationError({"email": f"{email} is already a member of {account.name}."})
        membership = Membership.objects.create(user=user, account=account, role=role)
    try:
        _invitation_send(membership=membership)
        membership.invitation_sent = True
    except Exception:  # the mail server refused: the member stays, the screen says the e-mail did not go
        logger.exception("member.invitation_not_sent", extra={"account_id": str(account.pk)})
        membership.invitation_sent = False
    logger.info("member.invited", extra={"account_id": str(account.pk), "role": role})
    return membership


def _invitation_send(*, membership: Membership) -> None:
    user = membership.user
    sign_in = f"{settings.SITE_URL}{reverse('admin:login')}"
    context = {
        "account": membership.account,
        "role": membership.get_role_display(),
        "link": sign_in if user.has_usable_password() else welcome_link(user=user),
        "has_password": user.has_usable_password(),
        "username": user.get_username(),
    }
    send_mail(
        subject=f"You are invited to {membership.account.name} on Callback Center",
        message=render_to_string("emails/member_invite.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )


def _owner_kept(*, membership: Membership) -> None:
    others = Membership.objects.filter(account=membership.account, role=Membership.Role.OWNER).exclude(pk=membership.pk)
    if membership.role == Membership.Role.OWNER and not others.exists():
        raise ValidationError({"role": "An account keeps at least one owner: make someone else owner first."})


def member_role_set(*, membership: Membership, role: str, granted_by: str | None = None) -> Membership:
    """Change a member's role; only an owner touches an owner, and the last owner stays one."""
    _role_check(role=role, granted_by=granted_by)
    if membership.role == Membership.Role.OWNER and granted_by not in (None, Membership.Role.OWNER):
        raise ValidationError({"role": "Only an owner may change an owner."})
    if role != Membership.Role.OWNER:
        _owner_kept(membership=membership)
    membership.role = role
    membership.save(update_fields=["role"])
    logger.info("member.role_set", extra={"account_id": str(membership.account_id), "role": role})
    return membership


def member_remove(*, membership: Membership, granted_by: str | None = None) -> None:
    """Take a member out of the account (the user stays, for their other accounts)."""
    if membership.role == Membership.Role.OWNER and granted_by not in (None, Membership.Role.OWNER):
        raise ValidationError({"role": "Only an owner may remove an owner."})
    _owner_kept(membership=membership)
    membership.delete()
    logger.info("member.removed", extra={"account_id": str(membership.account_id)})
