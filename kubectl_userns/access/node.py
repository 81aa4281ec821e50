"""Node access: run one read-only probe script on a node and return what it printed.

Two ways to reach a node: over SSH (paramiko, honouring the OpenSSH client config) and, when the
plugin runs on the node itself, locally. Either way the script travels on standard input to
``sh -s -- ARGS`` with every argument shell-quoted, so no remote command is ever built from
unquoted input, and the node needs nothing but a POSIX shell and coreutils.
"""

from __future__ import annotations

import getpass
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kubectl_userns.access.ssh_target import SSHTarget, node_address, resolve_ssh_target
from kubectl_userns.errors import (
    NodeAuthError,
    ProbeError,
)
from kubectl_userns.options import NodeAccessOptions, SSHClientKind

__all__ = ["SSHTarget", "node_address", "resolve_ssh_target"]  # re-exported for the commands

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


def check_sudo(node: str, user: str, output: ProbeOutput) -> ProbeOutput:
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
        return check_sudo(self.node, getpass.getuser(), output)

    def close(self) -> None:
        return None


def open_runner(node: str, address: str | None, options: NodeAccessOptions) -> NodeRunner:
    """A runner for ``node``: local with ``--local``, else SSH (not yet connected) through
    paramiko or, with ``--ssh-client openssh``, the OpenSSH client."""
    if options.local:
        return LocalRunner(node)
    target = resolve_ssh_target(node, address, options)
    if options.ssh_client is SSHClientKind.openssh:
        from kubectl_userns.access.openssh import OpenSSHRunner

        return OpenSSHRunner(target)
    from kubectl_userns.access.ssh import SSHRunner

    return SSHRunner(target)
