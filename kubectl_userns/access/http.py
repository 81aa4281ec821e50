"""HTTP to the Kubernetes API as kubectl's client-go does it: one deadline, Go's proxy rules.

* ``--request-timeout`` is the deadline of the whole request - credential plugin, connect,
  proxy tunnel, TLS handshake, headers and body - as for kubectl (client-go sets it as the
  ``http.Client`` timeout, kubernetes/kubernetes staging/src/k8s.io/client-go/rest/config.go
  ``Timeout``). A watchdog shuts the socket down when it passes, so a server that drips one
  header line at a time cannot stretch it. Nothing is retried behind the caller's back, except
  an idempotent request on a kept-alive connection the server had already closed.
* Proxies: the cluster's ``proxy-url`` when set (for every server, as ``http.ProxyURL``);
  otherwise ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (upper case first) with the rules of
  Go's golang.org/x/net/http/httpproxy ``useProxy``: never for ``localhost`` or a loopback IP,
  ``NO_PROXY`` entries are ``*``, CIDRs, IPs, and domains (``example.com`` matches itself and
  its subdomains, ``.example.com`` and ``*.example.com`` only subdomains), each with an
  optional port. Only ``http://`` proxies are spoken to; others are named in an error.
* ``User-Agent: kubectl-userns/<version> (<os>/<arch>)``, the form of client-go's
  ``DefaultKubernetesUserAgent`` (rest/config.go), so API audit logs name the tool.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import platform
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from kubectl_userns import __version__
from kubectl_userns.access.proxy import default_port, proxy_for
from kubectl_userns.access.restconfig import RestConfig, mask_url
from kubectl_userns.access.tls import ca_description, ssl_context
from kubectl_userns.errors import APIUnreachableError
from kubectl_userns.text import quoted

_GOARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def user_agent() -> str:
    """``kubectl-userns/<version> (<os>/<arch>)``, with Go's names for OS and architecture."""
    goos = {"win32": "windows", "darwin": "darwin"}.get(
        sys.platform, sys.platform.rstrip("0123456789")
    )
    machine = platform.machine().lower()
    return f"kubectl-userns/{__version__} ({goos}/{_GOARCH.get(machine, machine or 'unknown')})"


# --- the transport -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Route:
    """Where the TCP connection goes, and what is said once it is there."""

    dial_host: str
    dial_port: int
    target_host: str
    target_port: int
    tls: bool
    tunnel: bool  # CONNECT through an http proxy (https targets)
    absolute: bool  # absolute-URI requests to an http proxy (http targets)
    proxy_auth: str | None
    proxy_display: str | None


class Deadline:
    """The end of one request (None: no deadline)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds if seconds else None
        self.end = None if self.seconds is None else time.monotonic() + self.seconds

    def remaining(self) -> float | None:
        if self.end is None:
            return None
        return max(self.end - time.monotonic(), 0.001)

    def passed(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end


class _Watchdog:
    """Shuts a socket down when the deadline passes; blocked reads then return at once."""

    def __init__(self, deadline: Deadline) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self.fired = False
        self._timer: threading.Timer | None = None
        remaining = deadline.remaining()
        if remaining is not None:
            self._timer = threading.Timer(remaining, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self.fired:
                _shutdown(sock)
            # a second descriptor of the same socket (an SSLSocket cannot be dup()ed)
            self._socks.append(socket.socket(fileno=os.dup(sock.fileno())))

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._socks:
                _shutdown(sock)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            for sock in self._socks:
                sock.close()
            self._socks = []


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class TLSVerifyError(Exception):
    """The server's certificate did not verify (raised by the connection, mapped by Transport)."""

    def __init__(self, detail: str, server_name: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.server_name = server_name


class ProxyRefusedError(Exception):
    """The proxy answered CONNECT with something else than 200."""


class _Connection(http.client.HTTPConnection):
    """One connection along a route; ``connect`` dials, tunnels and does TLS itself."""

    def __init__(self, route: _Route, context: ssl.SSLContext | None, server_name: str) -> None:
        super().__init__(route.dial_host, route.dial_port)
        self.route = route
        self._context = context
        self._server_name = server_name
        self.watchdog: _Watchdog | None = None
        self.deadline: Deadline = Deadline(None)

    def connect(self) -> None:
        route = self.route
        sock = socket.create_connection(
            (route.dial_host, route.dial_port), timeout=self.deadline.remaining()
        )
        if self.watchdog is not None:
            self.watchdog.watch(sock)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if route.tunnel:
                _tunnel(sock, route)
            if route.tls:
                assert self._context is not None
                try:
                    sock = self._context.wrap_socket(sock, server_hostname=self._server_name)
                except ssl.SSLCertVerificationError as exc:
                    raise TLSVerifyError(
                        str(exc.verify_message or exc.reason or exc), self._server_name
                    ) from None
        except BaseException:
            sock.close()
            raise
        sock.settimeout(None)  # the watchdog ends blocked reads at the deadline
        self.sock = sock


def _tunnel(sock: socket.socket, route: _Route) -> None:
    """HTTP CONNECT to the target through the proxy on ``sock`` (RFC 9110 9.3.6)."""
    target = f"{_bracket(route.target_host)}:{route.target_port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}", f"User-Agent: {user_agent()}"]
    if route.proxy_auth:
        lines.append(f"Proxy-Authorization: {route.proxy_auth}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            raise ProxyRefusedError("the proxy closed the connection")
        answer += chunk
        if len(answer) > 65536:
            raise ProxyRefusedError("the proxy's answer to CONNECT is too long")
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or parts[1] != "200":
        raise ProxyRefusedError(f"the proxy answered CONNECT with {quoted(status_line)}")


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class Transport:
    """Sends requests to one API server; thread-safe, keeps idle connections for reuse."""

    def __init__(self, config: RestConfig, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        parts = urlsplit(config.server)
        self._scheme = parts.scheme
        self._host = parts.hostname or ""
        self._port = parts.port or int(default_port(parts.scheme))
        self._base_path = parts.path
        self._netloc = parts.netloc
        self.server_name = config.tls_server_name or self._host
        self._proxy = proxy_for(config, env)
        self._route = self._make_route()
        self._context: ssl.SSLContext | None = None
        self._context_lock = threading.Lock()
        self._idle: list[_Connection] = []
        self._idle_lock = threading.Lock()

    def _make_route(self) -> _Route:
        tls = self._scheme == "https"
        if self._proxy is None:
            return _Route(
                self._host, self._port, self._host, self._port, tls, False, False, None, None
            )
        proxy = urlsplit(self._proxy)
        shown = mask_url(self._proxy)
        if proxy.scheme != "http":
            raise APIUnreachableError(
                f"the proxy {shown} for the Kubernetes API at {self.config.server_display} is a "
                f"{proxy.scheme}:// proxy, which kubectl-userns does not speak (only http://); "
                "use an http:// proxy in HTTPS_PROXY or the cluster's proxy-url."
            )
        auth = None
        if proxy.username is not None:
            pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
            auth = "Basic " + base64.b64encode(pair.encode()).decode()
        return _Route(
            proxy.hostname or "",
            proxy.port or 80,
            self._host,
            self._port,
            tls,
            tls,
            not tls,
            auth,
            shown,
        )

    @property
    def proxy_display(self) -> str | None:
        return self._route.proxy_display

    def ca_description(self) -> str:
        return ca_description(self.config)

    def _ssl_context(self) -> ssl.SSLContext:
        with self._context_lock:
            if self._context is None:
                self._context = ssl_context(self.config)
            return self._context

    # --- requests ------------------------------------------------------------------------------

    def _take(self) -> tuple[_Connection, bool]:
        with self._idle_lock:
            if self._idle:
                return self._idle.pop(), True
        context = self._ssl_context() if self._route.tls else None
        return _Connection(self._route, context, self.server_name), False

    def _give_back(self, conn: _Connection) -> None:
        conn.watchdog = None
        with self._idle_lock:
            self._idle.append(conn)

    def send(
        self,
        method: str,
        path_and_query: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        deadline: Deadline,
        describe: Callable[[str], APIUnreachableError],
    ) -> tuple[int, bytes]:
        """One request; ``describe(reason)`` makes the error for a failure to get an answer."""
        attempt = 0
        while True:
            attempt += 1
            conn, reused = self._take()
            watchdog = _Watchdog(deadline)
            conn.watchdog = watchdog
            conn.deadline = deadline
            if conn.sock is not None:
                watchdog.watch(conn.sock)
            sent_nothing_back = True
            try:
                target = self._base_path + path_and_query
                if self._route.absolute:
                    target = f"http://{self._netloc.rsplit('@', 1)[-1]}{target}"
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                conn.putheader("Host", self._netloc.rsplit("@", 1)[-1])
                conn.putheader("User-Agent", user_agent())
                if self._route.absolute and self._route.proxy_auth:
                    conn.putheader("Proxy-Authorization", self._route.proxy_auth)
                for key, value in headers:
                    conn.putheader(key, value)
                if body is not None:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                response = conn.getresponse()
                sent_nothing_back = False
                data = response.read()
                status = response.status
                if watchdog.fired:  # a cut answer can look complete (EOF ends the headers)
                    raise TimeoutError
                keep = not response.will_close
            except TLSVerifyError:
                watchdog.stop()
                conn.close()
                raise
            except ProxyRefusedError as exc:
                watchdog.stop()
                conn.close()
                raise describe(f"{exc}; the proxy was {self._route.proxy_display}") from None
            except (OSError, http.client.HTTPException) as exc:
                fired = watchdog.fired
                watchdog.stop()
                conn.close()
                if fired or deadline.passed():
                    raise describe(f"no answer within {deadline.seconds:g} s") from None
                if (
                    reused
                    and sent_nothing_back
                    and attempt == 1
                    and method in ("GET", "HEAD", "DELETE", "PUT")
                    and isinstance(exc, (http.client.RemoteDisconnected, ConnectionError))
                ):
                    continue  # the server closed the idle kept-alive connection: once more
                raise describe(_reason(exc, self._route.proxy_display)) from None
            watchdog.stop()
            if keep:
                self._give_back(conn)
            else:
                conn.close()
            return status, data

    def close(self) -> None:
        with self._idle_lock:
            for conn in self._idle:
                conn.close()
            self._idle = []


def _reason(exc: BaseException, proxy: str | None) -> str:
    via = f" (through the proxy {proxy})" if proxy else ""
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused{via}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name: {quoted(exc.strerror)}{via}"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"timed out{via}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {quoted(exc.reason or exc)}{via}"
    if isinstance(exc, http.client.RemoteDisconnected):
        return f"the server closed the connection without an answer{via}"
    if isinstance(exc, http.client.HTTPException):
        return f"not a valid HTTP answer: {quoted(type(exc).__name__)}{via}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{quoted(exc.strerror).lower()}{via}"
    return f"{quoted(exc) or type(exc).__name__}{via}"
