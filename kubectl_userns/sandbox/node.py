"""Sandbox nodes: fresh mount, PID, cgroup, UTS and IPC namespaces with a real sshd inside.

A node's PID 1 is ``sleep infinity`` in its own PID namespace; killing it kills everything in
the node. Inside, paths are where a real node has them: cgroup2 at /sys/fs/cgroup (or hybrid
v1/v2 like this host), /etc and /var/lib as node-private overlays of the host's (so the host's
files never change), the node's own programs first in /usr/local/bin (its kubelet binary and
OCI runtimes, see :mod:`~kubectl_userns.sandbox.nodebin`), the kubelet root (/var/lib/kubelet
unless the node's kubelet runs with another --root-dir) on the host's filesystem, a private
/run, and a private
root home with the distribution's default start-up files: the host's /root, with whatever a
developer's shell runs at start-up, would run at every SSH login into a node (and write there).
This module starts and stops a node's processes; the files they use: :mod:`.nodefiles`.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SSHD = "/usr/sbin/sshd"
# -r: sshd does not execute itself again for each connection (the ~10 ms of node CPU that each
# connection cost besides the key exchange); re-execution gives each connection a freshly
# randomised address space, nothing a client can see (openssh-portable sshd.c, rexec_flag).
# OpenSSH 9.8 moved the connection into sshd-session, which is always executed, and only logs
# "-r option is deprecated" (sshd.c there).
SSHD_FLAGS = ("-r",)
CGROUP2_HOST = "/sys/fs/cgroup/unified"
SYSTEMD_V1_HOST = "/sys/fs/cgroup/systemd"

# PID 1 of a node: set up the node's mounts, start sshd, then wait forever.
NODE_INIT = r"""
set -eu
node=$1 name=$2 mode=$3 kroot=$4
hostname "$name"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$node/etc.upper,workdir=$node/etc.work" /etc
mount -t overlay overlay \
  -o "lowerdir=/var/lib,upperdir=$node/varlib.upper,workdir=$node/varlib.work" /var/lib
mkdir -p "$kroot"
mount --bind "$node/kubelet" "$kroot"
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -m 755 /run/sshd /run/crio
# root's home as a new node has it (Debian's skeleton), not the host's /root: sshd runs root's
# login shell for every command, and that shell's start-up files belong to the node
mount -t tmpfs -o mode=700 tmpfs /root
for f in bashrc profile; do
  [ ! -f "/usr/share/base-files/dot.$f" ] || cp "/usr/share/base-files/dot.$f" "/root/.$f"
done
ln -s /bin/sleep /run/crio/conmon  # what the sandbox's conmon stand-ins run as
ln -s /bin/sleep /run/crio/pause  # and its pause (sandbox) stand-ins
umount -R /sys/fs/cgroup  # the host's cgroup mounts: a node has its own
if [ "$mode" = hybrid ]; then
  mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
  mkdir /sys/fs/cgroup/unified /sys/fs/cgroup/systemd
  mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
  mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
else
  mount -t cgroup2 cgroup2 /sys/fs/cgroup
fi
if [ -f "$node/max_user_namespaces" ]; then
  mount --bind "$node/max_user_namespaces" /proc/sys/user/max_user_namespaces
fi
if [ -f "$node/no-getsubids" ] && [ -e /usr/bin/getsubids ]; then
  mount --bind "$node/no-getsubids" /usr/bin/getsubids
fi
# the node's own tools, whatever this machine has installed: its uname reports the sandbox's
# kernel release, its OCI runtimes are the sandbox's (bin/ ahead of /usr/local/bin), and the
# host's crun and runc are hidden behind a file that is not executable
mount --bind "$node/bin/uname" "$(readlink -f /usr/bin/uname)"
mount --bind "$node/osrelease" /proc/sys/kernel/osrelease
mount -t overlay overlay -o "lowerdir=$node/bin:/usr/local/bin" /usr/local/bin
for dir in /usr/local/sbin /usr/sbin /usr/bin /usr/libexec/crio /usr/lib/cri-o-runc/sbin \
  /usr/libexec/podman; do
  for exe in "$dir/crun" "$dir/runc"; do
    [ ! -e "$exe" ] || mount --bind "$node/absent" "$exe"
  done
done
/usr/sbin/sshd -r -f "$node/sshd_config" -E "$node/sshd.log"  # -r: see SSHD_FLAGS
exec sleep infinity
"""


@dataclass
class NodeState:
    """What the sandbox knows of one node (saved in the state file)."""

    name: str
    dir: str
    address: str
    port: int
    cgroup_driver: str
    cgroup_mode: str
    cgroup_dirs: list[str]  # host paths of the node's cgroup roots (v2 first)
    kubelet_root: str = "/var/lib/kubelet"
    kubelet_pid: int = 0  # the kubelet process (host PID); 0: the node runs none
    init_pid: int = 0
    unshare_pid: int = 0
    host_key_pub: str = ""
    subuid: str | None = "kubelet:65536:7208960\n"
    extra: dict[str, Any] = field(default_factory=dict)
    runtime: str = "crio"  # "crio" or "containerd": the layout of its pods' processes
    conmon_cgroup: str = "system.slice"  # CRI-O's conmon_cgroup ("pod" or a slice)
    cgroup_root: str = "/"  # the kubelet's --cgroup-root
    ids_per_pod: int = 65536  # what the kubelet allocates (configz honoured from 1.35 only)

    @property
    def cgroup2(self) -> Path:
        return Path(self.cgroup_dirs[0])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def wait_child(pid: int, timeout: float = 5.0) -> int:
    """The first child of ``pid`` (nsenter and unshare --fork start one)."""
    deadline = time.monotonic() + timeout
    while True:
        kids = _children(pid)
        if kids:
            return kids[0]
        if time.monotonic() > deadline or not Path(f"/proc/{pid}").exists():
            raise RuntimeError(f"process {pid} started no child")
        time.sleep(0.002)


def start_node(state: NodeState) -> None:
    """Create the node's cgroups and namespaces and start its init (and sshd)."""
    for cg in state.cgroup_dirs:
        Path(cg).mkdir(parents=True, exist_ok=True)
    moves = "; ".join(f"echo $$ > {shlex.quote(cg)}/cgroup.procs" for cg in state.cgroup_dirs)
    unshare = [
        "unshare",
        "--mount",
        "--uts",
        "--ipc",
        "--pid",
        "--cgroup",
        "--fork",
        "--mount-proc",
        "--propagation",
        "private",
        "--kill-child=SIGKILL",
        "sh",
        "-c",
        NODE_INIT,
        "node-init",
        state.dir,
        state.name,
        state.cgroup_mode,
        state.kubelet_root,
    ]
    with open(Path(state.dir) / "init.log", "ab") as log:
        proc = subprocess.Popen(
            ["sh", "-c", f"{moves}; exec {shlex.join(unshare)}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    state.unshare_pid = proc.pid
    state.init_pid = wait_child(proc.pid)
    wait_for_sshd(state)


def wait_for_sshd(state: NodeState, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((state.address, state.port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline or not Path(f"/proc/{state.init_pid}").exists():
                log = (Path(state.dir) / "init.log").read_text(errors="replace")
                sshd_log = Path(state.dir) / "sshd.log"
                if sshd_log.exists():
                    log += sshd_log.read_text(errors="replace")
                raise RuntimeError(f"node {state.name} did not start: {log[-2000:]}") from None
            time.sleep(0.005)


def node_exec(state: NodeState, argv: list[str], *, check: bool = True) -> str:
    """Run a command inside the node's namespaces (in the node's cgroup) and return stdout."""
    enter = ["nsenter", "-t", str(state.init_pid), "-m", "-p", "-u", "-i", "-C", "--", *argv]
    moves = "; ".join(f"echo $$ > {shlex.quote(cg)}/cgroup.procs" for cg in state.cgroup_dirs)
    done = subprocess.run(
        ["sh", "-c", f"{moves}; exec {shlex.join(enter)}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{argv} on node {state.name} failed: {done.stderr}")
    return done.stdout


def stop_sshd(state: NodeState) -> None:
    node_exec(state, ["sh", "-c", 'kill "$(cat /run/sshd.pid)"; rm -f /run/sshd.pid'])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection((state.address, state.port), timeout=0.2).close()
        except OSError:
            return
        time.sleep(0.01)


def start_sshd(state: NodeState) -> None:
    node_exec(
        state, [SSHD, *SSHD_FLAGS, "-f", f"{state.dir}/sshd_config", "-E", f"{state.dir}/sshd.log"]
    )
    wait_for_sshd(state)


def kill_node(state: NodeState) -> None:
    for pid in (state.init_pid, state.unshare_pid):
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    """Wait until ``pid`` has exited (a zombie counts: it holds no namespace and no cgroup);
    False when it still ran at the end of ``timeout``."""
    deadline = time.monotonic() + timeout
    while pid and Path(f"/proc/{pid}").exists():
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return True
        except OSError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True


def continue_cgroup_tree(root: Path) -> None:
    """SIGCONT every process of the cgroup tree ``root``, before its nodes' inits are killed.
    A node's init, as its PID namespace ends, waits until every process of the namespace is
    reaped (kernel/pid_namespace.c zap_pid_ns_processes); a container's parent is an nsenter
    outside the namespace that stops itself whenever its child stops (util-linux
    sys-utils/nsenter.c continue_as_child), and a stopped nsenter reaps nothing. Killed
    instead, it would leave its child to the host's init, as the namespace's own is exiting
    (kernel/exit.c find_child_reaper), which reaps in its own time."""
    if not root.is_dir():
        return
    for path in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        try:
            pids = (path / "cgroup.procs").read_text().split()
        except OSError:
            continue
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGCONT)


def remove_cgroup_tree(root: Path) -> None:
    """Remove a cgroup directory tree bottom-up, killing stragglers first."""
    if not root.is_dir():
        return
    dirs = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
    for path in [*dirs, root]:
        for _ in range(500):
            try:
                path.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                try:
                    for pid in (path / "cgroup.procs").read_text().split():
                        with contextlib.suppress(ProcessLookupError, ValueError):
                            os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
                time.sleep(0.01)
