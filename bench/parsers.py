"""The cost of reading one answer with each well-kept HTTP/1.1 parser we could use: httptools (llhttp)
and h11. The transport reads answers with the faster one.

    python -m bench.parsers [--count 50000]
"""

from __future__ import annotations

import argparse
import time

import h11
import httptools

# What nginx answers the engine's POST with: a short JSON body on a kept-alive connection.
ANSWER = (
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sun, 06 Dec 2026 09:00:00 GMT\r\n"
    b"Content-Type: application/json\r\nContent-Length: 44\r\nConnection: keep-alive\r\n\r\n"
    b'{"status_code": "000", "delivery_id": "r-1"}'
)


class _Collected:
    """What the transport keeps of an answer, through llhttp's callbacks."""

    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.body = bytearray()
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, data: bytes) -> None:
        self.body += data

    def on_message_complete(self) -> None:
        self.complete = True


def httptools_parse(answer: bytes) -> tuple[int, bytes]:
    collected = _Collected()
    parser = httptools.HttpResponseParser(collected)
    parser.feed_data(answer)
    assert collected.complete
    return parser.get_status_code(), bytes(collected.body)


def h11_parse(answer: bytes) -> tuple[int, bytes]:
    connection = h11.Connection(h11.CLIENT)
    connection.send(h11.Request(method="POST", target="/", headers=[("Host", "receiver"), ("Content-Length", "0")]))
    connection.send(h11.EndOfMessage())
    connection.receive_data(answer)
    status, body = 0, bytearray()
    while True:
        event = connection.next_event()
        if isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return status, bytes(body)
        elif event is h11.NEED_DATA:
            raise AssertionError("h11 wants more of a whole answer")


PARSERS = {"httptools": httptools_parse, "h11": h11_parse}


def parsers_measure(count: int = 50_000) -> dict[str, float]:
    """Microseconds per answer of each parser, best of three rounds."""
    figures = {}
    for name, parse in PARSERS.items():
        assert parse(ANSWER) == (200, ANSWER.rpartition(b"\r\n\r\n")[2])
        rounds = []
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(count):
                parse(ANSWER)
            rounds.append((time.perf_counter() - started) / count * 1e6)
        figures[name] = round(min(rounds), 2)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50_000)
    for name, microseconds in parsers_measure(parser.parse_args().count).items():
        print(f"{name:<10} {microseconds:>8.2f} µs per answer")
