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
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from callbacks.delivery.render import encryption, signing, templating
from callbacks.models import CallbackProfile
from callbacks.redaction import headers_redact, url_redact

USER_AGENT = "CallbackCenter/1.0"
CONTENT_TYPES = {
    "json": "application/json",
    "xml": "application/xml; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "text": "text/plain; charset=utf-8",
}
BODYLESS_METHODS = ("GET", "DELETE")
MAX_CONNECT_TIMEOUT_S = 30.0
MAX_RESPONSE_TIMEOUT_S = 120.0  # the lease outlasts the longest call


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

    def url_redacted(self) -> str:
        return url_redact(self.url)


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
    retired_secrets: tuple[tuple[str, float | None], ...]  # (secret, unix seconds it stops signing)
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
    # v1a: ed25519 private keys with when each stops signing (None: the current one).
    signing_keys: tuple[tuple[Ed25519PrivateKey, float | None], ...] = ()

    @classmethod
    def from_profile(cls, profile: CallbackProfile) -> ProfileSnapshot:
        body_type = profile.body_type or "json"
        headers = {"User-Agent": USER_AGENT}
        if profile.http_method not in BODYLESS_METHODS:
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
        can_batch = body_type == "json" and profile.http_method not in BODYLESS_METHODS
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
            retired_secrets=tuple(signing.retired_secrets(profile)) if secrets else (),
            md5=md5,
            encryption=crypto,
            batch_max_size=max(1, profile.batch_max_size or 1) if can_batch else 1,
            batch_max_wait_ms=profile.batch_max_wait_ms or 0,
            envelope_contract=profile.response_contract == CallbackProfile.ResponseContract.ENVELOPE,
            connect_timeout_s=min(max(profile.connect_timeout_s or 5.0, 0.1), MAX_CONNECT_TIMEOUT_S),
            response_timeout_s=min(max(profile.response_timeout_s or 60.0, 0.1), MAX_RESPONSE_TIMEOUT_S),
            retry_schedule_s=tuple(float(delay) for delay in profile.retry_schedule),
            max_in_flight=max(1, profile.max_in_flight or 1),
            url_has_placeholders=bool(templating.template_placeholders(profile.url)),
            signing_keys=_signing_keys(profile),
        )

    @property
    def can_batch(self) -> bool:
        """Whether a request can carry several deliveries: a JSON body (`{"callbacks": [...]}`)."""
        return self.body_type == "json" and self.method not in BODYLESS_METHODS

    def secrets_at(self, now_s: float) -> tuple[str, ...]:
        """The signing secrets in use: the current one, and each retired one until it expires."""
        retired = tuple(secret for secret, expires in self.retired_secrets if expires is None or now_s < expires)
        return (*self.signing_secrets, *retired)

    def keys_at(self, now_s: float) -> tuple[Ed25519PrivateKey, ...]:
        """The v1a signing keys in use: the current one, and each retired one until it expires."""
        return tuple(key for key, expires in self.signing_keys if expires is None or now_s < expires)


def _signing_keys(profile: CallbackProfile) -> tuple[tuple[Ed25519PrivateKey, float | None], ...]:
    if not (profile.sign_v1a and profile.signing_private_key):
        return ()
    retired = [(key, expires) for key, expires in signing.retired_signing_keys(profile)]
    stored: list[tuple[str, float | None]] = [(profile.signing_private_key, None), *retired]
    return tuple((signing.signing_key_load(key), expires) for key, expires in stored)


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


def _md5_fields(snapshot: ProfileSnapshot, item: Item) -> dict[str, str]:
    salt, account_id, api_key = snapshot.md5  # type: ignore[misc]
    callback_id = str(item.delivery_id)
    digest = signing.legacy_md5_hash(salt=salt, account_id=account_id, api_key=api_key, callback_id=callback_id)
    return {"type": item.event.type, "callback_id": callback_id, "hash": digest}


def _json_value(rendered: Any) -> Any:
    if isinstance(rendered, str):
        try:
            return json.loads(rendered)
        except ValueError:
            return rendered
    return rendered


def _list_item(snapshot: ProfileSnapshot, item: Item, rendered: Any) -> dict:
    """One item of `{"callbacks": [...]}`: an object carrying its own delivery id (and the MD5 fields)."""
    value = _json_value(rendered)
    body = dict(value) if isinstance(value, dict) else {"data": value}
    body["delivery_id"] = str(item.delivery_id)
    if snapshot.md5 is not None:
        body.update(_md5_fields(snapshot, item))
    return body


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _query_add(url: str, pairs: list[tuple[str, str]]) -> str:
    """`url` with `pairs` appended to its query, every reserved character percent-encoded."""
    if not pairs:
        return url
    parts = urlsplit(url)
    added = urlencode(pairs, quote_via=quote, safe="")
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def request_target(url: str) -> str:
    """The request target as sent on the request line: path (at least `/`) and query."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _bodyless_url(snapshot: ProfileSnapshot, item: Item, rendered: Any, context: dict) -> str:
    """GET and DELETE: the event in the URL, as its placeholders say or as the standard envelope."""
    if snapshot.url_has_placeholders:
        url = templating.url_render(url=snapshot.url, context=context)
        pairs: list[tuple[str, str]] = []
    else:
        url = snapshot.url
        envelope = rendered if isinstance(rendered, dict) else {}
        pairs = [
            ("id", str(envelope.get("id", item.event.id))),
            ("type", item.event.type),
            ("timestamp", str(envelope.get("timestamp", timestamp_text(item.event.created_at)))),
            ("data", _compact(envelope.get("data", {}))),
        ]
    if snapshot.md5 is not None:
        fields = _md5_fields(snapshot, item)
        pairs += [("callback_id", fields["callback_id"]), ("hash", fields["hash"])]
    return _query_add(url, pairs)


def request_render(
    snapshot: ProfileSnapshot,
    items: list[Item],
    *,
    batch_id: uuid.UUID | None = None,
    now_s: float | None = None,
) -> RenderedRequest:
    """The request for `items`: one delivery, or the members of the batch `batch_id` in their order.

    POST and PUT carry the body; GET and DELETE carry none, the event going in the URL, and their
    Standard Webhooks signature covers the request target (path and query) as sent.
    """
    now_s = time.time() if now_s is None else now_s
    rendered = [_item_render(snapshot, item) for item in items]
    url = snapshot.url
    if snapshot.method in BODYLESS_METHODS:
        url = _bodyless_url(snapshot, items[0], rendered[0][0], rendered[0][1])
        body = b""
        signed = request_target(url).encode()
    else:
        is_json = snapshot.body_type == "json"
        if is_json and (batch_id is not None or snapshot.batch_max_size > 1 or snapshot.md5 is not None):
            values = [_list_item(snapshot, item, text) for item, (text, _) in zip(items, rendered, strict=True)]
            body_text = _compact({"callbacks": values})
        else:
            first = rendered[0][0]
            body_text = first if isinstance(first, str) else _compact(first)
        body = signed = body_text.encode()
        if snapshot.url_has_placeholders:
            url = templating.url_render(url=url, context=rendered[0][1])
    webhook_id = str(batch_id) if batch_id is not None else str(items[0].delivery_id)
    headers = dict(snapshot.static_headers)
    if snapshot.md5 is not None and snapshot.body_type != "json" and snapshot.method not in BODYLESS_METHODS:
        fields = _md5_fields(snapshot, items[0])
        headers["X-Callback-Id"] = fields["callback_id"]
        headers["X-Callback-Hash"] = fields["hash"]
    # webhook-id and webhook-timestamp go out signed or not, so any receiver can deduplicate.
    headers["webhook-id"] = webhook_id
    headers["webhook-timestamp"] = str(int(now_s))
    secrets, keys = snapshot.secrets_at(now_s), snapshot.keys_at(now_s)
    signatures = []
    if secrets:
        signatures.append(
            signing.standard_signatures(secrets=secrets, message_id=webhook_id, timestamp=int(now_s), body=signed)
        )
    if keys:
        signatures.append(
            signing.asymmetric_signatures(keys=keys, message_id=webhook_id, timestamp=int(now_s), body=signed)
        )
    if signatures:
        headers["webhook-signature"] = " ".join(signatures)
    return RenderedRequest(
        method=snapshot.method,
        url=url,
        headers=headers,
        body=body,
        webhook_id=webhook_id,
        delivery_ids=[item.delivery_id for item in items],
    )
