"""Node access: run one read-only probe script on a node and return what it printed.

Two ways to reach a node: over SSH (paramiko, honouring the OpenSSH client config) and, when the
plugin runs on the node itself, locally. Either way the script travels on standard input to
``sh -s -- ARGS`` with every argument shell-quoted, so no remote command is ever built from
unquoted input, and the node needs nothing but a POSIX shell and coreutils.
"""

from __future__ import annotations

import contextlib
import getpass
import math
import os
import shlex
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kubectl_userns.access.ssh_target import SSHTarget, node_address, resolve_ssh_target
from kubectl_userns.errors import (
    NodeAuthError,
    ProbeError,
)
from kubectl_userns.options import DEFAULT_PROBE_TIMEOUT, NodeAccessOptions, SSHClientKind

__all__ = ["SSHTarget", "node_address", "resolve_ssh_target"]  # re-exported for the commands

# Runs the script as root: directly when the login user is root, else through passwordless sudo;
# under the node's own `timeout` (coreutils or busybox) when it has one, which ends the probe's
# whole process group when the deadline ($1, whole seconds) passes - nothing keeps running on the
# node after an abandoned probe. "$@" carries the quoted arguments; this text itself is constant.
_LIMITED = (
    't=$1; shift; set -- sh -s -- "$@"; '
    'if command -v timeout >/dev/null 2>&1; then set -- timeout "$t" "$@"; fi; '
)
_AS_ROOT = _LIMITED + 'if [ "$(id -u)" -eq 0 ]; then exec "$@"; fi; exec sudo -n -- "$@"'
_ROOT_LOGIN = _LIMITED + 'exec "$@"'
# what `timeout` exits with when it ended the command (coreutils and busybox)
TIMED_OUT = 124
# the client gives the node this much longer than its own deadline before it hangs up itself
GRACE = 1.0
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


def _limit(deadline: float) -> str:
    return str(max(1, math.ceil(deadline)))


def root_command(args: Sequence[str], deadline: float = DEFAULT_PROBE_TIMEOUT) -> list[str]:
    """The argv that runs a script from stdin as root with ``args`` (for local use), ended on
    the node when ``deadline`` seconds have passed."""
    return ["sh", "-c", _AS_ROOT, "sh", _limit(deadline), *args]


def remote_command(
    args: Sequence[str], *, login_is_root: bool = False, deadline: float = DEFAULT_PROBE_TIMEOUT
) -> str:
    """The same as :func:`root_command` as one shell-quoted command line for SSH.

    When the login user is root, ``id -u`` and sudo are left out.
    """
    wrapper = _ROOT_LOGIN if login_is_root else _AS_ROOT
    return shlex.join(["sh", "-c", wrapper, "sh", _limit(deadline), *args])


def timed_out(node: str, deadline: float) -> ProbeError:
    """The error of a probe that passed its deadline (and was ended on the node)."""
    return ProbeError(
        f"the probe on node {node} did not finish within {deadline:g} s and was ended there; "
        "check the node's load and its kubelet root, or raise --probe-timeout."
    )


def check_sudo(node: str, user: str, output: ProbeOutput) -> ProbeOutput:
    if output.exit_status != 0 and any(h in output.stderr for h in _SUDO_PASSWORD_HINTS):
        raise NodeAuthError(
            f"on node {node}, user {user} is not root and sudo asks for a password; log in as "
            "root (--ssh-user root) or allow this user passwordless 'sudo -n sh'."
        )
    return output


class LocalRunner:
    """Runs the probe on this machine (``--local``)."""

    def __init__(self, node: str, timeout: float = DEFAULT_PROBE_TIMEOUT) -> None:
        self.node = node
        self._timeout = timeout

    def run(self, script: str, args: Sequence[str]) -> ProbeOutput:
        # its own session: on the deadline the whole process group is ended, not just the sh
        proc = subprocess.Popen(
            root_command(args, self._timeout),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(script.encode(), timeout=self._timeout + GRACE)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):  # gone, or root's through sudo: timeout ends it
                os.killpg(proc.pid, signal.SIGKILL)
            proc.kill()
            proc.communicate()
            raise timed_out(self.node, self._timeout) from None
        finally:
            if proc.poll() is None:  # Ctrl-C
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc.returncode == TIMED_OUT:
            raise timed_out(self.node, self._timeout)
        output = ProbeOutput(
            stdout.decode(errors="replace"), stderr.decode(errors="replace"), proc.returncode
        )
        return check_sudo(self.node, getpass.getuser(), output)

    def close(self) -> None:
        return None


def open_runner(node: str, address: str | None, options: NodeAccessOptions) -> NodeRunner:
    """A runner for ``node``: local with ``--local``, else SSH (not yet connected) through
    paramiko or, with ``--ssh-client openssh``, the OpenSSH client."""
    if options.local:
        return LocalRunner(node, options.probe_timeout)
    target = resolve_ssh_target(node, address, options)
    if options.ssh_client is SSHClientKind.openssh:
        from kubectl_userns.access.openssh import OpenSSHRunner

        return OpenSSHRunner(target, options.probe_timeout)
    from kubectl_userns.access.ssh import SSHRunner

    return SSHRunner(target, options.probe_timeout)
