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
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from kubectl_userns.checks.idmap import SubIdRange, parse_subid_file
from kubectl_userns.errors import SandboxError
from kubectl_userns.sandbox.node import NodeState, wait_child

DEFAULT_POOL = "kubelet:65536:7208960\n"  # the documented example: 110 pods x 65536
QOS_CLASSES = ("BestEffort", "Burstable", "Guaranteed")

# waits for the go-ahead on stdin (the maps are written by then), then becomes UID/GID $0 inside
_BECOME = 'read -r go; exec setpriv --reuid="$0" --regid="$0" --clear-groups -- "$@"'
# The pause image runs as 65535:65535 (kubernetes build/pause/Dockerfile `USER 65535:65535`).
PAUSE_UID = 65535


@dataclass
class ContainerState:
    name: str
    id: str
    cgroup: str  # path relative to the node's cgroup root, as the node sees it
    pids: list[int] = field(default_factory=list)  # host PIDs
    conmon_pid: int = 0
    role: str = "app"  # "app", or "sandbox" (containerd's pause, CRI-O's infra container)


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
    sandbox_id: str = ""  # the pod sandbox's ID (containerd's pause, CRI-O's infra/pinns)
    kubelet_uid: str = ""  # the UID the kubelet and the node use (a static pod's config hash)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def pod_cgroup(uid: str, qos_class: str, driver: str, cgroup_root: str = "/") -> str:
    """The pod's cgroup directory relative to the cgroup root, as the kubelet names it.

    The kubelet's cgroup name is [--cgroup-root parts..., "kubepods", QoS (not for Guaranteed),
    "pod<uid>"]. The systemd driver turns every prefix of it into a slice named by the parts
    joined with "-", each part's "-" written "_" (kubernetes pkg/kubelet/cm/cgroup_manager_linux.go
    CgroupName.ToSystemd, pkg/kubelet/cm/pod_container_manager_linux.go GetPodContainerName,
    qos_container_manager_linux.go); cgroupfs joins them with "/" (ToCgroupfs).
    """
    parts = [p for p in cgroup_root.split("/") if p] + ["kubepods"]
    if qos_class != "Guaranteed":
        parts.append(qos_class.lower())
    parts.append(f"pod{uid}")
    if driver == "systemd":
        escaped = [p.replace("-", "_") for p in parts]
        return "/".join("-".join(escaped[: i + 1]) + ".slice" for i in range(len(escaped)))
    return "/".join(parts)


def container_cgroup(pod_dir: str, container_id: str, runtime: str, driver: str) -> str:
    """Where the runtime puts a container's (or containerd's pause) processes.

    containerd: "<slice>:cri-containerd:<id>" = <pod slice>/cri-containerd-<id>.scope with
    systemd, <pod cgroup>/<id> with cgroupfs, for containers and the pause sandbox alike
    (containerd internal/cri/server/helpers.go and podsandbox/helpers_linux.go getCgroupsPath).
    CRI-O: crio-<id>.scope (cgroupfs: crio-<id>); crun on systemd + cgroup v2 puts the process
    one level deeper, in container/ (userns-facts.md section 5, the seed article's systemd-cgls).
    """
    if runtime == "crio":
        if driver == "systemd":
            return f"{pod_dir}/crio-{container_id}.scope/container"
        return f"{pod_dir}/crio-{container_id}"
    if driver == "systemd":
        return f"{pod_dir}/cri-containerd-{container_id}.scope"
    return f"{pod_dir}/{container_id}"


def conmon_cgroup(pod_dir: str, container_id: str, driver: str, conmon_cgroup: str) -> str:
    """Where CRI-O puts a container's conmon.

    With the systemd manager conmon_cgroup defaults to "system.slice" (cri-o
    pkg/config/config_linux.go defaultMonitorCgroup), so conmon runs in
    system.slice/crio-conmon-<id>.scope, outside the pod; only conmon_cgroup = "pod" puts the
    scope in the pod's slice (internal/config/cgmgr/systemd_linux.go MoveConmonToCgroup). With
    cgroupfs only "pod" (or empty) is valid: <pod cgroup>/crio-conmon-<id>
    (internal/config/cgmgr/cgroupfs_linux.go).
    """
    if driver != "systemd":
        return f"{pod_dir}/crio-conmon-{container_id}"
    if conmon_cgroup == "pod":
        return f"{pod_dir}/crio-conmon-{container_id}.scope"
    return f"{conmon_cgroup}/crio-conmon-{container_id}.scope"


def new_container_id() -> str:
    return secrets.token_hex(32)


def move_process(node: NodeState, rel: str, pid: int) -> None:
    """Move ``pid`` into the cgroup ``rel`` (made if missing) of each of the node's roots."""
    for root in node.cgroup_dirs:
        path = Path(root) / rel
        path.mkdir(parents=True, exist_ok=True)
        (path / "cgroup.procs").write_text(f"{pid}\n")


def spawn(node: NodeState, argv: list[str], **options: Any) -> int:
    """Start ``argv`` in the node (see ``start_process``); returns its host PID."""
    return start_process(node, argv, **options)[1]


def start_process(
    node: NodeState,
    argv: list[str],
    *,
    cgroup: str,
    new_userns_map: tuple[int, int] | None = None,
    join_userns_of: int | None = None,
    exec_name: str | None = None,
    inside_uid: int = 0,
    nested_map: tuple[tuple[int, int, int], ...] | None = None,
    parent_host_id: int = 0,
    log: IO[bytes] | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``argv`` in the node; returns the process started here and the host PID of the
    command once it sits in ``cgroup`` (its stdout and stderr go to ``log``, else nowhere).

    ``new_userns_map=(host_id, length)`` puts it in a new user namespace with that mapping,
    where it runs as ``inside_uid``; ``join_userns_of=PID`` joins that process's user namespace
    (as root inside, or ``inside_uid`` as the host sees nothing else to map). With
    ``join_userns_of`` and ``nested_map`` (lines inside, outside-in-parent, length) it creates a
    child user namespace of that one, as rootless podman or buildah in a pod do: the map is
    written from the parent namespace (user_namespaces(7): only a process there may write it).
    """
    enter = ["nsenter", "-t", str(node.init_pid), "-m", "-p", "-u", "-i", "-C"]
    if join_userns_of is not None:
        enter.append(f"--user=/proc/{join_userns_of}/ns/user")
    command = list(argv)
    if exec_name is not None:  # a stand-in named like the real program (see NODE_INIT)
        command[0] = f"/run/crio/{exec_name}"
    new_ns = new_userns_map is not None or nested_map is not None
    if new_ns:
        become = [str(inside_uid), *command]
        command = ["unshare", "--user", "--keep-caps", "--", "sh", "-c", _BECOME, *become]
    elif inside_uid:
        ids = [f"--reuid={inside_uid}", f"--regid={inside_uid}", "--clear-groups"]
        command = ["setpriv", *ids, "--", *command]
    moves = "; ".join(f"echo $$ > {shlex.quote(cg)}/cgroup.procs" for cg in node.cgroup_dirs)
    proc = subprocess.Popen(
        ["sh", "-c", f"{moves}; exec {shlex.join([*enter, '--', *command])}"],
        stdin=subprocess.PIPE if new_ns else subprocess.DEVNULL,
        stdout=log if log is not None else subprocess.DEVNULL,
        stderr=log if log is not None else subprocess.DEVNULL,
        start_new_session=True,
    )
    pid = wait_child(proc.pid)
    move_process(node, cgroup, pid)
    if new_ns:
        parent = join_userns_of if join_userns_of is not None else os.getpid()
        parent_ns = os.readlink(f"/proc/{parent}/ns/user")
        deadline = time.monotonic() + 5
        while os.readlink(f"/proc/{pid}/ns/user") == parent_ns:
            if time.monotonic() > deadline:
                raise RuntimeError("the container never entered its user namespace")
            time.sleep(0.001)
        if nested_map is not None:
            assert join_userns_of is not None
            text = "".join(f"{a} {b} {c}\\n" for a, b, c in nested_map)
            files = (f"/proc/{pid}/uid_map", f"/proc/{pid}/gid_map")
            write = " && ".join(f"printf '{text}' > {f}" for f in files)
            subprocess.run(
                ["nsenter", f"--user=/proc/{join_userns_of}/ns/user", "--", "sh", "-c", write],
                check=True,
            )
            # the parent namespace's ID 0 is the pod's host ID: the child's 0 sits above it
            expected = parent_host_id + nested_map[0][1] + inside_uid
        else:
            assert new_userns_map is not None
            host_id, length = new_userns_map
            for name in ("uid_map", "gid_map"):
                Path(f"/proc/{pid}/{name}").write_text(f"0 {host_id} {length}\n")
            expected = host_id + inside_uid
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.close()
        deadline = time.monotonic() + 5
        while _status_uid(pid) != expected:  # until setpriv has switched to its IDs inside
            if time.monotonic() > deadline:
                raise RuntimeError("the container never took its IDs in its user namespace")
            time.sleep(0.001)
    return proc, pid


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


def recorded_slots(node: NodeState) -> list[int]:
    """The first host IDs of every kubelet userns record on the node."""
    slots = []
    for path in (Path(node.dir) / "kubelet" / "pods").glob("*/userns"):
        try:
            data = json.loads(path.read_text())
            slots.append(int(data["uidMappings"][0]["hostId"]))
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            continue
    return slots


def processes_command(processes: int, churn: bool) -> list[str]:
    """A container's main process: ``sleep infinity``, or a shell with children."""
    if churn:
        # keeps starting short-lived children, so a probe sees PIDs vanish while it reads
        return ["sh", "-c", "while :; do sleep 0.02 & wait; done"]
    if processes <= 1:
        return ["sleep", "infinity"]
    children = " ".join(["sleep infinity &"] * (processes - 1))
    return ["sh", "-c", f"{children} exec sleep infinity"]


def kubelet_pool(node: NodeState, length: int) -> SubIdRange:
    """The pool the node's kubelet allocates from, found as the kubelet finds it (kubernetes
    pkg/kubelet/kubelet_pods.go getKubeletMappings): no ``kubelet`` user in the node's
    /etc/passwd - the default pool, from ``idsPerPod`` to 2^32, whatever /etc/subuid says;
    else its subuid range."""
    try:
        passwd = (Path(node.dir) / "etc.upper" / "passwd").read_text()
    except OSError:
        passwd = ""
    if not any(line.startswith("kubelet:") for line in passwd.splitlines()):
        return SubIdRange(length, 2**32 - length)
    pools = parse_subid_file(node.subuid or DEFAULT_POOL)
    return pools[0] if pools else parse_subid_file(DEFAULT_POOL)[0]


def pool_slots(pool: SubIdRange, length: int) -> range:
    """The pool's slots, highest first; never one that ends at host ID 4294967295, which the
    kernel refuses in a uid_map (the kubelet's default pool has it: kubernetes#139916)."""
    first = -(-pool.start // length) * length
    end = min(pool.end, 2**32 - 1)
    return range(end - length - (end - length - first) % length, first - 1, -length)


def free_slot(node: NodeState, pods: Iterable[PodState], length: int) -> int:
    """The highest ID slot of the node's pool that no pod of the node holds.

    Deterministic, so that tests never depend on luck, and from the top of the pool, away
    from the low slots tests name on purpose (to make overlaps). The kubelet records on the
    node count too: pods created through the API are run by the API emulator's kubelet.
    """
    pool = kubelet_pool(node, length)
    used = {
        slot
        for p in pods
        if p.node == node.name
        for slot in [*p.slots, *([p.host_id] if p.host_id is not None else [])]
    }
    used |= set(recorded_slots(node))  # pods the API emulator's kubelet runs
    for slot in pool_slots(pool, length):
        if not any(abs(slot - u) < length for u in used):
            return slot
    raise SandboxError(f"node {node.name} has no free ID slot left.")
