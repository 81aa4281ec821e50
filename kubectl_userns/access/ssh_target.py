"""Where and how to connect to a node over SSH: flags + effective OpenSSH options -> SSHTarget.

Both SSH clients (paramiko, the OpenSSH binary) connect to the same SSHTarget, follow the same
ProxyJump chain hop by hop (each hop with its own effective options and host-key check) and word
their failures with the same sentences (the ``*_message`` functions here).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubectl_userns.access.api_values import bad_host_message, is_host
from kubectl_userns.access.ssh_config import (
    EffectiveOptions,
    JumpHop,
    SSHConfigResolver,
    expand_tokens,
    valid_host,
)
from kubectl_userns.errors import APIError, NodeUnreachableError, UsageError
from kubectl_userns.options import AddressType, NodeAccessOptions

DEFAULT_CONNECT_TIMEOUT = 10.0
MAX_JUMPS = 8


@dataclass(frozen=True)
class SSHTarget:
    """Where and as whom to connect, after the SSH config has been applied."""

    node: str
    alias: str  # what the config was looked up with (node name, address or --ssh-host)
    hostname: str
    port: int
    user: str
    key_files: tuple[str, ...] = ()
    known_hosts: tuple[str, ...] = ()  # the user's files; --ssh-accept-new writes the first
    global_known_hosts: tuple[str, ...] = ()
    host_key_alias: str | None = None
    certificate_files: tuple[str, ...] = ()
    accept_new: bool = False
    via: SSHTarget | None = None  # the jump host this target is reached through
    proxy_command: str | None = None  # expanded, from the config (not from ProxyJump)
    timeout: float = DEFAULT_CONNECT_TIMEOUT
    ssh_args: tuple[str, ...] = field(default=(), compare=False)  # -F/-l/-p/-i for ssh
    jump: JumpHop | None = None  # how the hop was named in ProxyJump (jump hosts only)
    config_path: str | None = field(default=None, compare=False)

    def describe(self) -> str:
        port = "" if self.port == 22 else f":{self.port}"
        return f"{self.user}@{self.hostname}{port}"

    @property
    def known_host_name(self) -> str:
        """The name the host key is looked up and recorded under (OpenSSH's sshconnect.c
        get_hostfile_hostname_ipaddr: HostKeyAlias as given, else host or [host]:port)."""
        if self.host_key_alias:
            return self.host_key_alias
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"

    @property
    def where(self) -> str:
        return f"{self.hostname}:{self.port}"

    def chain(self) -> list[SSHTarget]:
        """The jump hosts, first hop first, then this target."""
        hops: list[SSHTarget] = []
        hop: SSHTarget | None = self
        while hop is not None:
            hops.insert(0, hop)
            hop = hop.via
        return hops


def node_address(node: dict[str, Any], address_type: AddressType) -> str | None:
    """The node's address of the given type from ``status.addresses``."""
    for entry in (node.get("status") or {}).get("addresses") or []:
        if entry.get("type") == address_type.value and entry.get("address"):
            return str(entry["address"])
    return None


_resolver_lock = threading.Lock()


def resolver_for(options: NodeAccessOptions) -> SSHConfigResolver:
    """One resolver per run (kept in ``options.lookups``): an audit looks each name up once."""
    with _resolver_lock:
        found = options.lookups.get("resolver")
        if not isinstance(found, SSHConfigResolver):
            found = SSHConfigResolver.for_options(options.ssh_config, options.openssh_config)
            options.lookups["resolver"] = found
        return found


def resolve_ssh_target(node: str, address: str | None, options: NodeAccessOptions) -> SSHTarget:
    """Apply ``--ssh-*`` flags and the OpenSSH client config to one node.

    The host looked up is ``--ssh-host`` if given, else the node's name when the SSH config
    names it in a ``Host`` line or gives it another HostName (Match included), else the node's
    address from the API.
    """
    resolver = resolver_for(options)
    if options.ssh_host:
        alias = options.ssh_host
    elif valid_host(node) and (
        node in resolver.literal_names() or _lookup(resolver, node, options).hostname != node
    ):
        alias = node
    elif address:
        # the commands check what they take from the API (access.api_values); so does this,
        # with the same check, for whoever else passes an address
        if not is_host(address):
            field = f"{options.ssh_address_type.value} address"
            raise APIError(bad_host_message(address, node, field))
        alias = address
    else:
        raise NodeUnreachableError(
            f"node {node} reports no {options.ssh_address_type.value} address; pass "
            "--ssh-host or choose another --ssh-address-type."
        )
    return _target(node, alias, _lookup(resolver, alias, options), options, resolver, None, 0)


def _lookup(resolver: SSHConfigResolver, alias: str, options: NodeAccessOptions) -> Any:
    return resolver.lookup(alias, user=options.ssh_user, port=options.ssh_port, key=options.ssh_key)


def _target(
    node: str,
    alias: str,
    found: EffectiveOptions,
    options: NodeAccessOptions,
    resolver: SSHConfigResolver,
    hops_override: tuple[JumpHop, ...] | None,
    depth: int,
    jump: JumpHop | None = None,
) -> SSHTarget:
    # ProxyJump a,b,c: c is reached through a,b (given as its -J, which beats c's own config);
    # a single hop is reached as its own config says (OpenSSH ssh.c: the implicit ProxyCommand
    # 'ssh -l user -p port -J a,b -W [%h]:%p c')
    hops = found.proxy_jump if hops_override is None else hops_override
    via = None
    if hops:
        if depth >= MAX_JUMPS:
            raise UsageError(
                f"the ProxyJump chain to node {node} is longer than {MAX_JUMPS} hops or loops; "
                "fix ProxyJump in the SSH config."
            )
        last = hops[-1]
        hop_found = resolver.lookup(last.host, user=last.user, port=last.port)
        via = _target(
            f"{node.split(' (jump host')[0]} (jump host {last})",
            last.host,
            hop_found,
            options,
            resolver,
            hops[:-1] or None,
            depth + 1,
            last,
        )
    proxy_command = None
    if not hops and hops_override is None and found.proxy_command:
        proxy_command = _expand_proxy_command(found, node)
    is_node = jump is None
    ssh_args = (
        resolver.base_args(options.ssh_user, options.ssh_port, options.ssh_key)
        if is_node
        else resolver.base_args(jump.user if jump else None, jump.port if jump else None)
    )
    return SSHTarget(
        node=node,
        alias=alias,
        hostname=found.hostname,
        port=found.port,
        user=found.user,
        key_files=tuple(os.path.expanduser(k) for k in found.identity_files),
        known_hosts=found.user_known_hosts,
        global_known_hosts=found.global_known_hosts,
        host_key_alias=found.host_key_alias,
        certificate_files=found.certificate_files,
        accept_new=options.ssh_accept_new
        or found.strict_host_key_checking in ("accept-new", "no", "off", "false"),
        via=via,
        proxy_command=proxy_command,
        timeout=options.ssh_timeout or found.connect_timeout or DEFAULT_CONNECT_TIMEOUT,
        ssh_args=tuple(ssh_args),
        jump=jump,
        config_path=str(options.ssh_config) if options.ssh_config else None,
    )


def _expand_proxy_command(found: EffectiveOptions, node: str) -> str:
    """ProxyCommand with its tokens (sshconnect.c expand_proxy_command: %h %p %r %n %%)."""
    for value, what in ((found.hostname, "HostName"), (found.alias, "host")):
        if not valid_host(value):
            raise NodeUnreachableError(
                f"node {node}: {what} {value!r} would be put into a ProxyCommand but is not a "
                "plain host name or address; refusing to run it."
            )
    tokens = {
        "h": found.hostname,
        "p": str(found.port),
        "r": found.user,
        "n": found.alias,
        "k": found.host_key_alias or found.hostname,
    }
    assert found.proxy_command is not None
    return expand_tokens(found.proxy_command, tokens, "ProxyCommand")


# --- the sentences both clients use ---------------------------------------------------------


def unknown_host_key_message(target: SSHTarget, key: str | None) -> str:
    offered = f" ({key})" if key else ""
    return (
        f"node {target.node} ({target.known_host_name}) offered an unknown SSH host key"
        f"{offered}; check the fingerprint and add it to known_hosts, or rerun with "
        "--ssh-accept-new to trust it on first use."
    )


def changed_host_key_message(target: SSHTarget, key: str | None) -> str:
    got = f" (got {key})" if key else ""
    return (
        f"the SSH host key of node {target.node} ({target.where}) does not match known_hosts"
        f"{got}; if the node was reinstalled, remove the old entry with 'ssh-keygen -R "
        f"{target.known_host_name}', otherwise do not connect."
    )


def login_refused_message(target: SSHTarget, hint: str = "") -> str:
    return (
        f"node {target.node} refused SSH login as {target.user} at {target.where}; check "
        f"--ssh-user and --ssh-key, or load the right key into ssh-agent{hint}."
    )


def passphrase_message(target: SSHTarget) -> str:
    return (
        f"the SSH key for node {target.node} is protected by a passphrase; load it into "
        "ssh-agent (ssh-add) and try again."
    )


def timed_out_message(target: SSHTarget) -> str:
    return (
        f"cannot reach node {target.node} over SSH at {target.where} (timed out after "
        f"{target.timeout:g} s); check the address, firewall and sshd, or use --ssh-host."
    )


def unresolved_message(target: SSHTarget, why: str) -> str:
    return (
        f"cannot resolve {target.hostname} for node {target.node} ({why}); check the SSH "
        "config or use --ssh-host."
    )


def unreachable_message(target: SSHTarget, reason: str) -> str:
    return (
        f"cannot reach node {target.node} over SSH at {target.where} ({reason}); check that "
        "sshd runs there and the address is right, or use --ssh-host/--ssh-port."
    )


def jump_failed_message(jump: SSHTarget, target: SSHTarget, reason: str) -> str:
    return (
        f"jump host {jump.alias} could not open a connection to {target.where} for node "
        f"{target.node} ({reason}); check ProxyJump."
    )


def broken_message(node: str, reason: str) -> str:
    return f"the SSH connection to node {node} broke while the probe ran ({reason}); try again."


def closed_message(node: str) -> str:
    return (
        f"the SSH connection to node {node} closed before the probe finished (no exit status; "
        "sshd or the session ended); check the node and try again."
    )


def known_hosts_path(target: SSHTarget) -> Path:
    """Where --ssh-accept-new records a key: the first UserKnownHostsFile, as OpenSSH does."""
    return Path(target.known_hosts[0] if target.known_hosts else "~/.ssh/known_hosts").expanduser()
