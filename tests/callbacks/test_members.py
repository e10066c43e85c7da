"""The members service: invitations, roles and the owner every account keeps."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from callbacks.models import Membership
from callbacks.services.members import member_invite, member_remove, member_role_set
from tests.factories import AccountFactory, MembershipFactory


def test_an_invitation_creates_a_user_without_password_and_mails_a_link(db):
    # given an account
    account = AccountFactory(name="Acme")

    # when an owner invites a new address
    membership = member_invite(account=account, email=" Ada@Example.com ", role="viewer", granted_by="owner")

    # then the user exists without a usable password, is staff, and got a one-time link
    user = membership.user
    assert user.email == "ada@example.com" and user.is_staff and not user.has_usable_password()
    assert len(mail.outbox) == 1 and "/admin/welcome/" in mail.outbox[0].body


def test_an_admin_cannot_make_owners_and_a_member_is_invited_once(db):
    account = AccountFactory()
    with pytest.raises(ValidationError) as refused:
        member_invite(account=account, email="b@example.com", role="owner", granted_by="admin")
    assert "owner" in refused.value.message_dict["role"][0]
    member_invite(account=account, email="b@example.com", role="admin", granted_by="admin")
    with pytest.raises(ValidationError) as again:
        member_invite(account=account, email="B@example.com", role="viewer", granted_by="owner")
    assert "already a member" in again.value.message_dict["email"][0]
    with pytest.raises(ValidationError):
        member_invite(account=account, email="nobody", role="viewer")


def test_the_last_owner_stays_an_owner(db):
    owner = MembershipFactory(role=Membership.Role.OWNER)
    with pytest.raises(ValidationError):
        member_role_set(membership=owner, role="viewer", granted_by="owner")
    with pytest.raises(ValidationError):
        member_remove(membership=owner, granted_by="owner")
    second = MembershipFactory(account=owner.account, role=Membership.Role.ADMIN)
    with pytest.raises(ValidationError):
        member_role_set(membership=owner, role="viewer", granted_by="admin")  # an admin does not touch an owner
    member_role_set(membership=second, role="owner", granted_by="owner")
    member_remove(membership=owner, granted_by="owner")
    assert list(Membership.objects.values_list("role", flat=True)) == ["owner"]


def test_a_refused_e_mail_keeps_the_member_and_says_so(db, settings):
    # given a mail server that refuses everything
    settings.EMAIL_BACKEND = "tests.callbacks.test_members.RefusingBackend"

    # when an owner invites someone
    membership = member_invite(account=AccountFactory(), email="c@example.com", role="viewer", granted_by="owner")

    # then the member is kept, and the answer says the e-mail did not go
    assert membership.pk and membership.invitation_sent is False


class RefusingBackend:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")
