"""Routes of the callbacks API, mounted under /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from callbacks.api.accounts import AccountView, ApiKeyViewSet
from callbacks.api.catalogue import EventTypeViewSet
from callbacks.api.deliveries import DeliveryViewSet, ReplayJobViewSet
from callbacks.api.events import EventBatchView, EventDetailView, EventIngestView
from callbacks.api.profile_actions import ProfileStatsView, ProfileTestView, ProfileTriggerView
from callbacks.api.profiles import CallbackProfileViewSet

router = SimpleRouter()
router.register("event-types", EventTypeViewSet, basename="event-type")
router.register("callback-profiles", CallbackProfileViewSet, basename="callback-profile")
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("deliveries", DeliveryViewSet, basename="delivery")
router.register("replay-jobs", ReplayJobViewSet, basename="replay-job")

urlpatterns = [
    path("account/", AccountView.as_view(), name="account"),
    path("events/", EventIngestView.as_view(), name="event-list"),
    path("events/batch/", EventBatchView.as_view(), name="event-batch"),
    path("events/<uuid:pk>/", EventDetailView.as_view(), name="event-detail"),
    path("callback-profiles/<uuid:pk>/test/", ProfileTestView.as_view(), name="callback-profile-test"),
    path("callback-profiles/<uuid:pk>/trigger/", ProfileTriggerView.as_view(), name="callback-profile-trigger"),
    path("callback-profiles/<uuid:pk>/stats/", ProfileStatsView.as_view(), name="callback-profile-stats"),
    *router.urls,
]
