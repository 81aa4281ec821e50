"""Sandbox pods: real processes in a node, in one shared user namespace, in kubelet-named cgroups.

A ``hostUsers: false`` pod's first container creates the pod's user namespace; the sandbox (root
in the parent namespace, like the runtime) writes ``0 <hostId> <length>`` to its uid_map and
gid_map, then the process becomes root inside (host UID = hostId). Further containers join that
namespace. Each process is moved into the cgroup the kubelet and the runtime would give it.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kubectl_userns.checks.idmap import parse_subid_file
from kubectl_userns.errors import SandboxError
from kubectl_userns.sandbox.node import NodeState, wait_child

DEFAULT_POOL = "kubelet:65536:7208960\n"  # the documented example: 110 pods x 65536
QOS_CLASSES = ("BestEffort", "Burstable", "Guaranteed")

# waits for the go-ahead on stdin (the maps are written by then), then becomes root inside
_BECOME_ROOT = 'read -r go; exec setpriv --reuid=0 --regid=0 --clear-groups -- "$@"'


@dataclass
class ContainerState:
    name: str
    id: str
    cgroup: str  # path relative to the node's cgroup root, as the node sees it
    pids: list[int] = field(default_factory=list)  # host PIDs
    conmon_pid: int = 0


@dataclass
class PodState:
    name: str
    namespace: str
    uid: str
    node: str
    host_users: bool | None
    qos_class: str
    runtime: str
    host_id: int | None
    length: int
    pod_cgroup: str
    containers: list[ContainerState] = field(default_factory=list)
    extra_pids: list[int] = field(default_factory=list)
    # every ID slot (first host ID) this pod holds on its node: its own range, a second range of
    # a container with a user namespace of its own, the range of a lying kubelet record
    slots: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def pod_cgroup(uid: str, qos_class: str, driver: str) -> str:
    """The pod's cgroup directory relative to the cgroup root, as the kubelet names it."""
    qos = qos_class.lower()
    if driver == "systemd":
        escaped = uid.replace("-", "_")
        if qos_class == "Guaranteed":
            return f"kubepods.slice/kubepods-pod{escaped}.slice"
        return f"kubepods.slice/kubepods-{qos}.slice/kubepods-{qos}-pod{escaped}.slice"
    if qos_class == "Guaranteed":
        return f"kubepods/pod{uid}"
    return f"kubepods/{qos}/pod{uid}"


def container_cgroup(pod_dir: str, container_id: str, runtime: str, driver: str) -> str:
    """Where the runtime puts the container's processes (CRI-O + crun: one level deeper)."""
    if runtime == "crio":
        if driver == "systemd":
            return f"{pod_dir}/crio-{container_id}.scope/container"
        return f"{pod_dir}/crio-{container_id}"
    if driver == "systemd":
        return f"{pod_dir}/cri-containerd-{container_id}.scope"
    return f"{pod_dir}/{container_id}"


def conmon_cgroup(pod_dir: str, container_id: str, driver: str) -> str:
    if driver == "systemd":
        return f"{pod_dir}/crio-conmon-{container_id}.scope"
    return f"{pod_dir}/crio-conmon-{container_id}"


def new_container_id() -> str:
    return secrets.token_hex(32)


def _move(node: NodeState, rel: str, pid: int) -> None:
    for root in node.cgroup_dirs:
        path = Path(root) / rel
        path.mkdir(parents=True, exist_ok=True)
        (path / "cgroup.procs").write_text(f"{pid}\n")


def spawn(
    node: NodeState,
    argv: list[str],
    *,
    cgroup: str,
    new_userns_map: tuple[int, int] | None = None,
    join_userns_of: int | None = None,
    exec_name: str | None = None,
) -> int:
    """Start ``argv`` in the node; returns its host PID once it sits in ``cgroup``.

    ``new_userns_map=(host_id, length)`` puts it in a new user namespace with that mapping;
    ``join_userns_of=PID`` joins that process's user namespace as root inside.
    """
    enter = ["nsenter", "-t", str(node.init_pid), "-m", "-p", "-u", "-i", "-C"]
    if join_userns_of is not None:
        enter.append(f"--user=/proc/{join_userns_of}/ns/user")
    command = list(argv)
    if exec_name is not None:  # a stand-in named like the real program (see NODE_INIT)
        command[0] = f"/run/crio/{exec_name}"
    if new_userns_map is not None:
        command = [
            "unshare",
            "--user",
            "--keep-caps",
            "--",
            "sh",
            "-c",
            _BECOME_ROOT,
            "sh",
            *command,
        ]
    moves = "; ".join(f"echo $$ > {shlex.quote(cg)}/cgroup.procs" for cg in node.cgroup_dirs)
    proc = subprocess.Popen(
        ["sh", "-c", f"{moves}; exec {shlex.join([*enter, '--', *command])}"],
        stdin=subprocess.PIPE if new_userns_map else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    pid = wait_child(proc.pid)
    _move(node, cgroup, pid)
    if new_userns_map is not None:
        host_id, length = new_userns_map
        own = os.readlink("/proc/self/ns/user")
        deadline = time.monotonic() + 5
        while os.readlink(f"/proc/{pid}/ns/user") == own:
            if time.monotonic() > deadline:
                raise RuntimeError("the container never entered its user namespace")
            time.sleep(0.001)
        for name in ("uid_map", "gid_map"):
            Path(f"/proc/{pid}/{name}").write_text(f"0 {host_id} {length}\n")
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.close()
        deadline = time.monotonic() + 5
        while _status_uid(pid) != host_id:  # until setpriv has made it root inside
            if time.monotonic() > deadline:
                raise RuntimeError("the container never became root in its user namespace")
            time.sleep(0.001)
    return pid


def _status_uid(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def write_kubelet_record(node: NodeState, uid: str, host_id: int, length: int) -> None:
    mapping = [{"hostId": host_id, "containerId": 0, "length": length}]
    record = Path(node.dir) / "kubelet" / "pods" / uid / "userns"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"uidMappings": mapping, "gidMappings": mapping}))


def processes_command(processes: int, churn: bool) -> list[str]:
    """A container's main process: ``sleep infinity``, or a shell with children."""
    if churn:
        # keeps starting short-lived children, so a probe sees PIDs vanish while it reads
        return ["sh", "-c", "while :; do sleep 0.02 & wait; done"]
    if processes <= 1:
        return ["sleep", "infinity"]
    children = " ".join(["sleep infinity &"] * (processes - 1))
    return ["sh", "-c", f"{children} exec sleep infinity"]


def free_slot(node: NodeState, pods: Iterable[PodState], length: int) -> int:
    """The highest ID slot of the node's pool that no pod of the node holds.

    Deterministic, so that tests never depend on luck, and from the top of the pool, away
    from the low slots tests name on purpose (to make overlaps).
    """
    pools = parse_subid_file(node.subuid or DEFAULT_POOL)
    pool = pools[0] if pools else parse_subid_file(DEFAULT_POOL)[0]
    used = {
        slot
        for p in pods
        if p.node == node.name
        for slot in [*p.slots, *([p.host_id] if p.host_id is not None else [])]
    }
    first = -(-pool.start // length) * length
    for slot in reversed(range(first, pool.end - length + 1, length)):
        if not any(abs(slot - u) < length for u in used):
            return slot
    raise SandboxError(f"node {node.name} has no free ID slot left.")


def start_containers(
    node: NodeState,
    pod: PodState,
    names: list[str],
    *,
    image: str,
    processes: int,
    churn: bool,
    shared_userns: bool,
    host_root_process: bool,
    record: bool,
    kubelet_record_host_id: int | None,
    next_slot: Callable[[], int],
    save: Callable[[], None],
) -> list[tuple[str, str, str]]:
    """Start a running pod's containers (saving the state after each, so that ``down`` finds
    every process) and write the kubelet's record; returns (name, image, containerID) each."""
    isolated = pod.host_users is False
    host_id, length, pod_dir = pod.host_id, pod.length, pod.pod_cgroup
    prefix = "cri-o://" if pod.runtime == "crio" else "containerd://"
    statuses = []
    holder: int | None = None
    for index, cname in enumerate(names):
        cid = new_container_id()
        cgroup = container_cgroup(pod_dir, cid, pod.runtime, node.cgroup_driver)
        container = ContainerState(cname, cid, cgroup)
        if pod.runtime == "crio":
            container.conmon_pid = spawn(
                node,
                ["sleep", "infinity"],
                cgroup=conmon_cgroup(pod_dir, cid, node.cgroup_driver),
                exec_name="conmon",
            )
        argv = processes_command(processes, churn and index == len(names) - 1)
        if not isolated:
            pid = spawn(node, argv, cgroup=cgroup)
        elif holder is None or not shared_userns:
            assert host_id is not None
            slot = host_id if holder is None else next_slot()
            if slot not in pod.slots:
                pod.slots.append(slot)
            pid = spawn(node, argv, cgroup=cgroup, new_userns_map=(slot, length))
            holder = holder or pid
        else:
            pid = spawn(node, argv, cgroup=cgroup, join_userns_of=holder)
        container.pids.append(pid)
        pod.containers.append(container)
        statuses.append((cname, image, prefix + cid))
        save()
    if host_root_process and pod.containers:
        pid = spawn(node, ["sleep", "infinity"], cgroup=pod.containers[0].cgroup)
        pod.extra_pids.append(pid)
    if isolated and record:
        assert host_id is not None
        write_kubelet_record(node, pod.uid, kubelet_record_host_id or host_id, length)
    return statuses
