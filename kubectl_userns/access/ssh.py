"""Node access over SSH: one paramiko connection per node (through ProxyJump or ProxyCommand
when the config says so), host keys checked against known_hosts, the probe run as root."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubectl_userns.access.node import ProbeOutput, check_sudo, remote_command
from kubectl_userns.access.ssh_config import SSHTarget, parsed_file, resolve_ssh_target
from kubectl_userns.errors import HostKeyError, NodeAuthError, NodeUnreachableError
from kubectl_userns.options import NodeAccessOptions


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
                    known = parsed_file("known_hosts", path, paramiko.HostKeys)
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
        return check_sudo(self.node, self.target.user, output)

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
