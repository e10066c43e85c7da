"""Receivers for the benchmark and the fault runs, each a child process on 127.0.0.1.

`NginxReceiver`: Debian's nginx answering `return 200`, logging `webhook-id` and arrival time.
`ScriptedReceiver`: our own asyncio HTTP/1.1 keep-alive server (this module run as a program)
whose path picks the behaviour (delay, hang, drip, big answer, status) and which counts, per
`webhook-id`, arrivals and requests in flight at once.
`RedisServer`: a private redis-server (no persistence) that a fault run stops and starts again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from pathlib import Path

import requests

NGINX_BINARY = "/usr/sbin/nginx"
REDIS_BINARY = "/usr/bin/redis-server"
START_TIMEOUT_S = 10.0
STATS_PATH = "/_stats"
ORDERED_PATH = "/ordered/"
RESET_PATH = "/_reset"
HANG_S = 3600.0


def free_port() -> int:
    """A TCP port nobody listens on right now (the small race is fine on a test box)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_wait(port: int, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


NGINX_CONFIG = """
daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format arrivals '$http_webhook_id $msec';
    access_log {root}/access.log arrivals buffer=256k flush=200ms;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    client_max_body_size 16m;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        location / {{ return 200 "ok"; }}
    }}
}}
"""


class NginxReceiver:
    """nginx `return 200` as a child process; `arrivals()` reads webhook-id → first arrival."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None

    def start(self) -> NginxReceiver:
        config = self.root / "nginx.conf"
        config.write_text(NGINX_CONFIG.format(root=self.root, port=self.port))
        self.process = subprocess.Popen(
            [NGINX_BINARY, "-p", str(self.root), "-c", str(config), "-e", str(self.root / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_wait(self.port)
        return self

    def arrivals(self) -> dict[str, float]:
        """webhook-id → first arrival (unix seconds); nginx flushes its log within 200 ms."""
        time.sleep(0.4)
        first: dict[str, float] = {}
        path = self.root / "access.log"
        if not path.exists():
            return first
        with path.open() as log:
            for line in log:
                webhook_id, _, at = line.strip().rpartition(" ")
                if webhook_id and webhook_id != "-":
                    first.setdefault(webhook_id, float(at))
        return first

    def count(self) -> int:
        path = self.root / "access.log"
        if not path.exists():
            return 0
        with path.open("rb") as log:
            return sum(1 for _ in log)

    def reset(self) -> None:
        # nginx keeps the file open: truncating keeps its descriptor valid.
        with contextlib.suppress(FileNotFoundError):
            os.truncate(self.root / "access.log", 0)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> NginxReceiver:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


class ScriptedReceiver:
    """Our asyncio receiver as a child process. Paths: `/delay/<ms>`, `/hang`, `/drip/<bytes>/<ms>`,
    `/big/<bytes>`, `/status/<code>`, `/ordered/<percent>` (fails that share of first attempts, counts
    events of a key that arrive before an earlier one was answered 2xx); anything else answers 200 after
    `default_delay_ms`."""

    def __init__(self, *, default_delay_ms: int = 0, port: int | None = None) -> None:
        self.default_delay_ms = default_delay_ms
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.session = requests.Session()
        self.session.trust_env = False

    def start(self) -> ScriptedReceiver:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.servers",
                "--port",
                str(self.port),
                "--delay-ms",
                str(self.default_delay_ms),
            ],
            cwd=Path(__file__).resolve().parents[1],
        )
        port_wait(self.port)
        return self

    def stats(self) -> dict:
        return self.session.get(self.url + STATS_PATH, timeout=30).json()

    def reset(self) -> None:
        self.session.post(self.url + RESET_PATH, timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def __enter__(self) -> ScriptedReceiver:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
        self.session.close()


class RedisServer:
    """redis-server on a free port of 127.0.0.1 with a temporary directory and nothing saved to disk, so
    stopping it loses every key, as a restart of a cache-only Redis does. `stop()` then `start()` again
    serves the same address."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="chaos-redis-"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> RedisServer:
        if self.running:
            return self
        arguments = ["--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.root), "--save", ""]
        arguments += ["--appendonly", "no", "--daemonize", "no", "--logfile", str(self.root / "redis.log")]
        self.process = subprocess.Popen(
            [REDIS_BINARY, *arguments],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_wait(self.port)
        return self

    def stop(self) -> None:
        """SIGTERM (a clean shutdown, as a service restart does), SIGKILL if it does not end in time."""
        if not self.running:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


# --- the asyncio server (runs in the child process) ------------------------------------------------


class Records:
    """What arrived: per webhook-id the arrival times, in-flight count and the most at once."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.in_flight_by_id: dict[str, int] = defaultdict(int)
        self.max_in_flight_by_id: dict[str, int] = defaultdict(int)
        self.paths: dict[str, int] = defaultdict(int)
        self.in_flight = 0
        self.max_in_flight = 0
        self.total = 0
        # `/ordered/<percent>`: which events (`data.message_id`, `data.seq`) of each key have been answered
        # 2xx, and how many arrived before an earlier one of their key had.
        self.settled: dict[str, set[int]] = defaultdict(set)
        self.out_of_order = 0
        self.failed_first = 0

    def as_json(self) -> dict:
        return {
            "total": self.total,
            "max_in_flight": self.max_in_flight,
            "max_in_flight_same_id": max(self.max_in_flight_by_id.values(), default=0),
            "paths": dict(self.paths),
            "arrivals": dict(self.arrivals),
            "ordered": {
                "keys": len(self.settled),
                "out_of_order": self.out_of_order,
                "failed_first": self.failed_first,
            },
        }

    def ordered_answer(self, webhook_id: str, body: bytes, fail_percent: int) -> int:
        """The status for an `/ordered/<percent>` request: 500 for `fail_percent` % of first attempts (chosen
        by the delivery id, so the same ones fail whatever the order), else 200; counts arrivals out of order."""
        data = json.loads(body).get("data") or {}
        key, seq = str(data.get("message_id")), int(data.get("seq", 0))
        settled = self.settled[key]
        if any(earlier not in settled for earlier in range(seq)):
            self.out_of_order += 1
        if len(self.arrivals[webhook_id]) == 1 and zlib.crc32(webhook_id.encode()) % 100 < fail_percent:
            self.failed_first += 1
            return 500
        settled.add(seq)
        return 200


async def _answer(writer: asyncio.StreamWriter, status: int, body: bytes = b"ok") -> None:
    writer.write(
        f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\nContent-Type: text/plain\r\n\r\n".encode() + body
    )
    await writer.drain()


async def _behave(path: str, writer: asyncio.StreamWriter, default_delay_ms: int) -> None:
    parts = [part for part in path.split("?")[0].split("/") if part]
    kind = parts[0] if parts else ""
    if kind == "delay":
        await asyncio.sleep(int(parts[1]) / 1000)
        await _answer(writer, 200)
    elif kind == "hang":
        await asyncio.sleep(HANG_S)
    elif kind == "drip":
        size, pause_ms = int(parts[1]), int(parts[2])
        writer.write(f"HTTP/1.1 200 X\r\nContent-Length: {size}\r\n\r\n".encode())
        for _ in range(size):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(pause_ms / 1000)
    elif kind == "big":
        size = int(parts[1])
        writer.write(f"HTTP/1.1 200 X\r\nContent-Length: {size}\r\n\r\n".encode())
        chunk = b"x" * 65536
        for offset in range(0, size, len(chunk)):
            writer.write(chunk[: size - offset])
            await writer.drain()
    elif kind == "status":
        await _answer(writer, int(parts[1]), b'{"error": "scripted"}')
    else:
        if default_delay_ms:
            await asyncio.sleep(default_delay_ms / 1000)
        await _answer(writer, 200)


async def _serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, records: Records, default_delay_ms: int
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            _, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            body = await reader.readexactly(length) if length else b""
            if path == STATS_PATH:
                await _answer(writer, 200, json.dumps(records.as_json()).encode())
                continue
            if path == RESET_PATH:
                records.reset()
                await _answer(writer, 200)
                continue
            webhook_id = headers.get("webhook-id", "")
            records.total += 1
            records.paths[path.split("?")[0]] += 1
            records.in_flight += 1
            records.max_in_flight = max(records.max_in_flight, records.in_flight)
            if webhook_id:
                records.arrivals[webhook_id].append(time.time())
                records.in_flight_by_id[webhook_id] += 1
                records.max_in_flight_by_id[webhook_id] = max(
                    records.max_in_flight_by_id[webhook_id], records.in_flight_by_id[webhook_id]
                )
            try:
                if path.startswith(ORDERED_PATH):
                    await _answer(writer, records.ordered_answer(webhook_id, body, int(path.split("/")[2])))
                else:
                    await _behave(path, writer, default_delay_ms)
            finally:
                records.in_flight -= 1
                if webhook_id:
                    records.in_flight_by_id[webhook_id] -= 1
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _main(port: int, default_delay_ms: int) -> None:
    records = Records()
    server = await asyncio.start_server(
        lambda reader, writer: _serve_connection(reader, writer, records, default_delay_ms),
        "127.0.0.1",
        port,
        backlog=4096,
        reuse_address=True,
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=int, default=0)
    arguments = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run(_main(arguments.port, arguments.delay_ms))
