"""HTTP/1.1 on the wire for the transport: the bytes of a request, and an incremental reader of the
answer (status, headers, a body framed by Content-Length, chunks or the closing of the connection,
kept up to a cap). Pure functions and state: no sockets here.
"""

from __future__ import annotations

import re

MAX_HEAD_BYTES = 64 * 1024
MAX_CHUNK_LINE_BYTES = 4 * 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE = re.compile(r"[\r\n\x00]")


class WireError(Exception):
    """The request cannot be written, or the answer does not read as HTTP/1.x."""


def request_bytes(
    *, method: str, host: str, port: int, default_port: int, target: str, headers: dict, body: bytes
) -> bytes:
    """The whole request: head and body. Header names must be tokens and values a single line."""
    host_header = f"[{host}]" if ":" in host else host
    if port != default_port:
        host_header = f"{host_header}:{port}"
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}", "Accept-Encoding: identity"]
    if body or method in BODY_METHODS:
        lines.append(f"Content-Length: {len(body)}")
    for name, value in headers.items():
        value = str(value)
        if not _TOKEN.fullmatch(name) or _FORBIDDEN_IN_VALUE.search(value):
            raise WireError(f"the header {name!r} cannot be sent: a name is one word, a value one line")
        if name.lower() not in OWN_HEADERS:  # the framing is ours to say
            lines.append(f"{name}: {value}")
    if any(not character.isprintable() or character == " " for character in target):
        raise WireError("the request target cannot hold spaces or control characters")
    try:
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError as error:
        raise WireError(f"a header holds a character HTTP/1.1 cannot carry: {error}") from error
    return head + body


class ResponseReader:
    """Fed the bytes of one answer as they come; `done` once it is whole (or the cap is reached)."""

    def __init__(self, *, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body_truncated = False
        self.done = False
        self.reusable = False  # the connection may carry another request afterwards
        self.received_any = False
        self._buffer = bytearray()
        self._body = bytearray()
        self._framing = ""  # "length", "chunked", "close" or "none"
        self._remaining = 0  # bytes of the body (length) or of the current chunk still to come
        self._chunk_state = "size"  # size, data, data_end, trailers
        self._keep_alive = False

    @property
    def body(self) -> bytes:
        return bytes(self._body)

    def feed(self, data: bytes) -> None:
        if data:
            self.received_any = True
        self._buffer += data
        while not self.done:
            if self.status is None:
                if not self._head_read():
                    return
            elif not self._body_read():
                return

    def eof(self) -> None:
        """The server closed the connection: the end of a close-delimited body, or an answer cut short."""
        if self.done:
            return
        if self.status is not None and self._framing == "close":
            self._finish(reusable=False)
            return
        if self.status is None:
            raise ConnectionError("the server closed the connection before answering")
        raise ConnectionError("the server closed the connection in the middle of the answer")

    # the head ---------------------------------------------------------------------------------------
    def _head_read(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                raise WireError(f"the answer's head is longer than {MAX_HEAD_BYTES} bytes")
            return False
        head = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[: end + 4]
        status_line, *header_lines = head.split("\r\n")
        version, status = self._status_parse(status_line)
        if 100 <= status < 200 and status != 101:
            return True  # an interim answer (100 Continue…): the real one follows
        headers: dict[str, str] = {}
        name = ""
        for line in header_lines:
            if line[:1] in (" ", "\t") and name:  # an obsolete folded continuation
                headers[name] += " " + line.strip()
                continue
            name, colon, value = line.partition(":")
            name = name.strip().lower()
            if not colon or not _TOKEN.fullmatch(name):
                raise WireError(f"the answer holds a header line that is not one: {line[:80]!r}")
            headers[name] = value.strip()
        self.status, self.headers = status, headers
        connection_tokens = {token.strip().lower() for token in headers.get("connection", "").split(",")}
        self._keep_alive = (
            "close" not in connection_tokens if version == "HTTP/1.1" else "keep-alive" in connection_tokens
        )
        self._framing_choose()
        return True

    @staticmethod
    def _status_parse(line: str) -> tuple[str, int]:
        version, _, rest = line.partition(" ")
        code = rest.partition(" ")[0]
        if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not code.isdigit():
            raise WireError(f"the answer does not begin with an HTTP/1.x status line: {line[:80]!r}")
        return version, int(code)

    def _framing_choose(self) -> None:
        status = self.status or 0
        transfer = self.headers.get("transfer-encoding", "").lower()
        if status in (204, 304) or status == 101:
            self._framing = "none"
        elif transfer:
            if transfer.rsplit(",", 1)[-1].strip() != "chunked":
                raise WireError(f"the answer's transfer encoding {transfer!r} is not chunked")
            self._framing = "chunked"
        elif "content-length" in self.headers:
            lengths = {value.strip() for value in self.headers["content-length"].split(",")}
            if len(lengths) != 1 or not next(iter(lengths)).isdigit():
                raise WireError(f"the answer's Content-Length {self.headers['content-length']!r} is not a number")
            self._framing, self._remaining = "length", int(lengths.pop())
        else:
            self._framing = "close"
        if self._framing == "none" or (self._framing == "length" and self._remaining == 0):
            self._finish(reusable=self._keep_alive and status != 101)

    # the body ---------------------------------------------------------------------------------------
    def _body_read(self) -> bool:
        if self._framing == "chunked":
            return self._chunk_read()
        if not self._buffer:
            return False
        if self._framing == "length":
            take = min(self._remaining, len(self._buffer))
            self._keep(self._buffer[:take])
            del self._buffer[:take]
            self._remaining -= take
            if self._remaining == 0 and not self.done:
                self._finish(reusable=self._keep_alive and not self._buffer)
        else:
            self._keep(self._buffer)
            self._buffer.clear()
        return not self.done and bool(self._buffer)

    def _chunk_read(self) -> bool:
        if self._chunk_state in ("size", "trailers", "data_end"):
            end = self._buffer.find(b"\r\n")
            if end < 0:
                if len(self._buffer) > MAX_CHUNK_LINE_BYTES:
                    raise WireError("a chunk of the answer is not framed as HTTP/1.1 chunks are")
                return False
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 2]
            if self._chunk_state == "data_end":
                if line:
                    raise WireError("a chunk of the answer does not end where its size said")
                self._chunk_state = "size"
            elif self._chunk_state == "trailers":
                if not line:
                    self._finish(reusable=self._keep_alive and not self._buffer)
            else:
                size_text = line.split(b";", 1)[0].strip()
                try:
                    self._remaining = int(size_text, 16)
                except ValueError as error:
                    raise WireError(f"a chunk size of the answer is not hexadecimal: {size_text[:20]!r}") from error
                self._chunk_state = "trailers" if self._remaining == 0 else "data"
            return True
        if not self._buffer:
            return False
        take = min(self._remaining, len(self._buffer))
        self._keep(self._buffer[:take])
        del self._buffer[:take]
        self._remaining -= take
        if self._remaining == 0:
            self._chunk_state = "data_end"
        return not self.done

    def _keep(self, data: bytes | bytearray) -> None:
        room = self.max_body_bytes - len(self._body)
        if len(data) > room:
            self._body += data[:room]
            self.body_truncated = True
            self._finish(reusable=False)  # the rest stays unread
        else:
            self._body += data

    def _finish(self, *, reusable: bool) -> None:
        self.done = True
        self.reusable = reusable
