"""The project's routes plus one trivial DRF endpoint, the ceiling the events API is measured against."""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns


class CeilingView(APIView):
    """Authenticates the key and answers 202 without touching anything else: what DRF costs alone."""

    def post(self, request: Request) -> Response:
        return Response({"accepted": True}, status=202)


urlpatterns = [*project_urlpatterns, path("bench/ceiling/", CeilingView.as_view())]
