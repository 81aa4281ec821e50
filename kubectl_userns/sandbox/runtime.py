"""The sandbox's container runtimes: a pod's processes laid out as containerd or CRI-O does it.

containerd starts pause first, for every pod, in the pod's user namespace, in its own
cri-containerd-<sandbox id>.scope (containerd internal/cri/server/podsandbox/
sandbox_run_linux.go WithUserNamespace, helpers_linux.go getCgroupsPath); no shim in the pod
(ShimCgroup defaults to ""). CRI-O runs an infra container only when the pod shares its PID
namespace (drop_infra_ctr defaults to true: cri-o internal/lib/sandbox/sandbox_linux.go
NeedsInfra) and one conmon per container in the cgroup conmon_cgroup names (sandbox/pods.py
conmon_cgroup). The kubelet writes its record of the pod's range (kubernetes
pkg/kubelet/userns/userns_manager.go).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubectl_userns.sandbox.node import NodeState
from kubectl_userns.sandbox.objects import static_pod_hash
from kubectl_userns.sandbox.pods import (
    PAUSE_UID,
    ContainerState,
    PodState,
    conmon_cgroup,
    container_cgroup,
    new_container_id,
    pod_cgroup,
    processes_command,
    spawn,
    write_kubelet_record,
)


@dataclass(frozen=True)
class Situation:
    """How the pod's processes deviate from a plain healthy pod (see Sandbox.add_pod)."""

    processes: int = 1
    churn: bool = False
    shared_userns: bool = True
    host_root_process: bool = False
    record: bool = True
    kubelet_record_host_id: int | None = None
    share_process_namespace: bool = False
    crash_loop: bool = False
    nested_userns: bool = False
    runtime_userns: bool = True  # False: the runtime ignored hostUsers: false


def new_pod_state(
    node: NodeState,
    *,
    name: str,
    namespace: str,
    uid: str,
    host_users: bool | None,
    qos_class: str,
    runtime: str,
    host_id: int | None,
    length: int,
    static: bool,
) -> PodState:
    """A pod as the kubelet sees it: the UID it uses on the node, its cgroup, its range.

    A static pod's UID on the node is an md5 hash of its manifest and source (kubernetes
    pkg/kubelet/config/common.go applyDefaults); the mirror pod in the API has a UID of its own
    and carries the hash in kubernetes.io/config.mirror (pkg/kubelet/pod/mirror_client.go).
    """
    kubelet_uid = static_pod_hash(namespace, name, node.name) if static else uid
    pod = PodState(
        name=name,
        namespace=namespace,
        uid=uid,
        node=node.name,
        host_users=host_users,
        qos_class=qos_class,
        runtime=runtime,
        host_id=host_id,
        length=length,
        pod_cgroup=pod_cgroup(kubelet_uid, qos_class, node.cgroup_driver, node.cgroup_root),
        sandbox_id=new_container_id(),
        kubelet_uid=kubelet_uid,
    )
    if host_id is not None and host_users is False:
        pod.slots.append(host_id)
    return pod


def conmon(node: NodeState, pod_dir: str, container_id: str) -> int:
    """CRI-O's conmon for one container, in the cgroup its conmon_cgroup names."""
    cgroup = conmon_cgroup(pod_dir, container_id, node.cgroup_driver, node.conmon_cgroup)
    return spawn(node, ["sleep", "infinity"], cgroup=cgroup, exec_name="conmon")


def start_pod(
    node: NodeState,
    pod: PodState,
    names: list[str],
    *,
    image: str,
    situation: Situation,
    next_slot: Callable[[], int],
    save: Callable[[], None],
) -> list[tuple[str, str, str]]:
    """Start a running pod's sandbox and containers (saving the state after each, so that
    ``down`` finds every process) and write the kubelet's record; returns (name, image,
    containerID) for each container."""
    runtime, driver = pod.runtime, node.cgroup_driver
    host_id, length, pod_dir = pod.host_id, pod.length, pod.pod_cgroup
    isolated = pod.host_users is False
    userns = situation.runtime_userns and host_id is not None
    # the kubelet makes the pod's cgroup before the runtime starts anything in it
    # (kubernetes pkg/kubelet/kubelet.go SyncPod: EnsureExists of the pod container)
    for root in node.cgroup_dirs:
        (Path(root) / pod_dir).mkdir(parents=True, exist_ok=True)
    holder: int | None = None
    if runtime == "containerd" or situation.share_process_namespace:
        cgroup = container_cgroup(pod_dir, pod.sandbox_id, runtime, driver)
        pause = ContainerState("", pod.sandbox_id, cgroup, role="sandbox")
        if runtime == "crio":
            pause.conmon_pid = conmon(node, pod_dir, pod.sandbox_id)
        userns_map = (host_id, length) if userns and host_id is not None else None
        pid = spawn(
            node,
            ["sleep", "infinity"],
            cgroup=cgroup,
            new_userns_map=userns_map,
            exec_name="pause",
            inside_uid=PAUSE_UID,
        )
        holder = pid if userns_map else None
        pause.pids.append(pid)
        pod.containers.append(pause)
        save()
    prefix = "cri-o://" if runtime == "crio" else "containerd://"
    statuses = []
    for index, cname in enumerate(names):
        cid = new_container_id()
        statuses.append((cname, image, prefix + cid))
        if situation.crash_loop:
            continue  # exited; its scope went with it
        cgroup = container_cgroup(pod_dir, cid, runtime, driver)
        container = ContainerState(cname, cid, cgroup)
        if runtime == "crio":
            container.conmon_pid = conmon(node, pod_dir, cid)
        argv = processes_command(situation.processes, situation.churn and index == len(names) - 1)
        options: dict[str, Any] = {"cgroup": cgroup}
        if userns and (holder is None or not situation.shared_userns):
            assert host_id is not None
            slot = host_id if holder is None else next_slot()
            if slot not in pod.slots and isolated:
                pod.slots.append(slot)
            options["new_userns_map"] = (slot, length)
        elif userns:
            options["join_userns_of"] = holder
        pid = spawn(node, argv, **options)
        if userns and holder is None:
            holder = pid
        container.pids.append(pid)
        if situation.nested_userns and index == 0 and holder is not None:
            assert host_id is not None
            # rootless podman's map in a pod: its own user as 0, then a subordinate range, both
            # inside the pod's IDs (user_namespaces(7): a child maps a sub-range of its parent)
            nested = ((0, 1000, 1), (1, 10000, length - 10000))
            container.pids.append(
                spawn(
                    node,
                    ["sleep", "infinity"],
                    cgroup=cgroup,
                    join_userns_of=holder,
                    nested_map=nested,
                    parent_host_id=host_id,
                )
            )
        pod.containers.append(container)
        save()
    apps = [c for c in pod.containers if c.role == "app"]
    if situation.host_root_process and apps:
        pod.extra_pids.append(spawn(node, ["sleep", "infinity"], cgroup=apps[0].cgroup))
    if isolated and situation.record:
        assert host_id is not None
        recorded = situation.kubelet_record_host_id or host_id
        write_kubelet_record(node, pod.kubelet_uid or pod.uid, recorded, length)
    return statuses


def situate_pod(
    pod: dict[str, Any],
    *,
    mirror_of: str | None,
    crio_userns_mode: str | None,
    share_process_namespace: bool,
    crash_loop: bool,
) -> None:
    """The Pod object of a situation: a static pod's mirror, CRI-O's annotation, a shared PID
    namespace, a crash loop."""
    meta = pod["metadata"]
    annotations: dict[str, str] = {}
    if mirror_of is not None:
        # kubernetes pkg/kubelet/config/common.go: the kubelet's annotations of a file pod;
        # pkg/kubelet/pod/mirror_client.go CreateMirrorPod: the mirror carries the hash and is
        # owned by the node (MirrorPodNodeRestriction)
        annotations = {
            "kubernetes.io/config.hash": mirror_of,
            "kubernetes.io/config.mirror": mirror_of,
            "kubernetes.io/config.seen": "2026-11-30T08:00:00.000000000Z",
            "kubernetes.io/config.source": "file",
        }
        node = pod["spec"].get("nodeName", "")
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": node, "uid": "", "controller": True}
        ]
    if crio_userns_mode is not None:
        annotations["io.kubernetes.cri-o.userns-mode"] = crio_userns_mode
    if annotations:
        meta["annotations"] = annotations
    if share_process_namespace:
        pod["spec"]["shareProcessNamespace"] = True
    if crash_loop:
        crash_looping(pod)


def crash_looping(pod: dict[str, Any]) -> None:
    """Every container of ``pod`` in CrashLoopBackOff: waiting, its last run terminated.

    The phase stays Running (kubernetes pkg/kubelet/kubelet_pods.go getPhase: restartable
    containers that wait count as running) and each status keeps its last container's ID.
    """
    status = pod["status"]
    for entry in status.get("containerStatuses") or []:
        entry.update(
            {
                "ready": False,
                "started": False,
                "restartCount": 6,
                "state": {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 5m0s restarting failed container={entry['name']}",
                    }
                },
                "lastState": {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": status.get("startTime"),
                        "finishedAt": status.get("startTime"),
                        "containerID": entry["containerID"],
                    }
                },
            }
        )
    for condition in status.get("conditions") or []:
        if condition["type"] in ("Ready", "ContainersReady"):
            condition.update({"status": "False", "reason": "ContainersNotReady"})
