"""`POST /telegram/webhook/`: updates pushed by Telegram, checked against the secret-token header."""

from __future__ import annotations

import hmac
import json
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from alerts.enqueue import task_enqueue_on_commit
from alerts.telegram_bot import telegram_update_handle

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@csrf_exempt
@require_POST
def telegram_webhook(request: HttpRequest) -> JsonResponse:
    expected = settings.TELEGRAM_WEBHOOK_SECRET
    given = request.headers.get(SECRET_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        logger.info("telegram.webhook_refused", extra={"reason": "secret token" if expected else "not configured"})
        return JsonResponse({"detail": "Wrong or missing secret token."}, status=403)
    try:
        update = json.loads(request.body)
    except ValueError:
        return JsonResponse({"detail": "The body is not JSON."}, status=400)
    if not isinstance(update, dict):
        return JsonResponse({"detail": "The body is not a Telegram update."}, status=400)
    reply = telegram_update_handle(update)
    if reply is not None:
        task_enqueue_on_commit("alerts.tasks.telegram_reply_send", reply.chat_id, reply.text)
    return JsonResponse({"ok": True})
