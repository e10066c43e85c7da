"""A fake Telegram Bot API on 127.0.0.1 that python-telegram-bot talks to through `base_url`.

It answers getMe, sendMessage, getUpdates, setWebhook, deleteWebhook and getWebhookInfo like the
real API, records every call, queues updates for getUpdates, and can answer the next sendMessage
calls with 429 and a `retry_after`, as Telegram's flood control does.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_ID = 777000111
BOT_USERNAME = "callback_center_test_bot"


@dataclass
class SentMessage:
    chat_id: int
    text: str


@dataclass
class FakeBotApi:
    token: str
    messages: list[SentMessage] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    floods: list[int] = field(default_factory=list)  # retry_after of each next sendMessage answered 429
    _server: ThreadingHTTPServer | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/bot"

    def start(self) -> FakeBotApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = api.handle(self.path, self.headers.get("Content-Type", ""), body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def user_writes(self, *, chat_id: int, text: str, username: str = "ada", first_name: str = "Ada") -> dict:
        """Queue a private message from a user (what getUpdates returns next); returns the update."""
        update_id = next(self._ids)
        command = text.split(" ", 1)[0]
        update = {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": first_name, "username": username},
                "from": {"id": chat_id, "is_bot": False, "first_name": first_name, "username": username},
                "text": text,
                "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}]
                if text.startswith("/")
                else [],
            },
        }
        with self._lock:
            self.updates.append(update)
        return update

    def methods_called(self) -> list[str]:
        return [method for method, _ in self.calls]

    def handle(self, path: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = path[len(prefix) :]
        params = json.loads(body or b"{}") if "json" in content_type else dict(parse_qsl(body.decode()))
        with self._lock:
            self.calls.append((method, params))
            return self._answer(method, params)

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "getMe":
            user = {"id": BOT_ID, "is_bot": True, "first_name": "Callback Center", "username": BOT_USERNAME}
            return 200, {"ok": True, "result": user}
        if method == "sendMessage":
            if self.floods:
                retry_after = self.floods.pop(0)
                return 429, {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {retry_after}",
                    "parameters": {"retry_after": retry_after},
                }
            chat_id = int(params["chat_id"])
            self.messages.append(SentMessage(chat_id=chat_id, text=params["text"]))
            message = {
                "message_id": len(self.messages),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "text": params["text"],
            }
            return 200, {"ok": True, "result": message}
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            self.updates = [update for update in self.updates if update["update_id"] >= offset]
            return 200, {"ok": True, "result": list(self.updates)}
        if method == "setWebhook":
            self.webhook = dict(params)
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        if method == "deleteWebhook":
            self.webhook = {}
            return 200, {"ok": True, "result": True}
        if method == "getWebhookInfo":
            info = {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}
            return 200, {"ok": True, "result": info}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
