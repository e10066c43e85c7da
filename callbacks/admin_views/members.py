"""Members: who belongs to the account and with which role; owners and admins invite by e-mail.

No customer ever sees Django's user forms: an invitation (`callbacks.services.members`) creates the
user and e-mails a link to the welcome page, where they choose a password. Operators give a
customer its owner the same way, picking the account.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from callbacks.admin_views.accounts import moment_shown, status_mark
from callbacks.admin_views.errors import service_errors_show
from callbacks.admin_views.scoping import AccountScopedAdmin, account_current, account_role, may_write
from callbacks.models import Account, Membership
from callbacks.services.members import member_invite, member_remove, member_role_set


def _granted_by(request: HttpRequest) -> str | None:
    """The role an invitation or change is made with; None for an operator (any role)."""
    return None if request.user.is_superuser else account_role(request)


class MemberInviteForm(forms.Form):
    email = forms.EmailField(label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(
        choices=Membership.Role.choices,
        initial=Membership.Role.VIEWER,
        help_text="Owners and admins change the settings; viewers only look.",
    )

    def __init__(self, *args, operator: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if operator:
            self.fields = {
                "account": forms.ModelChoiceField(queryset=Account.objects.order_by("name"), label="Account"),
                **self.fields,
            }


class MembershipAdmin(AccountScopedAdmin):
    list_display = ["member", "role_shown", "state", "created", "row_actions"]
    list_display_links = None
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "user__first_name", "user__last_name"]
    search_help_text = "Search by name or e-mail."
    list_select_related = ["user", "account"]
    actions = None

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        return ["account", *columns] if request.user.is_superuser else columns

    @admin.display(description="Member", ordering="user__email")
    def member(self, obj: Membership) -> str:
        user = obj.user
        name = user.get_full_name() or user.get_username()
        return format_html('<span class="cc-title">{}</span><span class="cc-reason">{}</span>', name, user.email)

    @admin.display(description="Role", ordering="role")
    def role_shown(self, obj: Membership) -> str:
        if not getattr(self, "_writer", False):
            return obj.get_role_display()
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((value, " selected" if value == obj.role else "", label) for value, label in Membership.Role.choices),
        )
        # A control of the changelist's own form (forms cannot nest): its button posts to the role view.
        return format_html(
            '<span class="cc-inline"><select name="role-{}" aria-label="Role of {}">{}</select>'
            '<button type="submit" class="cc-button" formaction="{}" formmethod="post">Change</button></span>',
            obj.pk,
            obj.user.email or obj.user.get_username(),
            options,
            reverse("admin:callbacks_membership_role", args=[obj.pk]),
        )

    @admin.display(description="Status")
    def state(self, obj: Membership) -> str:
        if obj.user.has_usable_password() or obj.user.last_login:
            return status_mark("active", "Active")
        return status_mark("invited", "Invited")

    @admin.display(description="Member since", ordering="created_at")
    def created(self, obj: Membership) -> str:
        return moment_shown(obj.created_at)

    @admin.display(description="")
    def row_actions(self, obj: Membership) -> str:
        if not getattr(self, "_writer", False):
            return ""
        who = obj.user.email or obj.user.get_username()
        return format_html(
            '<div class="cc-row-actions"><button type="submit" class="cc-button danger" formaction="{}" '
            'formmethod="post" data-confirm="Remove {} from {}? They can no longer sign in to it.">Remove</button></div>',
            reverse("admin:callbacks_membership_remove", args=[obj.pk]),
            who,
            obj.account.name,
        )

    def changelist_view(self, request: HttpRequest, extra_context=None):
        self._writer = may_write(request)
        return super().changelist_view(request, {"title": "Members", **(extra_context or {})})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_write(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # roles change from the list; there is no user form to fill in

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # Remove, from the list, through the members service

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        self.get_object(request, object_id)  # another account's member is a 404
        return HttpResponseRedirect(reverse("admin:callbacks_membership_changelist"))

    def add_view(self, request: HttpRequest, form_url="", extra_context=None):
        """Invite a member: e-mail and role (and, for an operator, the account)."""
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:callbacks_membership_changelist"))
        operator = request.user.is_superuser
        current = account_current(request)
        initial = {"role": request.GET.get("role") or Membership.Role.VIEWER}
        if operator:
            initial["account"] = request.GET.get("account") or (current.pk if current else None)
        form = MemberInviteForm(request.POST or None, operator=operator, initial=initial)
        if request.method == "POST" and form.is_valid():
            account = form.cleaned_data["account"] if operator else current
            try:
                membership = member_invite(
                    account=account,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    granted_by=_granted_by(request),
                )
            except ValidationError as error:
                service_errors_show(form, error)
            else:
                invited = f"Invited {membership.user.email} to {account.name} as {membership.get_role_display()}"
                if membership.invitation_sent:
                    messages.success(request, f"{invited}: an e-mail with a link to sign in is on its way.")
                else:
                    messages.warning(
                        request,
                        f"{invited}, but the e-mail could not be sent (the mail server refused it). "
                        "Remove them and invite again once e-mail works.",
                    )
                return HttpResponseRedirect(reverse("admin:callbacks_membership_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Invite a member",
            "form": form,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/callbacks/membership/invite.html", context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:membership_id>/role/", wrap(self.role_view), name="callbacks_membership_role"),
            path("<int:membership_id>/remove/", wrap(self.remove_view), name="callbacks_membership_remove"),
            *super().get_urls(),
        ]

    def _membership_post(self, request: HttpRequest, membership_id: int, change) -> HttpResponseRedirect:
        membership = get_object_or_404(self.get_queryset(request), pk=membership_id)
        if request.method == "POST" and may_write(request):
            try:
                messages.success(request, change(membership))
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
        return HttpResponseRedirect(reverse("admin:callbacks_membership_changelist"))

    def role_view(self, request: HttpRequest, membership_id: int):
        def change(membership: Membership) -> str:
            role = request.POST.get(f"role-{membership.pk}", "")
            member_role_set(membership=membership, role=role, granted_by=_granted_by(request))
            return f"Role changed: {membership.user.email or membership.user} is now {membership.get_role_display()}."

        return self._membership_post(request, membership_id, change)

    def remove_view(self, request: HttpRequest, membership_id: int):
        def change(membership: Membership) -> str:
            member_remove(membership=membership, granted_by=_granted_by(request))
            return f"Removed: {membership.user.email or membership.user} is no longer a member of {membership.account.name}."

        return self._membership_post(request, membership_id, change)
