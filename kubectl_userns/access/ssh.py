"""Node access over SSH with paramiko (the default ``--ssh-client``), honouring the effective
OpenSSH options of :mod:`~kubectl_userns.access.ssh_target`: each ProxyJump hop in turn, its own
host-key check, HostKeyAlias, global known_hosts files, CertificateFile, ConnectTimeout.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from kubectl_userns.access.node import (
    GRACE,
    TIMED_OUT,
    ProbeOutput,
    check_sudo,
    remote_command,
    timed_out,
)
from kubectl_userns.access.ssh_target import (
    SSHTarget,
    broken_message,
    changed_host_key_message,
    closed_message,
    jump_failed_message,
    known_hosts_path,
    login_refused_message,
    passphrase_message,
    timed_out_message,
    unknown_host_key_message,
    unreachable_message,
    unresolved_message,
)
from kubectl_userns.errors import HostKeyError, NodeAuthError, NodeUnreachableError
from kubectl_userns.options import DEFAULT_PROBE_TIMEOUT

# --- SSH -------------------------------------------------------------------------------------


# Parsed known_hosts files, by (path, mtime, size): an audit of N nodes reads each file once, not
# N times (it grows with the cluster, so per-node parsing cost N^2 in all).
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
    """Runs the probe over one SSH connection (paramiko), through each jump host in turn."""

    def __init__(self, target: SSHTarget, deadline: float = DEFAULT_PROBE_TIMEOUT) -> None:
        self.node = target.node
        self.target = target
        self.deadline = deadline
        self._client: Any = None
        self._jumps: list[Any] = []

    # connect() is separate so callers can open the connection while the API is still busy
    def connect(self) -> None:
        if self._client is not None:
            return
        try:
            self._client = self._open(self.target, self._sock_for(self.target))
        except BaseException:
            self.close()
            raise

    def _sock_for(self, target: SSHTarget) -> Any:
        """The socket ``target``'s SSH session runs over: a channel through its jump host, the
        config's ProxyCommand (run as OpenSSH runs it: ``$SHELL -c 'exec COMMAND'``), or None
        for a direct TCP connection."""
        if target.via is not None:
            jump = self._open(target.via, self._sock_for(target.via))
            self._jumps.append(jump)
            try:
                return jump.get_transport().open_channel(
                    "direct-tcpip",
                    (target.hostname, target.port),
                    ("127.0.0.1", 0),
                    timeout=target.timeout,
                )
            except Exception as exc:
                raise NodeUnreachableError(
                    jump_failed_message(target.via, target, str(exc) or type(exc).__name__)
                ) from None
        if target.proxy_command:
            import paramiko

            shell = os.environ.get("SHELL") or "/bin/sh"
            return paramiko.ProxyCommand(shlex.join([shell, "-c", f"exec {target.proxy_command}"]))
        return None

    def _open(self, target: SSHTarget, sock: Any) -> Any:
        import paramiko

        client = paramiko.SSHClient()
        # only this host's entries: the same check as loading the whole files into the client
        name = target.known_host_name
        for path in (*target.known_hosts, *target.global_known_hosts):
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
        # paramiko looks the host key up as host or [host]:port of what connect() is given;
        # the socket is always ours, so that name can be HostKeyAlias as OpenSSH uses it
        check_host, check_port = (
            (target.host_key_alias, 22) if target.host_key_alias else (target.hostname, target.port)
        )
        key_files = [k for k in target.key_files if os.path.isfile(k)]
        try:
            pkey = _certified_key(target, key_files) if target.certificate_files else None
            if sock is None:
                sock = _tcp_connect(target)
            client.connect(
                check_host,
                port=check_port,
                username=target.user,
                pkey=pkey,
                key_filename=key_files or None,  # type: ignore[arg-type]
                look_for_keys=not key_files,
                allow_agent=True,
                timeout=target.timeout,
                banner_timeout=target.timeout,
                auth_timeout=target.timeout,
                sock=sock,
            )
        except (HostKeyError, NodeUnreachableError, NodeAuthError):
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyError(
                changed_host_key_message(target, f"{exc.key.get_name()} {exc.key.fingerprint}")
            ) from None
        except paramiko.PasswordRequiredException:
            client.close()
            raise NodeAuthError(passphrase_message(target)) from None
        except paramiko.AuthenticationException:
            client.close()
            raise NodeAuthError(login_refused_message(target, _agent_hint())) from None
        except TimeoutError:
            client.close()
            raise NodeUnreachableError(timed_out_message(target)) from None
        except socket.gaierror as exc:
            client.close()
            raise NodeUnreachableError(unresolved_message(target, str(exc.strerror))) from None
        except paramiko.SSHException as exc:
            client.close()
            # no SSH banner within the timeout: paramiko's start_client gives up silently
            # and the login then finds no session
            if any(s in str(exc) for s in ("No existing session", "protocol banner")):
                raise NodeUnreachableError(timed_out_message(target)) from None
            raise NodeUnreachableError(
                unreachable_message(target, str(exc) or type(exc).__name__)
            ) from None
        except OSError as exc:
            client.close()
            reason = (
                "connection refused"
                if isinstance(
                    exc, (ConnectionRefusedError, paramiko.ssh_exception.NoValidConnectionsError)
                )
                else str(exc) or type(exc).__name__
            )
            raise NodeUnreachableError(unreachable_message(target, reason)) from None
        return client

    def run(self, script: str, args: Sequence[str]) -> ProbeOutput:
        """Run the script; the node ends it after ``deadline`` s, and the client stops waiting
        (closing the channel) a moment later if the node does not say so itself."""
        import paramiko

        self.connect()
        transport = self._client.get_transport()
        give_up = time.monotonic() + self.deadline + GRACE
        command = remote_command(
            args, login_is_root=self.target.user == "root", deadline=self.deadline
        )
        channel = None
        try:
            channel = transport.open_session(timeout=self.target.timeout)
            channel.exec_command(command)
            channel.sendall(script.encode())
            channel.shutdown_write()
            errors: list[bytes] = []

            def drain_stderr() -> None:
                with contextlib.suppress(OSError, EOFError):  # closed at the deadline
                    while chunk := channel.recv_stderr(65536):
                        errors.append(chunk)

            reader = threading.Thread(target=drain_stderr, daemon=True)
            reader.start()
            chunks: list[bytes] = []
            while True:
                channel.settimeout(max(0.0, give_up - time.monotonic()))
                chunk = channel.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            if not channel.status_event.wait(max(0.0, give_up - time.monotonic())):
                raise TimeoutError
            status = channel.recv_exit_status()
            reader.join(max(0.0, give_up - time.monotonic()))
        except TimeoutError:  # socket.timeout too: the channel's own timeout
            if channel is not None:
                channel.close()
            raise timed_out(self.node, self.deadline) from None
        except (paramiko.SSHException, OSError) as exc:
            raise NodeUnreachableError(broken_message(self.node, str(exc))) from None
        if status == -1:  # the channel closed without an exit status: sshd or the session died
            raise NodeUnreachableError(closed_message(self.node))
        if status == TIMED_OUT:
            raise timed_out(self.node, self.deadline)
        output = ProbeOutput(
            b"".join(chunks).decode(errors="replace"),
            b"".join(errors).decode(errors="replace"),
            status,
        )
        return check_sudo(self.node, self.target.user, output)

    def close(self) -> None:
        for client in (self._client, *reversed(self._jumps)):
            if client is not None:
                client.close()
        self._client = None
        self._jumps = []


def _certified_key(target: SSHTarget, key_files: Sequence[str]) -> Any:
    """The private key that a CertificateFile certifies, with the certificate loaded."""
    import paramiko

    for key_path in key_files:
        try:
            key = paramiko.PKey.from_path(key_path)
        except paramiko.PasswordRequiredException:
            raise
        except (paramiko.SSHException, OSError, ValueError):
            continue
        for cert in target.certificate_files:
            if not os.path.isfile(cert):
                continue
            try:
                key.load_certificate(cert)
            except (paramiko.SSHException, OSError, ValueError):
                continue
            return key
    raise NodeAuthError(
        f"no IdentityFile of node {target.node} matches its CertificateFile "
        f"{', '.join(target.certificate_files)}; paramiko needs the certificate's private key "
        "file - give it with IdentityFile, or use --ssh-client openssh (agent-held keys)."
    )


def _agent_hint() -> str:
    """Names ssh-agent keys paramiko cannot sign with (FIDO/sk keys, certificates)."""
    try:
        import paramiko

        names = sorted({key.get_name() for key in paramiko.Agent().get_keys()})
    except Exception:  # no agent, or one that does not answer: nothing to name
        return ""
    odd = [n for n in names if n.startswith("sk-") or "-cert-v01@" in n]
    if not odd:
        return ""
    return (
        f" (ssh-agent holds {', '.join(odd)} keys, which paramiko cannot use: rerun with "
        "--ssh-client openssh)"
    )


def _host_key_policy(target: SSHTarget) -> Any:
    """Refuse unknown host keys, or (opt-in) record them in known_hosts on first contact."""
    import paramiko

    class HostKeyPolicy(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            name = target.known_host_name
            if not target.accept_new:
                raise HostKeyError(
                    unknown_host_key_message(target, f"{key.get_name()} {key.fingerprint}")
                )
            path = known_hosts_path(target)
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
