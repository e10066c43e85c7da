"""`POST /telegram/webhook/`: the entry point for updates pushed by Telegram (see `alerts.telegram`)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from alerts.telegram import WEBHOOK_SECRET_HEADER, telegram_webhook_receive


@csrf_exempt
@require_POST
def telegram_webhook(request: HttpRequest) -> JsonResponse:
    status, answer = telegram_webhook_receive(
        secret_token=request.headers.get(WEBHOOK_SECRET_HEADER, ""), body=request.body
    )
    return JsonResponse(answer, status=status)
