"""Which account the screens act for, and admin classes that only show that account's rows.

Account users (staff with a Membership) see and change their current account only; the current
account is kept in the session and switched from the header. Superusers see every account.
Another account's object answers 404, never a page that confirms it exists.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse

from callbacks.models import Account, Membership
from callbacks.tenancy import accounts_for_user

SESSION_ACCOUNT_KEY = "callback_center_account_id"
WRITE_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


def account_current(request: HttpRequest) -> Account | None:
    """The account the screens act for: the one chosen in the session, else the user's first."""
    cached = getattr(request, "_callback_center_account", False)
    if cached is not False:
        return cached
    accounts = accounts_for_user(request.user)
    chosen = request.session.get(SESSION_ACCOUNT_KEY)
    account = accounts.filter(pk=chosen).first() if chosen else None
    if account is None:
        account = accounts.order_by("name").first()
    request._callback_center_account = account
    return account


def account_choose(request: HttpRequest, account_id: str) -> Account:
    """Make `account_id` the current account; 404 unless the user may act for it."""
    try:
        account = accounts_for_user(request.user).get(pk=account_id)
    except (Account.DoesNotExist, ValidationError, ValueError, TypeError) as error:  # a malformed id too
        raise Http404("No such account.") from error
    request.session[SESSION_ACCOUNT_KEY] = str(account.pk)
    request._callback_center_account = account
    request.__dict__.pop("_callback_center_role", None)
    return account


def account_role(request: HttpRequest) -> str | None:
    """The user's role in the current account (superusers act as owners everywhere)."""
    if request.user.is_superuser:
        return Membership.Role.OWNER
    cached = getattr(request, "_callback_center_role", False)
    if cached is not False:
        return cached
    account = account_current(request)
    membership = None
    if account is not None:
        membership = Membership.objects.filter(user=request.user, account=account).only("role").first()
    request._callback_center_role = membership.role if membership else None
    return request._callback_center_role


def account_required(request: HttpRequest) -> Account:
    account = account_current(request)
    if account is None:
        raise Http404("No account to act for.")
    return account


def may_write(request: HttpRequest) -> bool:
    return account_role(request) in WRITE_ROLES


class ScreenAdmin(admin.ModelAdmin):
    """What every screen built on a ModelAdmin shares: no raw admin leftovers (no filter counts, no "Save
    and add another", no History), and an empty list that says what it will hold."""

    show_facets = admin.ShowFacets.NEVER
    # What an empty list says (templates/admin/change_list.html): what it will hold and how it fills.
    empty_list_text = ""

    def changelist_view(self, request: HttpRequest, extra_context=None):
        empty = self.empty_list_text or f"No {self.model._meta.verbose_name_plural} yet."
        return super().changelist_view(request, {"empty_list_text": empty, **(extra_context or {})})

    def get_actions(self, request: HttpRequest) -> dict:
        """Django's bulk "delete selected" bar is not ours; a screen that needs a bulk action adds its own."""
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def render_change_form(self, request: HttpRequest, context: dict, add=False, change=False, form_url="", obj=None):
        context.update(show_save_and_add_another=False, show_save_and_continue=False, show_save_as_new=False)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None):
        raise Http404("No history here.")


class AccountScopedAdmin(ScreenAdmin):
    """A ModelAdmin whose rows belong to an account (`account_field`), scoped as above.

    Permissions follow the membership role rather than Django's per-model permissions: owners and
    admins change, viewers look.
    """

    account_field = "account"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        account = account_current(request)
        if account is None:
            return queryset.none()
        return queryset.filter(**{self.account_field: account})

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        found = super().get_object(request, object_id, from_field)
        if found is None:
            raise Http404("Not found.")
        return found

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        return self.switch_offer(request, object_id) or super().change_view(request, object_id, form_url, extra_context)

    def switch_offer(self, request: HttpRequest, object_id: str) -> TemplateResponse | None:
        """A page offering to switch accounts, when the object is in another of the user's accounts."""
        if request.method != "GET" or request.user.is_superuser:
            return None
        elsewhere = self._account_of_object_elsewhere(request, object_id)
        return self._switch_offer(request, elsewhere) if elsewhere is not None else None

    def _account_of_object_elsewhere(self, request: HttpRequest, object_id: str) -> Account | None:
        """The user's other account that holds this object, when the current one does not.

        A link from an e-mail (a failed delivery, say) may name an object of another of the user's
        accounts: the screen offers to switch rather than switching behind the user's back.
        """
        current = account_current(request)
        try:
            self.model._meta.get_field(self.account_field)
            rows = self.model._default_manager.filter(pk=object_id)
            if current is not None and rows.filter(**{self.account_field: current}).exists():
                return None
            account_id = (
                rows.filter(**{f"{self.account_field}__in": accounts_for_user(request.user)})
                .values_list(f"{self.account_field}_id", flat=True)
                .first()
            )
        except (FieldDoesNotExist, ValidationError, ValueError):
            return None
        return Account.objects.filter(pk=account_id).first() if account_id else None

    def _switch_offer(self, request: HttpRequest, account: Account) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Another of your accounts",
            "opts": self.model._meta,
            "target_account": account,
            "next_url": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/callback_center/switch_offer.html", context)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or account_role(request) is not None

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_write(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return may_write(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return may_write(request)
