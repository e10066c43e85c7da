"""Routes of the alerts API, mounted under /api/v1/."""

urlpatterns: list = []
