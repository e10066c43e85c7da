"""The welcome page of an invited member: the link from the e-mail, where they choose a password.

The link is Django's password-reset token, so it works once and stops working when the password is set.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters


def _invited_user(uidb64: str, token: str):
    User = get_user_model()
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uidb64)))
    except (User.DoesNotExist, ValueError, TypeError, OverflowError):
        return None
    return user if user.is_active and default_token_generator.check_token(user, token) else None


@never_cache
@sensitive_post_parameters()
def welcome_view(request: HttpRequest, uidb64: str, token: str, site) -> HttpResponse:
    user = _invited_user(uidb64, token)
    form = SetPasswordForm(user, request.POST or None) if user else None
    if form is not None and request.method == "POST" and form.is_valid():
        form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return HttpResponseRedirect(reverse("admin:index", current_app=site.name))
    context = {
        **site.each_context(request),
        "title": "Welcome to Callback Center",
        "form": form,
        "invited": user,
        "accounts": [membership.account.name for membership in user.memberships.select_related("account")]
        if user
        else [],
    }
    return TemplateResponse(request, "admin/callback_center/welcome.html", context)
