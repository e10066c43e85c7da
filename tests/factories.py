"""factory-boy factories for the rows tests need."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from callbacks.models import Account, CallbackProfile, Membership


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n}")
    admin_email = factory.Sequence(lambda n: f"ops{n}@example.com")
    timezone = "UTC"
    platform_account_id = factory.Sequence(lambda n: f"ACC{n:05d}")
    platform_api_key = factory.Sequence(lambda n: f"platform-key-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def saved(self, create: bool, extracted, **kwargs) -> None:
        if create:
            self.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory)
    role = Membership.Role.OWNER


class CallbackProfileFactory(factory.django.DjangoModelFactory):
    """A profile row as stored; tests of validation go through the services or the API instead."""

    class Meta:
        model = CallbackProfile

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Profile {n}")
    url = "http://127.0.0.1:9/callbacks"
    signing_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
