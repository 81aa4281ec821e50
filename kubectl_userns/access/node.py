"""Node access: run one read-only probe script on a node and return what it printed.

Two ways to reach a node: over SSH (paramiko, honouring the OpenSSH client config) and, when the
plugin runs on the node itself, locally. Either way the script travels on standard input to
``sh -s -- ARGS`` with every argument shell-quoted, so no remote command is ever built from
unquoted input, and the node needs nothing but a POSIX shell and coreutils.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shlex
import socket
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kubectl_userns.errors import (
    HostKeyError,
    NodeAuthError,
    NodeUnreachableError,
    ProbeError,
    UsageError,
)
from kubectl_userns.options import AddressType, NodeAccessOptions

# Runs the script as root: directly when the login user is root, else through passwordless sudo.
# "$@" carries the quoted arguments; this text itself is constant.
_AS_ROOT = 'if [ "$(id -u)" -eq 0 ]; then exec sh -s -- "$@"; fi; exec sudo -n -- sh -s -- "$@"'
_SUDO_PASSWORD_HINTS = ("a password is required", "a terminal is required", "no tty present")


@dataclass(frozen=True)
class ProbeOutput:
    """What the probe script printed, and how it ended."""

    stdout: str
    stderr: str
    exit_status: int


class NodeRunner(Protocol):
    """Runs one script on one node."""

    node: str

    def run(self, script: str, args: Sequence[str]) -> ProbeOutput: ...

    def close(self) -> None: ...


def root_command(args: Sequence[str]) -> list[str]:
    """The argv that runs a script from stdin as root with ``args`` (for local use)."""
    return ["sh", "-c", _AS_ROOT, "sh", *args]


def remote_command(args: Sequence[str], *, login_is_root: bool = False) -> str:
    """The same as :func:`root_command` as one shell-quoted command line for SSH.

    When the login user is root the wrapper (a second ``sh`` and ``id -u``) is left out:
    ``sh -s -- ARGS`` is all that runs.
    """
    if login_is_root:
        return shlex.join(["sh", "-s", "--", *args])
    return shlex.join(root_command(args))


def _check_sudo(node: str, user: str, output: ProbeOutput) -> ProbeOutput:
    if output.exit_status != 0 and any(h in output.stderr for h in _SUDO_PASSWORD_HINTS):
        raise NodeAuthError(
            f"on node {node}, user {user} is not root and sudo asks for a password; log in as "
            "root (--ssh-user root) or allow this user passwordless 'sudo -n sh'."
        )
    return output


class LocalRunner:
    """Runs the probe on this machine (``--local``)."""

    def __init__(self, node: str, timeout: float = 120.0) -> None:
        self.node = node
        self._timeout = timeout

    def run(self, script: str, args: Sequence[str]) -> ProbeOutput:
        try:
            done = subprocess.run(
                root_command(args),
                input=script.encode(),
                capture_output=True,
                timeout=self._timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ProbeError(
                f"the probe did not finish within {self._timeout:.0f} s on this machine; "
                "check the system load and try again."
            ) from None
        output = ProbeOutput(
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
            done.returncode,
        )
        return _check_sudo(self.node, getpass.getuser(), output)

    def close(self) -> None:
        return None


# --- SSH -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SSHTarget:
    """Where and as whom to connect, after the SSH config has been applied."""

    node: str
    alias: str  # what the config was looked up with (node name, address or --ssh-host)
    hostname: str
    port: int
    user: str
    key_files: tuple[str, ...] = ()
    known_hosts: tuple[str, ...] = ()
    accept_new: bool = False
    proxy_jump: str | None = None
    proxy_command: str | None = None
    timeout: float = 10.0
    config_path: str | None = field(default=None, compare=False)

    def describe(self) -> str:
        port = "" if self.port == 22 else f":{self.port}"
        return f"{self.user}@{self.hostname}{port}"


def node_address(node: dict[str, Any], address_type: AddressType) -> str | None:
    """The node's address of the given type from ``status.addresses``."""
    for entry in (node.get("status") or {}).get("addresses") or []:
        if entry.get("type") == address_type.value and entry.get("address"):
            return str(entry["address"])
    return None


# Parsed SSH config and known_hosts files, by (path, mtime, size): an audit of N nodes reads each
# file once, not N times (both grow with the cluster, so per-node parsing cost N^2 in all).
_parsed: dict[tuple[str, str], tuple[tuple[int, int], Any]] = {}
_parsed_lock = threading.Lock()


def _parsed_file(kind: str, path: str, parse: Callable[[str], Any]) -> Any:
    """``parse(path)``, reused while the file is unchanged; parsed once even across threads."""
    stat = os.stat(path)
    version = (stat.st_mtime_ns, stat.st_size)
    with _parsed_lock:
        seen = _parsed.get((kind, path))
        if seen is None or seen[0] != version:
            seen = (version, parse(path))
            _parsed[(kind, path)] = seen
        return seen[1]


def _load_ssh_config(path: Path | None) -> Any:
    import paramiko

    candidate = path or Path("~/.ssh/config").expanduser()
    if candidate.is_file():
        try:
            config = _parsed_file("ssh_config", str(candidate), paramiko.SSHConfig.from_path)
        except (OSError, paramiko.ssh_exception.ConfigParseError) as exc:
            raise UsageError(
                f"cannot parse the SSH config {candidate}: {exc}; fix the file."
            ) from None
        return config, str(candidate)
    return paramiko.SSHConfig(), None


def resolve_ssh_target(node: str, address: str | None, options: NodeAccessOptions) -> SSHTarget:
    """Apply ``--ssh-*`` flags and the OpenSSH client config to one node.

    The host looked up is ``--ssh-host`` if given, else the node's name when the SSH config has
    a ``Host`` entry for exactly that name, else the node's address from the API.
    """
    config, config_path = _load_ssh_config(options.ssh_config)
    if options.ssh_host:
        alias = options.ssh_host
    elif node in config.get_hostnames():
        alias = node
    elif address:
        alias = address
    else:
        raise NodeUnreachableError(
            f"node {node} reports no {options.ssh_address_type.value} address; pass "
            "--ssh-host or choose another --ssh-address-type."
        )
    entry = config.lookup(alias)
    port = options.ssh_port or int(entry.get("port", 22))
    user = options.ssh_user or entry.get("user") or getpass.getuser()
    keys: tuple[str, ...]
    if options.ssh_key is not None:
        keys = (str(options.ssh_key),)
    else:
        keys = tuple(os.path.expanduser(k) for k in entry.get("identityfile", []))
    known = entry.get("userknownhostsfile")
    known_files = tuple(
        os.path.expanduser(k) for k in (known.split() if known else ["~/.ssh/known_hosts"])
    )
    strict = str(entry.get("stricthostkeychecking", "yes")).lower()
    accept_new = options.ssh_accept_new or strict in ("accept-new", "no", "off")
    return SSHTarget(
        node=node,
        alias=alias,
        hostname=entry.get("hostname", alias),
        port=port,
        user=user,
        key_files=keys,
        known_hosts=known_files,
        accept_new=accept_new,
        proxy_jump=entry.get("proxyjump"),
        proxy_command=entry.get("proxycommand"),
        timeout=options.ssh_timeout,
        config_path=config_path,
    )


def _known_host_name(hostname: str, port: int) -> str:
    return hostname if port == 22 else f"[{hostname}]:{port}"


class _QuickAckSocket:
    """A TCP socket that acknowledges at once what it receives (Linux ``TCP_QUICKACK``).

    Right after login sshd sends its host keys unasked (``hostkeys-00@openssh.com``, no reply
    expected) and then holds its answer to the session request back (Nagle's algorithm) until
    they are acknowledged: with the kernel's delayed ACK that is 40 ms on every node. Quick-ack
    mode lapses by itself, so it is renewed after every read and write.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def _quickack(self) -> None:
        with contextlib.suppress(OSError):  # closed meanwhile
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

    def send(self, data: bytes, flags: int = 0) -> int:
        sent = self._sock.send(data, flags)
        self._quickack()
        return sent

    def recv(self, size: int, flags: int = 0) -> bytes:
        data = self._sock.recv(size, flags)
        self._quickack()
        return data


def _tcp_connect(target: SSHTarget) -> Any:
    """A TCP connection to the node's sshd that sends and acknowledges without delay.

    The SSH conversation is requests and answers. Without ``TCP_NODELAY`` a small packet
    written while the previous one is unacknowledged waits for the peer's delayed ACK (40 ms on
    Linux): key exchange and login hit that; see :class:`_QuickAckSocket` for the session.
    """
    sock = socket.create_connection((target.hostname, target.port), target.timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return _QuickAckSocket(sock) if hasattr(socket, "TCP_QUICKACK") else sock


class SSHRunner:
    """Runs the probe over one SSH connection (paramiko)."""

    def __init__(self, target: SSHTarget) -> None:
        self.node = target.node
        self.target = target
        self._client: Any = None
        self._jump: Any = None

    # connect() is separate so callers can open the connection while the API is still busy
    def connect(self) -> None:
        if self._client is not None:
            return
        sock = None
        if self.target.proxy_jump and self.target.proxy_jump.lower() != "none":
            sock = self._jump_channel(self.target.proxy_jump)
        elif self.target.proxy_command and self.target.proxy_command.lower() != "none":
            import paramiko

            sock = paramiko.ProxyCommand(self.target.proxy_command)
        self._client = self._open(self.target, sock)

    def _jump_channel(self, spec: str) -> Any:
        first = spec.split(",")[0].strip()
        user, _, hostport = first.rpartition("@")
        host, _, port = hostport.partition(":")
        jump_opts = NodeAccessOptions(
            ssh_user=user or None,
            ssh_port=int(port) if port else None,
            ssh_host=host,
            ssh_config=Path(self.target.config_path) if self.target.config_path else None,
            ssh_accept_new=self.target.accept_new,
            ssh_timeout=self.target.timeout,
        )
        jump_target = resolve_ssh_target(f"{self.node} (jump host {host})", host, jump_opts)
        self._jump = self._open(jump_target, None)
        try:
            return self._jump.get_transport().open_channel(
                "direct-tcpip",
                (self.target.hostname, self.target.port),
                ("127.0.0.1", 0),
                timeout=self.target.timeout,
            )
        except Exception as exc:
            raise NodeUnreachableError(
                f"jump host {host} could not open a connection to {self.target.hostname}:"
                f"{self.target.port} for node {self.node} ({exc}); check ProxyJump."
            ) from None

    def _open(self, target: SSHTarget, sock: Any) -> Any:
        import paramiko

        client = paramiko.SSHClient()
        # only this node's entries: the same check as loading the whole file into the client
        name = _known_host_name(target.hostname, target.port)
        for path in target.known_hosts:
            if os.path.isfile(path):
                try:
                    known = _parsed_file("known_hosts", path, paramiko.HostKeys)
                except (OSError, paramiko.SSHException) as exc:
                    raise HostKeyError(
                        f"cannot read known_hosts file {path} ({exc}); fix or remove it."
                    ) from None
                for key_type, key in (known.lookup(name) or {}).items():
                    client.get_host_keys().add(name, key_type, key)
        client.set_missing_host_key_policy(_host_key_policy(target))
        where = f"{target.hostname}:{target.port}"
        try:
            if sock is None:
                sock = _tcp_connect(target)
            client.connect(
                target.hostname,
                port=target.port,
                username=target.user,
                key_filename=list(target.key_files) or None,  # type: ignore[arg-type]
                look_for_keys=not target.key_files,
                allow_agent=True,
                timeout=target.timeout,
                banner_timeout=target.timeout,
                auth_timeout=target.timeout,
                sock=sock,
            )
        except (HostKeyError, NodeUnreachableError):
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyError(
                f"the SSH host key of node {target.node} ({where}) does not match known_hosts "
                f"(got {exc.key.get_name()} {exc.key.fingerprint}); if the node was "
                f"reinstalled, remove the old entry with 'ssh-keygen -R "
                f"{_known_host_name(target.hostname, target.port)}', otherwise do not connect."
            ) from None
        except paramiko.PasswordRequiredException:
            client.close()
            raise NodeAuthError(
                f"the SSH key for node {target.node} is protected by a passphrase; load it "
                "into ssh-agent (ssh-add) and try again."
            ) from None
        except paramiko.AuthenticationException:
            client.close()
            raise NodeAuthError(
                f"node {target.node} refused SSH login as {target.user} at {where}; check "
                "--ssh-user and --ssh-key, or load the right key into ssh-agent."
            ) from None
        except TimeoutError:
            client.close()
            raise NodeUnreachableError(
                f"cannot reach node {target.node} over SSH at {where} (timed out after "
                f"{target.timeout:g} s); check the address, firewall and sshd, or use --ssh-host."
            ) from None
        except socket.gaierror as exc:
            client.close()
            raise NodeUnreachableError(
                f"cannot resolve {target.hostname} for node {target.node} ({exc.strerror}); "
                "check the SSH config or use --ssh-host."
            ) from None
        except (paramiko.SSHException, OSError) as exc:
            client.close()
            reason = (
                "connection refused"
                if isinstance(
                    exc, (ConnectionRefusedError, paramiko.ssh_exception.NoValidConnectionsError)
                )
                else str(exc) or type(exc).__name__
            )
            raise NodeUnreachableError(
                f"cannot reach node {target.node} over SSH at {where} ({reason}); check that "
                "sshd runs there and the address is right, or use --ssh-host/--ssh-port."
            ) from None
        return client

    def run(self, script: str, args: Sequence[str]) -> ProbeOutput:
        import paramiko

        self.connect()
        transport = self._client.get_transport()
        try:
            channel = transport.open_session(timeout=self.target.timeout)
            channel.exec_command(remote_command(args, login_is_root=self.target.user == "root"))
            channel.sendall(script.encode())
            channel.shutdown_write()
            errors: list[bytes] = []

            def drain_stderr() -> None:
                while chunk := channel.recv_stderr(65536):
                    errors.append(chunk)

            reader = threading.Thread(target=drain_stderr, daemon=True)
            reader.start()
            chunks: list[bytes] = []
            while chunk := channel.recv(65536):
                chunks.append(chunk)
            status = channel.recv_exit_status()
            reader.join()
        except (paramiko.SSHException, OSError) as exc:
            raise NodeUnreachableError(
                f"the SSH connection to node {self.node} broke while the probe ran ({exc}); "
                "try again."
            ) from None
        if status == -1:  # the channel closed without an exit status: sshd or the session died
            raise NodeUnreachableError(
                f"the SSH connection to node {self.node} closed before the probe finished (no "
                "exit status; sshd or the session ended); check the node and try again."
            )
        output = ProbeOutput(
            b"".join(chunks).decode(errors="replace"),
            b"".join(errors).decode(errors="replace"),
            status,
        )
        return _check_sudo(self.node, self.target.user, output)

    def close(self) -> None:
        for client in (self._client, self._jump):
            if client is not None:
                client.close()
        self._client = self._jump = None


def _host_key_policy(target: SSHTarget) -> Any:
    """Refuse unknown host keys, or (opt-in) record them in known_hosts on first contact."""
    import paramiko

    class HostKeyPolicy(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            name = _known_host_name(target.hostname, target.port)
            fingerprint = f"{key.get_name()} {key.fingerprint}"
            if not target.accept_new:
                raise HostKeyError(
                    f"node {target.node} ({name}) offered an unknown SSH host key "
                    f"({fingerprint}); check the fingerprint and add it to known_hosts, or "
                    "rerun with --ssh-accept-new to trust it on first use."
                )
            path = Path(target.known_hosts[0] if target.known_hosts else "~/.ssh/known_hosts")
            path = path.expanduser()
            try:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                with path.open("a") as handle:
                    handle.write(f"{name} {key.get_name()} {key.get_base64()}\n")
            except OSError as exc:
                raise HostKeyError(
                    f"cannot record the host key of node {target.node} in {path} "
                    f"({exc.strerror}); make the file writable or add the key by hand."
                ) from None
            client.get_host_keys().add(name, key.get_name(), key)

    return HostKeyPolicy()


def open_runner(node: str, address: str | None, options: NodeAccessOptions) -> NodeRunner:
    """A runner for ``node``: local with ``--local``, else SSH (not yet connected)."""
    if options.local:
        return LocalRunner(node)
    return SSHRunner(resolve_ssh_target(node, address, options))
