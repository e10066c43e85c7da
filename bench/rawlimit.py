"""The raw limit of the box: plain `requests` sessions posting signed bodies, no database at all.

Two processes, each one `requests.Session()` with default settings, post the same kind of body the
engine sends (the standard envelope, Standard Webhooks headers) to the same receiver. What they
reach per second is the ceiling the engine is measured against.
"""

from __future__ import annotations

import json
import multiprocessing
import time
import uuid

import requests

from callbacks.delivery.render.signing import signing_secret_generate, standard_signature

PROCESSES = 2


def signed_request(secret: str) -> tuple[bytes, dict[str, str]]:
    """One body and its headers, as the engine would send them for a fresh delivery."""
    delivery_id = str(uuid.uuid4())
    timestamp = int(time.time())
    body = json.dumps(
        {
            "id": delivery_id,
            "type": "message.status",
            "timestamp": timestamp,
            "data": {"message_id": "m-1", "phone": "+6591234567", "status": "delivered"},
        },
        separators=(",", ":"),
    ).encode()
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret=secret, message_id=delivery_id, timestamp=timestamp, body=body),
    }
    return body, headers


def _post_loop(url: str, count: int, duration_s: float) -> tuple[int, float, int]:
    """Posts until `count` requests or `duration_s`; returns (sent, seconds, non-2xx answers)."""
    secret = signing_secret_generate()
    session = requests.Session()
    sent = failed = 0
    started = time.perf_counter()
    deadline = started + duration_s
    while sent < count and time.perf_counter() < deadline:
        body, headers = signed_request(secret)
        response = session.post(url, data=body, headers=headers, timeout=10)
        failed += not response.ok
        sent += 1
    return sent, time.perf_counter() - started, failed


def raw_limit_measure(*, url: str, count: int = 20_000, duration_s: float = 8.0) -> dict:
    """Requests per second of PROCESSES processes at once against `url`."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        # A short warm-up lets both processes import and connect before the clock starts.
        pool.starmap(_post_loop, [(url, 50, 5.0)] * PROCESSES)
        results = pool.starmap(_post_loop, [(url, count // PROCESSES, duration_s)] * PROCESSES)
    sent = sum(result[0] for result in results)
    seconds = max(result[1] for result in results)
    return {
        "requests": sent,
        "seconds": round(seconds, 2),
        "per_second": round(sent / seconds),
        "failed": sum(result[2] for result in results),
    }
