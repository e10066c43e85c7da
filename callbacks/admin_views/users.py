"""Users, for operators only: who can sign in, to which accounts and with which role, and who is an operator.

Customers come in by invitation (admin_views/members.py), and their role lives on their membership, so
Django's groups, per-model permissions and staff flag have nothing to say here and are not shown.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join

from callbacks.admin_views.accounts import moment_shown
from callbacks.admin_views.filters import filter_titled
from callbacks.admin_views.scoping import ScreenAdmin
from callbacks.models import Membership


class OperatorUserAdmin(ScreenAdmin, UserAdmin):
    list_display = ["username", "email", "full_name", "accounts", "operator", "is_active", "last_login_shown"]
    list_filter = [("is_superuser", filter_titled(admin.BooleanFieldListFilter, "operator")), "is_active"]
    search_fields = ["username", "email", "first_name", "last_name", "memberships__account__name"]
    search_help_text = "Search by user name, name, e-mail or account."
    actions = None
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Person", {"fields": ["first_name", "last_name", "email"]}),
        (
            "Access",
            {
                "fields": ["is_active", "is_superuser"],
                "description": "Roles in accounts are set on each account's Members screen.",
            },
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    readonly_fields = ["last_login", "date_joined"]
    add_fieldsets = [
        (
            None,
            {
                "fields": ["username", "email", "password1", "password2", "is_superuser"],
                "description": "Customers come in by invitation (Members, or Invite an owner on Accounts): add "
                "operators here.",
            },
        )
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        memberships = Membership.objects.select_related("account").order_by("account__name")
        return super().get_queryset(request).prefetch_related(Prefetch("memberships", queryset=memberships))

    def get_form(self, request: HttpRequest, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)
        fields = form_class.base_fields
        if "is_superuser" in fields:
            fields["is_superuser"].label = "Operator"
            fields["is_superuser"].help_text = "Sees and changes every account, their users and quotas."
        if "is_active" in fields:
            fields["is_active"].help_text = "An inactive user cannot sign in; their memberships stay as they are."
        return form_class

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        # The screens let in operators and members (admin_site.has_permission); Django's staff flag
        # only has to be on, so a user made an operator here, or invited later, can sign in.
        obj.is_staff = True
        super().save_model(request, obj, form, change)

    @admin.display(description="Name")
    def full_name(self, user) -> str:
        return user.get_full_name()

    @admin.display(description="Accounts")
    def accounts(self, user) -> str:
        return format_html_join(
            ", ", "{} ({})", ((member.account.name, member.role) for member in user.memberships.all())
        )

    @admin.display(description="Operator", ordering="is_superuser")
    def operator(self, user) -> str:
        return "Operator" if user.is_superuser else ""

    @admin.display(description="Last sign-in", ordering="last_login")
    def last_login_shown(self, user) -> str:
        return moment_shown(user.last_login, none="never")

    def changelist_view(self, request: HttpRequest, extra_context=None):
        return super().changelist_view(request, {"title": "Users", **(extra_context or {})})

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        return super().change_view(request, object_id, form_url, {"title": "User", **(extra_context or {})})
