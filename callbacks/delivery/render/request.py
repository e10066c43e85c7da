"""From a profile and one or more events to the HTTP request as sent (DESIGN sections 4 and 5).

A `ProfileSnapshot` holds what rendering and sending need from a profile, secrets decrypted once,
so the hot path touches no ORM object. `request_render` builds the method, URL, headers and body:
template or standard envelope, parameter encryption, `{"callbacks": [...]}` batches, legacy MD5
hashes, Basic or literal Authorization, and the Standard Webhooks headers.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from callbacks.delivery.render import encryption, signing, templating
from callbacks.models import CallbackProfile

USER_AGENT = "CallbackCenter/1.0"
CONTENT_TYPES = {
    "json": "application/json",
    "xml": "application/xml; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "text": "text/plain; charset=utf-8",
}
REDACTED = "[redacted]"
# Header names whose values are secrets: never stored with an attempt.
SECRET_HEADER_WORDS = ("authorization", "signature", "token", "secret", "password", "api-key", "apikey", "cookie")
MAX_CONNECT_TIMEOUT_S = 30.0
MAX_RESPONSE_TIMEOUT_S = 120.0  # the lease outlasts the longest call
BATCH_ID_NAMESPACE = uuid.UUID("5b0c7f3e-6a4d-4c1e-9f57-2b8d0e6a1c33")


@dataclass(frozen=True, slots=True)
class EventData:
    """What rendering needs of an event."""

    id: uuid.UUID
    type: str
    created_at: datetime
    payload: dict


@dataclass(frozen=True, slots=True)
class Item:
    """One delivery to render: its id (the `webhook-id` / `callback_id`) and its event."""

    delivery_id: uuid.UUID
    event: EventData


@dataclass(slots=True)
class RenderedRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    webhook_id: str
    delivery_ids: list[uuid.UUID] = field(default_factory=list)

    def headers_redacted(self) -> dict[str, str]:
        return headers_redact(self.headers)


@dataclass(frozen=True, slots=True)
class ProfileSnapshot:
    """A profile as the engine uses it, secrets decrypted. Built once per profile and cached briefly."""

    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    status: str
    url: str
    method: str
    body_type: str
    template: str
    static_headers: dict[str, str]
    signing_secrets: tuple[str, ...]
    previous_secret: str
    previous_secret_expires_at: float | None
    md5: tuple[str, str, str] | None  # salt, platform account id, platform api key
    encryption: tuple[str, str, str, tuple[str, ...]] | None  # cipher, key, fixed IV or "", paths
    batch_max_size: int
    batch_max_wait_ms: int
    envelope_contract: bool
    connect_timeout_s: float
    response_timeout_s: float
    retry_schedule_s: tuple[float, ...]
    max_in_flight: int
    url_has_placeholders: bool

    @classmethod
    def from_profile(cls, profile: CallbackProfile) -> ProfileSnapshot:
        body_type = profile.body_type or "json"
        headers = {"User-Agent": USER_AGENT}
        if profile.http_method != "GET":
            headers["Content-Type"] = CONTENT_TYPES.get(body_type, "application/octet-stream")
        headers.update({str(name): str(value) for name, value in (profile.headers or {}).items()})
        if profile.auth_header:
            headers["Authorization"] = profile.auth_header
        elif profile.auth_username:
            credentials = f"{profile.auth_username}:{profile.auth_password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
        md5 = None
        if profile.sign_md5:
            account = profile.account
            md5 = (profile.md5_salt or "", account.platform_account_id or "", account.platform_api_key or "")
        crypto = None
        if profile.encryption_cipher and profile.encryption_key and profile.encryption_fields:
            iv = "" if profile.encryption_iv_random else (profile.encryption_iv or "")
            crypto = (profile.encryption_cipher, profile.encryption_key, iv, tuple(profile.encryption_fields))
        secrets = (profile.signing_secret,) if profile.sign_standard_webhooks and profile.signing_secret else ()
        expires = profile.previous_signing_secret_expires_at
        return cls(
            id=profile.pk,
            account_id=profile.account_id,
            name=profile.name,
            status=profile.status,
            url=profile.url,
            method=profile.http_method or "POST",
            body_type=body_type,
            template=profile.body_template or "",
            static_headers=headers,
            signing_secrets=secrets,
            previous_secret=(profile.previous_signing_secret or "") if secrets else "",
            previous_secret_expires_at=expires.timestamp() if expires else None,
            md5=md5,
            encryption=crypto,
            batch_max_size=max(1, profile.batch_max_size or 1) if body_type == "json" else 1,
            batch_max_wait_ms=profile.batch_max_wait_ms or 0,
            envelope_contract=profile.response_contract == CallbackProfile.ResponseContract.ENVELOPE,
            connect_timeout_s=min(max(profile.connect_timeout_s or 5.0, 0.1), MAX_CONNECT_TIMEOUT_S),
            response_timeout_s=min(max(profile.response_timeout_s or 60.0, 0.1), MAX_RESPONSE_TIMEOUT_S),
            retry_schedule_s=tuple(float(delay) for delay in profile.retry_schedule),
            max_in_flight=max(1, profile.max_in_flight or 1),
            url_has_placeholders=bool(templating.template_placeholders(profile.url)),
        )

    def secrets_at(self, now_s: float) -> tuple[str, ...]:
        """The signing secrets in use: the current one, and the previous one until it expires."""
        if self.previous_secret and (
            self.previous_secret_expires_at is None or now_s < self.previous_secret_expires_at
        ):
            return (*self.signing_secrets, self.previous_secret)
        return self.signing_secrets


@lru_cache(maxsize=1024)
def header_is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_HEADER_WORDS)


def headers_redact(headers: dict[str, str]) -> dict[str, str]:
    return {name: REDACTED if header_is_secret(name) else value for name, value in headers.items()}


def timestamp_text(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _item_data(snapshot: ProfileSnapshot, payload: dict) -> dict:
    if snapshot.encryption is None:
        return payload
    cipher, key, iv, paths = snapshot.encryption
    return encryption.payload_encrypt(data=payload, paths=list(paths), cipher=cipher, key=key, iv=iv)


def context_build(event: EventData, data: dict) -> dict:
    """The template context: `{"event": {"id", "type", "created"}, "data": {...}}`."""
    return {
        "event": {"id": str(event.id), "type": event.type, "created": timestamp_text(event.created_at)},
        "data": data,
    }


def _item_render(snapshot: ProfileSnapshot, item: Item) -> tuple[Any, dict]:
    """One item as text (template) or as a JSON-ready object (envelope), with its template context."""
    event = item.event
    data = _item_data(snapshot, event.payload)
    context = context_build(event, data)
    if snapshot.template:
        text = templating.template_render(template=snapshot.template, body_type=snapshot.body_type, context=context)
        return text, context
    envelope = {"id": str(event.id), "type": event.type, "timestamp": timestamp_text(event.created_at), "data": data}
    return envelope, context


def _md5_decorate(snapshot: ProfileSnapshot, item: Item, rendered: Any) -> dict:
    salt, account_id, api_key = snapshot.md5  # type: ignore[misc]
    if isinstance(rendered, str):
        try:
            rendered = json.loads(rendered)
        except ValueError:
            rendered = {"body": rendered}
    body = dict(rendered) if isinstance(rendered, dict) else {"data": rendered}
    callback_id = str(item.delivery_id)
    body["type"] = item.event.type
    body["callback_id"] = callback_id
    body["hash"] = signing.legacy_md5_hash(salt=salt, account_id=account_id, api_key=api_key, callback_id=callback_id)
    return body


def _json_value(rendered: Any) -> Any:
    if isinstance(rendered, str):
        try:
            return json.loads(rendered)
        except ValueError:
            return rendered
    return rendered


def request_render(snapshot: ProfileSnapshot, items: list[Item], *, now_s: float | None = None) -> RenderedRequest:
    """The request for `items` (one, or a batch of up to batch_max_size for JSON bodies)."""
    now_s = time.time() if now_s is None else now_s
    rendered = [_item_render(snapshot, item) for item in items]
    is_json = snapshot.body_type == "json"
    if is_json and (snapshot.batch_max_size > 1 or len(items) > 1 or snapshot.md5 is not None):
        if snapshot.md5 is not None:
            values = [_md5_decorate(snapshot, item, text) for item, (text, _) in zip(items, rendered, strict=True)]
        else:
            values = [_json_value(text) for text, _ in rendered]
        body_text = json.dumps({"callbacks": values}, ensure_ascii=False, separators=(",", ":"))
    else:
        first = rendered[0][0]
        body_text = first if isinstance(first, str) else json.dumps(first, ensure_ascii=False, separators=(",", ":"))
    body = b"" if snapshot.method == "GET" else body_text.encode()
    url = snapshot.url
    if snapshot.url_has_placeholders:
        url = templating.url_render(url=url, context=rendered[0][1])
    if len(items) == 1:
        webhook_id = str(items[0].delivery_id)
    else:  # the same group of deliveries always gets the same id
        webhook_id = str(uuid.uuid5(BATCH_ID_NAMESPACE, ",".join(sorted(str(item.delivery_id) for item in items))))
    headers = dict(snapshot.static_headers)
    if snapshot.md5 is not None and not is_json:
        callback_id = str(items[0].delivery_id)
        salt, account_id, api_key = snapshot.md5
        headers["X-Callback-Id"] = callback_id
        headers["X-Callback-Hash"] = signing.legacy_md5_hash(
            salt=salt, account_id=account_id, api_key=api_key, callback_id=callback_id
        )
    # webhook-id and webhook-timestamp go out signed or not, so any receiver can deduplicate.
    headers["webhook-id"] = webhook_id
    headers["webhook-timestamp"] = str(int(now_s))
    secrets = snapshot.secrets_at(now_s)
    if secrets:
        headers["webhook-signature"] = signing.standard_signatures(
            secrets=secrets, message_id=webhook_id, timestamp=int(now_s), body=body
        )
    return RenderedRequest(
        method=snapshot.method,
        url=url,
        headers=headers,
        body=body,
        webhook_id=webhook_id,
        delivery_ids=[item.delivery_id for item in items],
    )
