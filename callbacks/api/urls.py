"""Routes of the callbacks API, mounted under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from callbacks.api.accounts import AccountView, ApiKeyViewSet
from callbacks.api.catalogue import EventTypeViewSet
from callbacks.api.profiles import CallbackProfileViewSet

router = SimpleRouter()
router.register("event-types", EventTypeViewSet, basename="event-type")
router.register("callback-profiles", CallbackProfileViewSet, basename="callback-profile")
router.register("api-keys", ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("account/", AccountView.as_view(), name="account"),
    *router.urls,
]
