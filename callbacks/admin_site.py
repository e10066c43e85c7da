"""The admin site branded Callback Center: product navigation, account switcher, dashboard.

Installed through `CallbackCenterAdminConfig` (in INSTALLED_APPS instead of django.contrib.admin),
so `django.contrib.admin.site` is this site and every app's `admin.py` registers on it. Apps add
screens and dashboard panels with `site.view_add(...)` and `site.panel_add(...)`; `callbacks`
never imports them.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone as django_timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    order: int
    icon: str = ""
    superuser_only: bool = False


@dataclass(frozen=True)
class DashboardPanel:
    """A box on the dashboard: `context(request)` returns the template's context, or None to hide."""

    template: str
    context: Callable[[HttpRequest], dict | None]
    order: int


SIGN_IN_ERRORS = {
    "invalid_login": "The user name or password is not right (both are case-sensitive).",
    "inactive": "This user may not sign in. Ask your operator.",
}


class CallbackCenterAdminSite(admin.AdminSite):
    site_header = "Callback Center"

    @property
    def login_form(self):
        """The admin's sign-in form, in words a customer understands ("staff account" means nothing to them).

        Built on first use: the auth forms import models, which are not ready when this module loads.
        """
        from django.contrib.admin.forms import AdminAuthenticationForm

        return type(
            "SignInForm",
            (AdminAuthenticationForm,),
            {"error_messages": {**AdminAuthenticationForm.error_messages, **SIGN_IN_ERRORS}},
        )

    site_title = "Callback Center"
    index_title = "Dashboard"
    index_template = "admin/callback_center/dashboard.html"
    enable_nav_sidebar = False
    site_url = None

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self._extra_views: list[tuple[str, Callable, str]] = []
        self._nav: list[NavItem] = [NavItem("Dashboard", "admin:index", 0, "◧")]
        self._panels: list[DashboardPanel] = []

    # --- extension points used by the apps' admin.py ---------------------------------------------
    def view_add(self, route: str, view: Callable, name: str) -> None:
        """Serve `view` (wrapped in admin_view: login and permission required) at /admin/<route>."""
        self._extra_views.append((route, view, name))

    def nav_add(self, label: str, url_name: str, order: int, icon: str = "", superuser_only: bool = False) -> None:
        self._nav.append(NavItem(label, url_name, order, icon, superuser_only))

    def panel_add(self, template: str, context: Callable[[HttpRequest], dict | None], order: int) -> None:
        self._panels.append(DashboardPanel(template, context, order))

    # --- the site ------------------------------------------------------------------------------------
    def has_permission(self, request: HttpRequest) -> bool:
        from callbacks.tenancy import accounts_for_user

        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return user.is_superuser or accounts_for_user(user).exists()

    def admin_view(self, view: Callable, cacheable: bool = False) -> Callable:
        """Every screen shows times in the current account's time zone, as its e-mails and reports do."""
        protected = super().admin_view(view, cacheable)

        @functools.wraps(protected)
        def in_account_timezone(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            from callbacks.admin_views.scoping import account_current

            account = account_current(request) if request.user.is_authenticated else None
            if account is None:
                return protected(request, *args, **kwargs)
            with django_timezone.override(zoneinfo.ZoneInfo(account.timezone)):
                response = protected(request, *args, **kwargs)
                if isinstance(response, TemplateResponse) and not response.is_rendered:
                    response.render()  # a template response renders later: do it in the zone
            return response

        return in_account_timezone

    def get_urls(self):
        own = [
            path("account/switch/", self.admin_view(self.account_switch_view), name="account_switch"),
            # Opened from an invitation e-mail, before the person can sign in.
            path("welcome/<str:uidb64>/<str:token>/", self.welcome_view, name="welcome"),
            *[path(route, self.admin_view(view), name=name) for route, view, name in self._extra_views],
        ]
        return own + super().get_urls()

    def each_context(self, request: HttpRequest) -> dict:
        from callbacks.admin_views.scoping import account_current, account_role
        from callbacks.tenancy import accounts_for_user

        context = super().each_context(request)
        if not getattr(request, "user", None) or not request.user.is_authenticated:
            return context
        context["current_account"] = account_current(request)
        context["account_role"] = account_role(request)
        context["switchable_accounts"] = list(accounts_for_user(request.user).order_by("name")[:200])
        context["product_nav"] = self._nav_for(request)
        active = [item["url"] for item in context["product_nav"] if item["active"]]
        context["section_url"] = active[0] if active else reverse("admin:index", current_app=self.name)
        return context

    def _nav_for(self, request: HttpRequest) -> list[dict]:
        current = request.path
        items = []
        for item in sorted(self._nav, key=lambda nav: nav.order):
            if item.superuser_only and not request.user.is_superuser:
                continue
            try:
                url = reverse(item.url_name, current_app=self.name)
            except NoReverseMatch:
                continue
            index_url = reverse("admin:index", current_app=self.name)
            active = current == url if url == index_url else current.startswith(url)
            items.append({"label": item.label, "url": url, "active": active, "icon": item.icon})
        return items

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        panels = []
        for panel in sorted(self._panels, key=lambda panel: panel.order):
            panel_context = panel.context(request)
            if panel_context is not None:
                panels.append({"template": panel.template, "context": panel_context})
        return super().index(request, {"dashboard_panels": panels, **(extra_context or {})})

    def app_index(self, request: HttpRequest, app_label: str, extra_context: dict | None = None) -> HttpResponse:
        """Django's per-app index ("Callbacks administration") is not a screen of ours: the dashboard is."""
        return HttpResponseRedirect(reverse("admin:index", current_app=self.name))

    def welcome_view(self, request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
        from callbacks.admin_views.welcome import welcome_view

        return welcome_view(request, uidb64, token, site=self)

    @staticmethod
    def account_switch_view(request: HttpRequest) -> HttpResponse:
        return _account_switch(request)


@require_POST
def _account_switch(request: HttpRequest) -> HttpResponse:
    from django.contrib import messages

    from callbacks.admin_views.scoping import account_choose

    account = account_choose(request, request.POST.get("account", ""))
    messages.success(request, f"You are now working in “{account.name}”.")
    next_url = request.POST.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("admin:index")
    return HttpResponseRedirect(next_url)


class CallbackCenterAdminConfig(AdminConfig):
    default_site = "callbacks.admin_site.CallbackCenterAdminSite"
