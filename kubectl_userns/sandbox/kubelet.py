"""The sandbox's kubelet: runs a pod created through the API emulator on its node, as the
built-in pods run (kubectl apply -f, kubectl run, --via pod's probe pods alike); its node and ID
slot come from :mod:`.scheduling`.

Like the real kubelet and runtime it gives the pod the kubepods cgroup of its QoS class
(kubernetes pkg/apis/core/v1/helper/qos/qos.go; pkg/kubelet/cm), an ID slot from the node's
pool with a record at <kubelet root>/pods/<uid>/userns and a user namespace of that mapping when
``hostUsers: false`` (pkg/kubelet/userns/userns_manager.go), the node runtime's plumbing
(containerd's pause, CRI-O's conmon; see sandbox/pods.py) and container IDs in its status.

Each container's ``command`` + ``args`` (``sleep infinity`` when none: the sandbox has no image
entrypoints) runs inside the node's namespaces, in a private mount namespace, chrooted into a
root of its own: a tmpfs with the node's ``/usr`` as the image, each ``hostPath`` volume
bind-mounted (recursively, as container runtimes do) at its ``mountPath`` (read-only when the
mount says so) and each ``emptyDir`` a fresh tmpfs; with ``hostPID: false`` it gets a PID
namespace of its own. The process keeps only the capabilities its ``securityContext`` adds (all
when privileged), with no_new_privs unless escalation is allowed, and
``readOnlyRootFilesystem`` is honoured. stdout and stderr go to one log, as a container
runtime's do; the pod's status moves Pending -> Running -> Succeeded/Failed with the containers'
exit codes. ``activeDeadlineSeconds`` is enforced; deleting the pod kills what still runs,
removes its cgroups and releases its ID slot (its record).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubectl_userns.sandbox.container import container_argv, qos_class
from kubectl_userns.sandbox.node import NodeState, wait_child
from kubectl_userns.sandbox.objects import pod_ip_for
from kubectl_userns.sandbox.pods import (
    PAUSE_UID,
    conmon_cgroup,
    container_cgroup,
    move_process,
    new_container_id,
    pod_cgroup,
    start_process,
    write_kubelet_record,
)
from kubectl_userns.sandbox.scheduling import (
    allocate_slot,
    node_state,
    pod_lock,
    schedule,
    slot_lock,
)
from kubectl_userns.sandbox.store import ObjectStore, file_name, now

JSON = dict[str, Any]


@dataclass
class _Running:
    containers: list[subprocess.Popen[bytes]]
    plumbing: list[int]  # host PIDs of pause and conmon processes
    node: NodeState
    pod_dir: str
    uid: str


# containerd-shim runs in containerd's own cgroup: its ShimCgroup option defaults to ""
# (containerd core/runtime/v2 shim options; userns-facts.md section 6)
CONTAINERD_SHIM_CGROUP = "system.slice/containerd.service"

_running: dict[tuple[str, str], _Running] = {}


def log_path(store: ObjectStore, namespace: str, name: str) -> Path:
    return store.root / "logs" / namespace / file_name(name, ".log")


def _set_status(store: ObjectStore, namespace: str, name: str, uid: str, status: JSON) -> None:
    with pod_lock:
        pod = store.get("pods", name, namespace)
        if pod is None or pod["metadata"].get("uid") != uid:
            return  # deleted (or replaced) meanwhile: never bring it back
        pod["status"] = status
        store.put("pods", pod)


def _container_status(container: str, image: str, container_id: str, state: JSON) -> JSON:
    return {
        "name": container,
        "image": image,
        "imageID": "",
        "containerID": container_id,
        "ready": "running" in state,
        "restartCount": 0,
        "started": "running" in state,
        "state": state,
    }


def start(store: ObjectStore, pod: JSON) -> None:
    """Run ``pod`` on its node in the background, if it names a running sandbox node."""
    spec = pod.get("spec") or {}
    if not spec.get("nodeName"):
        spec["nodeName"] = schedule(store, pod)
    node = node_state(store, spec.get("nodeName") or "")
    if node is None:
        return  # no such node: the pod stays Pending, as with a real cluster
    meta = pod["metadata"]
    key = (meta["namespace"], meta["name"])
    uid = meta["uid"]
    qos = qos_class(pod)
    driver, runtime = node.cgroup_driver, node.runtime
    pod_dir = pod_cgroup(uid, qos, driver, node.cgroup_root)
    for root in node.cgroup_dirs:  # the kubelet makes the pod's cgroup first
        (Path(root) / pod_dir).mkdir(parents=True, exist_ok=True)
    userns: tuple[int, int] | None = None
    if spec.get("hostUsers") is False:
        with slot_lock:
            slot = allocate_slot(store, node, node.ids_per_pod)
            if slot is not None:
                write_kubelet_record(node, uid, slot, node.ids_per_pod)
        if slot is None:
            return  # a real kubelet fails the pod's sandbox; it stays Pending here
        userns = (slot, node.ids_per_pod)
    containers = spec.get("containers") or [{}]
    node_status = (store.get("nodes", node.name) or {}).get("status") or {}
    host_ip = next(
        (a["address"] for a in node_status.get("addresses") or [] if a.get("type") == "InternalIP"),
        "",
    )
    path = log_path(store, *key)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = "cri-o://" if runtime == "crio" else "containerd://"
    running = _Running([], [], node, pod_dir, uid)
    holder: int | None = None
    with open(path, "wb") as log:
        if runtime == "containerd":  # pause first, in the pod's user namespace (sandbox/pods.py)
            sandbox_id = new_container_id()
            _, pause = start_process(
                node,
                ["sleep", "infinity"],
                cgroup=container_cgroup(pod_dir, sandbox_id, runtime, driver),
                new_userns_map=userns,
                exec_name="pause",
                inside_uid=PAUSE_UID,
            )
            running.plumbing.append(pause)
            holder = pause if userns else None
        ids = []
        for container in containers:
            # the runtime prepares the container's root as host root, before the container
            # enters its user namespace (where the node's /run is not writable)
            mount_point = f"/proc/{node.init_pid}/root/run/sandbox-kubelet/{uid}"
            os.makedirs(f"{mount_point}/{container.get('name', 'c')}", exist_ok=True)
            cid = new_container_id()
            ids.append(prefix + cid)
            if runtime == "crio":
                _, conmon = start_process(
                    node,
                    ["sleep", "infinity"],
                    cgroup=conmon_cgroup(pod_dir, cid, driver, node.conmon_cgroup),
                    exec_name="conmon",
                )
                running.plumbing.append(conmon)
            proc, pid = start_process(
                node,
                container_argv(pod, container),
                cgroup=container_cgroup(pod_dir, cid, runtime, driver),
                new_userns_map=userns if holder is None else None,
                join_userns_of=holder,
                log=log,
            )
            if userns and holder is None:
                holder = pid
            if not spec.get("hostPID"):
                # `unshare -p --fork` stays as the parent of the container's PID 1, as conmon
                # or containerd-shim do: it goes where they live, out of the container's cgroup
                # the child may be forked before start_process moved its parent: move it too
                move_process(node, container_cgroup(pod_dir, cid, runtime, driver), wait_child(pid))
                monitor = (
                    conmon_cgroup(pod_dir, cid, driver, node.conmon_cgroup)
                    if runtime == "crio"
                    else CONTAINERD_SHIM_CGROUP
                )
                move_process(node, monitor, pid)
            running.containers.append(proc)
    with pod_lock:
        _running[key] = running
    started = now()
    # the kubelet reports both the singular and the plural address fields
    # (kubernetes pkg/kubelet/kubelet_pods.go generateAPIPodStatus)
    pod_ip = host_ip if spec.get("hostNetwork") else pod_ip_for(uid)
    base = {
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "qosClass": qos,
    }
    names = [(c.get("name", "c"), c.get("image", "")) for c in containers]
    _set_status(
        store,
        *key,
        uid,
        {
            **base,
            "phase": "Running",
            "startTime": started,
            "containerStatuses": [
                _container_status(n, i, cid, {"running": {"startedAt": started}})
                for (n, i), cid in zip(names, ids, strict=True)
            ],
        },
    )
    deadline = spec.get("activeDeadlineSeconds")

    def wait() -> None:
        codes: list[int] = []
        reasons: list[str] = []
        limit = time.monotonic() + float(deadline) if deadline else None
        for proc in running.containers:
            reason = "Completed"
            try:
                left = None if limit is None else max(0.0, limit - time.monotonic())
                code = proc.wait(timeout=left)
            except subprocess.TimeoutExpired:
                for other in running.containers:
                    _kill(other)
                code, reason = 137, "DeadlineExceeded"
            if code < 0:
                code = 128 - code
            if code and reason == "Completed":
                reason = "Error"
            codes.append(code)
            reasons.append(reason)
        for pid in running.plumbing:  # the sandbox goes with its last container
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with pod_lock:
            _running.pop(key, None)
        with contextlib.suppress(OSError):  # the empty mount points of the containers' roots
            base_dir = f"/proc/{node.init_pid}/root/run/sandbox-kubelet/{uid}"
            for container in containers:
                os.rmdir(f"{base_dir}/{container.get('name', 'c')}")
            os.rmdir(base_dir)
        finished = now()
        statuses = [
            _container_status(
                n,
                i,
                cid,
                {
                    "terminated": {
                        "exitCode": code,
                        "reason": reason,
                        "startedAt": started,
                        "finishedAt": finished,
                        "containerID": cid,
                    }
                },
            )
            for (n, i), cid, code, reason in zip(names, ids, codes, reasons, strict=True)
        ]
        _set_status(
            store,
            *key,
            uid,
            {
                **base,
                "phase": "Succeeded" if not any(codes) else "Failed",
                "startTime": started,
                "containerStatuses": statuses,
            },
        )

    threading.Thread(target=wait, daemon=True).start()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def delete(store: ObjectStore, namespace: str, name: str) -> JSON | None:
    """Delete the pod: kill what still runs, drop its log, cgroups and ID slot; the deleted
    object or None."""
    with pod_lock:
        pod = store.get("pods", name, namespace)
        if pod is None:
            return None
        store.delete("pods", name, namespace)
        running = _running.pop((namespace, name), None)
    if running is not None:
        for proc in running.containers:
            _kill(proc)
        for pid in running.plumbing:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    log_path(store, namespace, name).unlink(missing_ok=True)
    node = (
        running.node
        if running
        else node_state(store, (pod.get("spec") or {}).get("nodeName") or "")
    )
    if node is not None:
        uid = pod["metadata"].get("uid", "")
        # the kubelet releases the pod's range and removes its directory once it is gone
        # (pkg/kubelet/userns/userns_manager.go Release, kubelet_pods.go cleanupOrphanedPodDirs)
        record = Path(node.dir) / "kubelet" / "pods" / uid
        with contextlib.suppress(OSError):
            (record / "userns").unlink()
            record.rmdir()
        if running is not None:
            _remove_cgroups(node, running.pod_dir)
    return pod


def _remove_cgroups(node: NodeState, pod_dir: str) -> None:
    """Remove the pod's cgroup directories (and CRI-O's conmon scopes) once they are empty."""
    for root in node.cgroup_dirs:
        base = Path(root) / pod_dir
        if not base.is_dir():
            continue
        for _ in range(200):
            dirs = sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
            try:
                for path in [*dirs, base]:
                    path.rmdir()
                break
            except OSError:
                time.sleep(0.01)  # processes still leaving
