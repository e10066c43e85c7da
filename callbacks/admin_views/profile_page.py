"""What a callback's page shows beside the form: its id and a ready `curl` that triggers it."""

from __future__ import annotations

import json
import shlex

from django.http import HttpRequest
from django.urls import reverse

from callbacks import event_types
from callbacks.models import CallbackProfile

API_KEY_VARIABLE = "$CALLBACK_CENTER_API_KEY"


def trigger_curl(*, request: HttpRequest, profile: CallbackProfile) -> str:
    """A `curl` that calls this callback through the API's trigger, with the example of a type it takes."""
    url = request.build_absolute_uri(reverse("callback-profile-trigger", args=[profile.pk]))
    code = profile.event_types.order_by("code").values_list("code", flat=True).first() or event_types.CALLBACK_TEST
    spec = event_types.event_type_get(code)
    body = json.dumps({"type": code, "data": spec.example if spec else {}}, ensure_ascii=False)
    return (
        f"curl -X POST {shlex.quote(url)} \\\n"
        f'  -H "Authorization: Bearer {API_KEY_VARIABLE}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d {shlex.quote(body)}"
    )
