"""The callbacks app in the screens: callback settings, delivery log, API keys, accounts, dashboard."""

from django.contrib import admin
from django.contrib.auth import get_user_model

from callbacks.admin_views.accounts import AccountAdmin, ApiKeyAdmin
from callbacks.admin_views.dashboard import deliveries_panel_context, profiles_panel_context
from callbacks.admin_views.deliveries import DeliveryAdmin
from callbacks.admin_views.members import MembershipAdmin
from callbacks.admin_views.profiles import CallbackProfileAdmin
from callbacks.admin_views.users import OperatorUserAdmin
from callbacks.models import Account, ApiKey, CallbackProfile, Delivery, Membership

admin.site.register(Account, AccountAdmin)
admin.site.register(Membership, MembershipAdmin)
admin.site.register(ApiKey, ApiKeyAdmin)
admin.site.register(CallbackProfile, CallbackProfileAdmin)
admin.site.register(Delivery, DeliveryAdmin)
admin.site.unregister(get_user_model())  # Django's own, with groups and permissions this product does not use
admin.site.register(get_user_model(), OperatorUserAdmin)

admin.site.nav_add("Callbacks", "admin:callbacks_callbackprofile_changelist", 10)
admin.site.nav_add("Delivery log", "admin:callbacks_delivery_changelist", 20)
admin.site.nav_add("API keys", "admin:callbacks_apikey_changelist", 60)
admin.site.nav_add("Account", "admin:callbacks_account_changelist", 70)
admin.site.nav_add("Members", "admin:callbacks_membership_changelist", 75)
admin.site.nav_add("Users", "admin:auth_user_changelist", 80, superuser_only=True)

admin.site.panel_add("admin/callback_center/panel_deliveries.html", deliveries_panel_context, 10)
admin.site.panel_add("admin/callback_center/panel_profiles.html", profiles_panel_context, 20)
