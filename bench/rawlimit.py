"""The raw limit of the box: HTTP clients posting signed bodies to the same receiver, no database at all.

Two clients are measured in the same run, each as two processes with 64 requests in flight:
our transport (the engine's event-loop client, callbacks/delivery/send) and aiohttp (asyncio, one
`ClientSession` per process). Every request carries the kind of body the engine sends (the standard
envelope, Standard Webhooks headers) and is signed as it goes. What they reach per second is the
ceiling the engine is measured against, and shows what our own client costs against a well-known one.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import threading
import time
import uuid

from callbacks.delivery.render.signing import signing_secret_generate, standard_signature

PROCESSES = 2
IN_FLIGHT = 64
CLIENTS = ("transport", "aiohttp")
TIMEOUT_S = 10.0
WARM_UP_COUNT = 200


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


def _transport_post_loop(url: str, count: int, duration_s: float) -> tuple[int, float, int]:
    """Our transport: each answer, on the loop's thread, sends the next request, IN_FLIGHT at a time."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-secret-key")
    os.environ.update(CALLBACKS_ALLOW_HTTP="true", CALLBACKS_ALLOW_PRIVATE_NETWORKS="true")
    django.setup()
    from callbacks.delivery.render.request import RenderedRequest
    from callbacks.delivery.send.transport import transport

    secret = signing_secret_generate()
    lock = threading.Lock()
    ended = threading.Event()
    counts = {"submitted": 0, "answered": 0, "failed": 0}
    started = time.perf_counter()
    deadline = started + duration_s

    def submit_next() -> None:
        with lock:
            if counts["submitted"] >= count or time.perf_counter() >= deadline:
                if counts["answered"] == counts["submitted"]:
                    ended.set()
                return
            counts["submitted"] += 1
        body, headers = signed_request(secret)
        request = RenderedRequest(method="POST", url=url, headers=headers, body=body, webhook_id=headers["webhook-id"])
        transport.submit(request, connect_timeout_s=TIMEOUT_S, response_timeout_s=TIMEOUT_S, done=answered)

    def answered(result) -> None:
        with lock:
            counts["answered"] += 1
            counts["failed"] += not (result.status and 200 <= result.status < 300)
        submit_next()

    for _ in range(IN_FLIGHT):
        submit_next()
    ended.wait(duration_s + TIMEOUT_S * 2)
    return counts["answered"], time.perf_counter() - started, counts["failed"]


def _aiohttp_post_loop(url: str, count: int, duration_s: float) -> tuple[int, float, int]:
    """aiohttp: IN_FLIGHT tasks on one session, each posting until the count or the time is spent."""
    import aiohttp

    secret = signing_secret_generate()
    counts = {"submitted": 0, "answered": 0, "failed": 0}

    async def worker(session: aiohttp.ClientSession, deadline: float) -> None:
        while counts["submitted"] < count and time.perf_counter() < deadline:
            counts["submitted"] += 1
            body, headers = signed_request(secret)
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                counts["answered"] += 1
                counts["failed"] += not response.ok

    async def run() -> float:
        connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            started = time.perf_counter()
            await asyncio.gather(*(worker(session, started + duration_s) for _ in range(IN_FLIGHT)))
            return started

    started = asyncio.run(run())
    return counts["answered"], time.perf_counter() - started, counts["failed"]


POST_LOOPS = {"transport": _transport_post_loop, "aiohttp": _aiohttp_post_loop}


def raw_limit_measure(*, url: str, count: int = 40_000, duration_s: float = 8.0) -> dict:
    """Requests per second of each client, PROCESSES processes at once against `url`; `per_second` is
    the better of the two (the ceiling the engine is held to)."""
    figures = {client: _client_measure(client, url=url, count=count, duration_s=duration_s) for client in CLIENTS}
    best = max(figures.values(), key=lambda measured: measured["per_second"])
    return {"per_second": best["per_second"], **figures}


def _client_measure(client: str, *, url: str, count: int, duration_s: float) -> dict:
    context = multiprocessing.get_context("spawn")
    post_loop = POST_LOOPS[client]
    with context.Pool(PROCESSES) as pool:
        # A short warm-up lets both processes import and connect before the clock starts.
        pool.starmap(post_loop, [(url, WARM_UP_COUNT, 5.0)] * PROCESSES)
        results = pool.starmap(post_loop, [(url, count // PROCESSES, duration_s)] * PROCESSES)
    sent = sum(result[0] for result in results)
    seconds = max(result[1] for result in results)
    return {
        "requests": sent,
        "seconds": round(seconds, 2),
        "per_second": round(sent / seconds),
        "failed": sum(result[2] for result in results),
    }
