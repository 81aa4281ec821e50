"""Node access through the system's OpenSSH client (``--ssh-client openssh``).

The probe runs as ``ssh [-F config -l user -p port -i key] OPTIONS -- HOST COMMAND`` with an
argument list (never a shell string) and the script on standard input, so everything the
user's OpenSSH supports applies: ControlMaster/ControlPersist, FIDO/sk keys, certificates,
GSSAPI, ``Match exec``. What must not depend on the user's config is pinned on the command line
(command-line options beat the config in OpenSSH): BatchMode (never a prompt), the host-key
policy of :mod:`~kubectl_userns.access.node` (StrictHostKeyChecking=yes, or accept-new with
--ssh-accept-new), no agent or X11 forwarding, no tty, LogLevel=ERROR (so that stderr carries
only the probe's own messages and ssh's errors).

A ProxyJump chain is not left to ssh, whose implicit ``ssh -W`` for each hop would not get these
options: each hop becomes an explicit ``ProxyCommand`` of the same form, built from validated
host names with every word shell-quoted. Failures are worded by the same functions as the
paramiko client's (:mod:`~kubectl_userns.access.ssh_target`).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Sequence

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
    changed_host_key_message,
    closed_message,
    jump_failed_message,
    login_refused_message,
    timed_out_message,
    unknown_host_key_message,
    unreachable_message,
    unresolved_message,
)
from kubectl_userns.errors import HostKeyError, NodeAuthError, NodeUnreachableError
from kubectl_userns.options import DEFAULT_PROBE_TIMEOUT


def ssh_argv(target: SSHTarget, *, forward: str | None = None, ssh: str | None = None) -> list[str]:
    """The ssh argument list that reaches ``target`` (through its jump hosts) with our policy.

    ``forward`` makes it a ``-W host:port`` hop for the next host of a ProxyJump chain.
    """
    binary = ssh or shutil.which("ssh") or "ssh"
    argv = [
        binary,
        *target.ssh_args,
        "-T",
        "-a",
        "-x",
        "-o",
        "BatchMode=yes",
        "-o",
        f"StrictHostKeyChecking={'accept-new' if target.accept_new else 'yes'}",
        "-o",
        f"ConnectTimeout={max(1, math.ceil(target.timeout))}",
        "-o",
        "LogLevel=ERROR",
    ]
    if target.via is not None:
        # OpenSSH expands %-tokens in a ProxyCommand: a literal % must be written %%
        hop = shlex.join(ssh_argv(target.via, forward=_forward(target), ssh=binary))
        argv += ["-o", f"ProxyCommand={hop.replace('%', '%%')}"]
    if forward is not None:
        argv += ["-W", forward]
    argv += ["--", target.alias]
    return argv


def _forward(target: SSHTarget) -> str:
    return f"[{target.hostname}]:{target.port}"


class OpenSSHRunner:
    """Runs the probe through the ``ssh`` binary, one process per probe."""

    def __init__(self, target: SSHTarget, deadline: float = DEFAULT_PROBE_TIMEOUT) -> None:
        self.node = target.node
        self.target = target
        self._deadline = deadline

    def connect(self) -> None:
        """Nothing to open ahead: ssh connects (or reuses a ControlMaster) when run."""
        return None

    def argv(self, args: Sequence[str]) -> list[str]:
        command = remote_command(
            args, login_is_root=self.target.user == "root", deadline=self._deadline
        )
        return [*ssh_argv(self.target), command]

    def run(self, script: str, args: Sequence[str]) -> ProbeOutput:
        env = dict(os.environ)
        if self.target.via is not None:
            env["SHELL"] = "/bin/sh"  # our ProxyCommands are POSIX sh words
        proc = subprocess.Popen(
            self.argv(args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # a deadline kills ssh with its ProxyCommand children
        )
        # the node ends the probe after the deadline; ssh itself is given that, its connect
        # timeout for every hop (ConnectTimeout; the node's clock starts after login) and GRACE
        connecting = sum(hop.timeout for hop in self.target.chain())
        try:
            out, err = proc.communicate(
                script.encode(), timeout=self._deadline + connecting + GRACE
            )
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise timed_out(self.node, self._deadline) from None
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
        stderr = err.decode(errors="replace")
        if proc.returncode == 255:
            raise classify_ssh_failure(self.target, stderr, bool(out))
        if proc.returncode == TIMED_OUT:
            raise timed_out(self.node, self._deadline)
        output = ProbeOutput(out.decode(errors="replace"), stderr, proc.returncode)
        return check_sudo(self.node, self.target.user, output)

    def close(self) -> None:
        return None


_UNKNOWN = re.compile(r"No (\S+) host key is known for (\S+) and you have requested strict")
_CHANGED = re.compile(r"Host key for (\S+) has changed and you have requested strict")
_CHANGED_FP = re.compile(r"The fingerprint for the (\S+) key sent by the remote host is\s+(\S+?)\.")
_DENIED = re.compile(r"(?:(\S+)@(\S+): )?Permission denied \(")
_CONNECT = re.compile(r"ssh: connect to host (\S+) port (\d+): (.+)")
_RESOLVE = re.compile(r"ssh: Could not resolve hostname (\S+): (.+)")
_BANNER = re.compile(
    r"Connection timed out during banner exchange|Connection to (\S+) port (\d+) timed out"
)
_FORWARD = re.compile(r"channel \d+: open failed: (?:\S+: )?(.+)|stdio forwarding failed")


def classify_ssh_failure(
    target: SSHTarget, stderr: str, had_output: bool
) -> HostKeyError | NodeAuthError | NodeUnreachableError:
    """One domain error, worded as the paramiko client words it, for ssh's exit status 255."""
    chain = target.chain()

    def by_name(name: str) -> SSHTarget:
        for hop in chain:
            if name in (hop.known_host_name, hop.hostname, hop.alias, hop.where):
                return hop
        return target

    def by_address(host: str, port: str) -> SSHTarget:
        for hop in chain:
            if hop.hostname == host and str(hop.port) == port:
                return hop
        return by_name(host)

    if found := _UNKNOWN.search(stderr):
        return HostKeyError(unknown_host_key_message(by_name(found[2]), found[1]))
    if found := _CHANGED.search(stderr):
        fp = _CHANGED_FP.search(stderr)
        key = f"{fp[1]} {fp[2]}" if fp else None
        return HostKeyError(changed_host_key_message(by_name(found[1]), key))
    if found := _DENIED.search(stderr):
        hop = by_name(found[2]) if found[2] else target
        return NodeAuthError(login_refused_message(hop))
    if found := _RESOLVE.search(stderr):
        return NodeUnreachableError(unresolved_message(by_name(found[1]), found[2].strip()))
    if found := _CONNECT.search(stderr):
        hop = by_address(found[1], found[2])
        reason = found[3].strip().rstrip(".")
        if "timed out" in reason.lower():
            return NodeUnreachableError(timed_out_message(hop))
        return NodeUnreachableError(unreachable_message(hop, reason[:1].lower() + reason[1:]))
    if found := _BANNER.search(stderr):
        hop = by_address(found[1], found[2]) if found[1] else target
        return NodeUnreachableError(timed_out_message(hop))
    if (found := _FORWARD.search(stderr)) and target.via is not None:
        reason = (found[1] or "stdio forwarding failed").strip()
        return NodeUnreachableError(jump_failed_message(target.via, target, reason))
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if had_output or not lines:
        return NodeUnreachableError(closed_message(target.node))
    return NodeUnreachableError(unreachable_message(target, lines[-1].rstrip(".")))
