"""A loopback SSH server that logs anyone in and accepts every command, then never answers:
the node that hangs after the session starts, which a real sshd cannot be made to be."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import paramiko


class _Silent(paramiko.ServerInterface):
    def __init__(self) -> None:
        self.commands: list[bytes] = []

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.commands.append(command)
        return True  # ... and nothing more: no output, no exit status


@contextlib.contextmanager
def silent_ssh_server() -> Iterator[tuple[int, str, list[bytes]]]:
    """(port, known_hosts line, commands received) of a server on 127.0.0.1."""
    key = paramiko.ECDSAKey.generate()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = int(listener.getsockname()[1])
    server = _Silent()
    transports: list[paramiko.Transport] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            transport = paramiko.Transport(sock)
            transport.add_server_key(key)
            transports.append(transport)
            with contextlib.suppress(paramiko.SSHException, EOFError):
                transport.start_server(server=server)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port, f"[127.0.0.1]:{port} {key.get_name()} {key.get_base64()}\n", server.commands
    finally:
        stop.set()
        listener.close()
        for transport in transports:
            transport.close()


def config_with_node_at(
    base: Path, ssh_config: Path, known_hosts: Path, node: str, port: int, known_line: str
) -> Path:
    """A copy of ``ssh_config`` where ``node`` is reached at 127.0.0.1:``port`` instead."""
    known = base / "known_hosts"
    known.write_text(known_hosts.read_text() + known_line)
    config = base / "ssh_config"
    config.write_text(
        f"Host {node}\n  HostName 127.0.0.1\n  Port {port}\n  UserKnownHostsFile {known}\n\n"
        + ssh_config.read_text().replace(str(known_hosts), str(known))
    )
    return config
