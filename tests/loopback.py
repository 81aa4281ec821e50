"""Real loopback servers for the API layer's tests: a fake API, a dripping server, a proxy.

They are real sockets on 127.0.0.1 speaking real HTTP (and TLS with real certificates), so
the client's whole path - proxy choice, CONNECT, TLS handshake, headers, deadline - runs.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Answer = tuple[int, Any]  # status and a JSON-able body (bytes are sent as they are)


class FakeAPI:
    """An HTTP(S) server answering GETs from ``routes`` (path -> answer); records requests."""

    def __init__(self, routes: dict[str, Answer], tls: tuple[Path, Path] | None = None) -> None:
        self.routes = routes
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                owner.requests.append((self.command, self.path, dict(self.headers.items())))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                status, body = owner.routes.get(path, (404, {"kind": "Status", "code": 404}))
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        # serve_forever looks for shutdown() every poll_interval (0.5 s by default): each test's
        # close waited for it, 0.4 s a test
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def fake_api(routes: dict[str, Answer], tls: tuple[Path, Path] | None = None) -> Iterator[FakeAPI]:
    api = FakeAPI(routes, tls)
    try:
        yield api
    finally:
        api.close()


@contextmanager
def dripping_server(interval: float) -> Iterator[str]:
    """A server that answers a status line, then one header line every ``interval`` s, forever."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                n = 0
                while not stop.wait(interval):
                    n += 1
                    conn.sendall(f"X-Drip-{n}: {n}\r\n".encode())
            except OSError:
                return

    def accept() -> None:
        while not stop.is_set():
            readable, _, _ = select.select([listener], [], [], 0.1)
            if readable:
                conn, _ = listener.accept()
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


class Proxy:
    """An HTTP proxy (CONNECT and absolute-URI GET) that sends every connection to ``upstream``.

    ``seen`` records each request line: the test proves the client went through it (or not).
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.seen: list[str] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self._listener], [], [], 0.1)
            if readable:
                conn, _ = self._listener.accept()
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode()
            self.seen.append(line)
            with socket.create_connection(self.upstream) as upstream:
                if line.startswith("CONNECT "):
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    rest = head.split(b"\r\n\r\n", 1)[1]
                else:  # absolute URI: send the request on with an origin-form target
                    method, target, version = line.split(" ", 2)
                    path = "/" + target.split("://", 1)[1].split("/", 1)[1]
                    rest = head.replace(line.encode(), f"{method} {path} {version}".encode(), 1)
                if rest:
                    upstream.sendall(rest)
                _pump(client, upstream)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()


def _pump(a: socket.socket, b: socket.socket) -> None:
    while True:
        readable, _, _ = select.select([a, b], [], [], 5)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (b if sock is a else a).sendall(data)


@contextmanager
def proxy(upstream_port: int) -> Iterator[Proxy]:
    server = Proxy(("127.0.0.1", upstream_port))
    try:
        yield server
    finally:
        server.close()


def kubeconfig(
    path: Path,
    server: str,
    *,
    cluster: dict[str, Any] | None = None,
    user: dict[str, Any] | None = None,
) -> Path:
    """Write a one-context kubeconfig for ``server`` and return its path."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server, **(cluster or {})}}],
        "users": [{"name": "u", "user": user if user is not None else {"token": "t0ken"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }
    path.write_text(json.dumps(config))
    return path


def one_error_line(stderr: str) -> str:
    """The single ``error:`` line of ``stderr``; fails on anything else (traceback, logging)."""
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one error line, got: {stderr!r}"
    assert lines[0].startswith("error: "), stderr
    assert lines[0].isprintable(), repr(lines[0])
    return lines[0]


Check = Callable[[str], None]


@contextmanager
def closing_server() -> Iterator[tuple[str, list[int]]]:
    """A server that reads each request and closes the connection without an answer; the
    list counts the connections, so a test sees every retry."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()
    accepted: list[int] = []

    def accept() -> None:
        while not stop.is_set():
            readable, _, _ = select.select([listener], [], [], 0.05)
            if readable:
                conn, _ = listener.accept()
                accepted.append(1)
                with conn:
                    conn.recv(65536)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join()
        listener.close()
