"""Raw-socket servers on 127.0.0.1 for the transport's suites: each connection is handed to a script
that reads requests and writes whatever bytes the case needs, and an HTTP proxy (CONNECT tunnels and
absolute-form requests) that records what it was asked for.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator

WAIT_S = 10.0  # the longest any server step waits on the client: a bound, never a pace


def request_read(connection: socket.socket) -> bytes | None:
    """One request, head and Content-Length body, or None when the client closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = head_content_length(head)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def head_read(connection: socket.socket) -> bytes:
    """The request's head only, the body left unread in the socket."""
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        chunk = connection.recv(1)
        if not chunk:
            return data
        data += chunk
    return data


def head_content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


class ScriptedServer:
    """Hands each accepted connection to `script(server, connection, index)` on a thread of its own."""

    def __init__(
        self, script: Callable[[ScriptedServer, socket.socket, int], None], *, tls: ssl.SSLContext | None = None
    ) -> None:
        self.script = script
        self.tls = tls
        self.connections = 0
        self.requests: list[bytes] = []
        self.finished = threading.Event()  # set by a script when its case is played out
        self.closed_connections = 0
        self._closed = threading.Condition()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str = "/hook", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            index = self.connections
            self.connections += 1
            threading.Thread(target=self._talk, args=(connection, index), daemon=True).start()

    def _talk(self, connection: socket.socket, index: int) -> None:
        try:
            if self.tls is not None:
                connection = self.tls.wrap_socket(connection, server_side=True)
            self.script(self, connection, index)
        except (OSError, ssl.SSLError):
            pass
        finally:
            connection.close()
            with self._closed:
                self.closed_connections += 1
                self._closed.notify_all()

    def wait_closed(self, count: int) -> None:
        """Until `count` connections have been closed on the server's side."""
        with self._closed:
            assert self._closed.wait_for(lambda: self.closed_connections >= count, timeout=WAIT_S)

    def close(self) -> None:
        self._listener.close()


def answers_script(*answers: bytes, close_after: bool = False) -> Callable[[ScriptedServer, socket.socket, int], None]:
    """Answers the requests of all connections with `answers` in turn, each request read whole."""
    remaining = list(answers)

    def script(server: ScriptedServer, connection: socket.socket, index: int) -> None:
        while remaining:
            request = request_read(connection)
            if request is None:
                return
            server.requests.append(request)
            connection.sendall(remaining.pop(0))
            if close_after:
                return

    return script


@contextlib.contextmanager
def scripted_servers() -> Iterator[Callable[..., ScriptedServer]]:
    started: list[ScriptedServer] = []

    def make(script, **options) -> ScriptedServer:
        started.append(ScriptedServer(script, **options))
        return started[-1]

    try:
        yield make
    finally:
        for server in started:
            server.finished.set()
            server.close()


class HttpProxy(ScriptedServer):
    """A forward proxy: `CONNECT host:port` opens a tunnel, an absolute-form request is passed on in
    origin form. `asked` records each CONNECT authority or absolute URI, in order."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.heads: list[bytes] = []
        super().__init__(lambda server, client, index: self._handle(client))
        self.url = f"http://127.0.0.1:{self.port}"

    def _handle(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            head = head_read(client)
            if not head:
                return
            self.heads.append(head)
            request_line, _, rest = head.partition(b"\r\n")
            method, target, version = request_line.decode("latin-1").split(" ")
            self.asked.append(target)
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=WAIT_S)
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                authority, _, path = target.removeprefix("http://").partition("/")
                host, _, port = authority.rpartition(":")
                upstream = socket.create_connection((host.strip("[]"), int(port or 80)), timeout=WAIT_S)
                upstream.sendall(f"{method} /{path} {version}\r\n".encode("latin-1") + rest)
            self._pipe(client, upstream)
        except ValueError:
            return
        finally:
            if upstream is not None:
                upstream.close()

    @staticmethod
    def _pipe(client: socket.socket, upstream: socket.socket) -> None:
        """Bytes both ways until either side closes."""
        pair = {client: upstream, upstream: client}
        while True:
            readable, _, _ = select.select(list(pair), [], [], WAIT_S)
            if not readable:
                return
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                pair[source].sendall(data)
