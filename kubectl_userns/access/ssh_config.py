"""The OpenSSH client config applied to one node: which host, port, user, keys, known_hosts
files and jump hosts ``ssh NODE`` would use (ssh_config(5); parsed by paramiko's SSHConfig)."""

from __future__ import annotations

import getpass
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubectl_userns.errors import NodeUnreachableError, UsageError
from kubectl_userns.options import NodeAccessOptions


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


# Parsed SSH config and known_hosts files, by (path, mtime, size): an audit of N nodes reads each
# file once, not N times (both grow with the cluster, so per-node parsing cost N^2 in all).
_parsed: dict[tuple[str, str], tuple[tuple[int, int], Any]] = {}
_parsed_lock = threading.Lock()


def parsed_file(kind: str, path: str, parse: Callable[[str], Any]) -> Any:
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
            config = parsed_file("ssh_config", str(candidate), paramiko.SSHConfig.from_path)
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
