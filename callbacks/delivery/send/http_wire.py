"""HTTP/1.1 on the wire for the transport: the bytes of a request, and a reader of the answer on
llhttp (the parser of Node.js, through httptools): status, headers and a body kept up to a cap.
Pure functions and state: no sockets here.
"""

from __future__ import annotations

import re

import httptools

MAX_HEAD_BYTES = 64 * 1024
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
    """Fed the bytes of one answer as they come; `done` once it is whole (or the cap is reached).

    llhttp (through httptools) does the reading and refuses what RFC 9112 calls invalid: two
    Content-Length headers, Content-Length beside Transfer-Encoding, bad chunks. Interim answers
    (1xx) are skipped; 204 and 304 carry no body; a body with no length ends when the server closes.
    """

    def __init__(self, *, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body_truncated = False
        self.done = False
        self.reusable = False  # the connection may carry another request afterwards
        self.received_any = False
        self._body = bytearray()
        self._head_fed = 0  # bytes fed while the head was not yet whole
        self._head_bytes = 0  # of the header lines read
        self._in_head = True
        self._parser = httptools.HttpResponseParser(self)

    @property
    def body(self) -> bytes:
        return bytes(self._body)

    def feed(self, data: bytes) -> None:
        if not data or self.done:
            return
        self.received_any = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish(reusable=False)  # 101 Switching Protocols: nothing we asked for, and nothing more to read
        except httptools.HttpParserError as error:
            if not self.done:  # bytes after a whole answer only make the connection unusable
                raise WireError(f"the answer is not valid HTTP/1.1: {error}") from error
            self.reusable = False
        if self._in_head:
            self._head_fed += len(data)  # a head still coming is buffered by the parser: bound it
        if self._head_fed > MAX_HEAD_BYTES or self._head_bytes > MAX_HEAD_BYTES:
            raise WireError(f"the answer's head is longer than {MAX_HEAD_BYTES} bytes")

    def eof(self) -> None:
        """The server closed the connection: the end of a close-delimited body, or an answer cut short."""
        if self.done:
            return
        if self.status is not None and not self._in_head and self._close_delimited():
            self._finish(reusable=False)
            return
        if self.status is None:
            raise ConnectionError("the server closed the connection before answering")
        raise ConnectionError("the server closed the connection in the middle of the answer")

    def _close_delimited(self) -> bool:
        # RFC 9112 6.3: with neither a length nor chunked framing, the body runs to the end of the connection.
        transfer = self.headers.get("transfer-encoding", "").lower()
        chunked = transfer.rsplit(",", 1)[-1].strip() == "chunked"
        return "content-length" not in self.headers and not chunked

    # llhttp's callbacks -----------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.done:
            self.reusable = False  # the server wrote beyond its answer: do not trust the connection
        self._in_head = True
        self._head_fed = self._head_bytes = 0
        self.headers = {}

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.done:
            return
        self._head_bytes += len(name) + len(value)
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1").strip()
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        if self.done:
            return
        self._in_head = False
        if self._head_bytes > MAX_HEAD_BYTES:
            return  # refused once the feed returns
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            return  # an interim answer (100 Continue, 103 Early Hints…): the real one follows
        self.status = status

    def on_body(self, data: bytes) -> None:
        if self.done:
            return
        room = self.max_body_bytes - len(self._body)
        if len(data) > room:
            self._body += data[:room]
            self.body_truncated = True
            self._finish(reusable=False)  # the rest stays unread
        else:
            self._body += data

    def on_message_complete(self) -> None:
        if self.done:
            return
        if self.status is None:
            self.headers = {}  # the end of an interim answer
            return
        self._finish(reusable=self._parser.should_keep_alive())

    def _finish(self, *, reusable: bool) -> None:
        self.done = True
        self.reusable = reusable
