"""Where a pod created through the API emulator goes: its node, chosen as kube-scheduler's
default scoring spreads pods, and its ID slot in the node's pool, as the kubelet's user
namespace manager hands them out - both read from the sandbox's state file next to the store.
The pod's life on its node: :mod:`.kubelet`.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from kubectl_userns.sandbox.node import NodeState
from kubectl_userns.sandbox.pods import kubelet_pool, pool_slots, recorded_slots
from kubectl_userns.sandbox.store import ObjectStore, now

JSON = dict[str, Any]

# one read-modify-write of a stored pod at a time: the scheduler's binding, the kubelet's
# status updates and deletion
pod_lock = threading.Lock()
# one slot allocation at a time, so two pods started together never get the same slot
slot_lock = threading.Lock()


def node_state(store: ObjectStore, node: str) -> NodeState | None:
    """The node from the sandbox state file next to the store, if it runs."""
    try:
        data = json.loads((store.root.parent / "sandbox.json").read_text())
        state = NodeState(**data["nodes"][node])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if state.init_pid <= 0 or not Path(f"/proc/{state.init_pid}").exists():
        return None
    return state


def schedule(store: ObjectStore, pod: JSON) -> str:
    """Bind a pod that names no node to the sandbox node with the fewest pods (by name on a
    tie), as kube-scheduler's default scoring spreads pods; "" when no node runs.

    The binding is stored at once (kube-scheduler posts pods/binding, which sets
    spec.nodeName and the PodScheduled condition: kubernetes pkg/registry/core/pod/storage).
    """
    try:
        data = json.loads((store.root.parent / "sandbox.json").read_text())
        nodes = sorted(data.get("nodes") or {})
    except (OSError, ValueError):
        return ""
    if not nodes:
        return ""
    load = {n: 0 for n in nodes}
    for other in store.list("pods"):
        name = (other.get("spec") or {}).get("nodeName")
        if name in load:
            load[name] += 1
    chosen: str = min(nodes, key=lambda n: (load[n], n))
    meta = pod["metadata"]
    with pod_lock:
        stored = store.get("pods", meta["name"], meta["namespace"])
        if stored is None or stored["metadata"].get("uid") != meta.get("uid"):
            return ""
        stored.setdefault("spec", {})["nodeName"] = chosen
        status = stored.setdefault("status", {})
        status["conditions"] = [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now()}
        ]
        store.put("pods", stored)
    return chosen


def _sandbox_slots(store: ObjectStore, node: str) -> list[int]:
    """ID slots the sandbox's own pods of ``node`` hold (see Sandbox._free_slot)."""
    try:
        data = json.loads((store.root.parent / "sandbox.json").read_text())
    except (OSError, ValueError):
        return []
    slots = []
    for pod in (data.get("pods") or {}).values():
        if pod.get("node") == node:
            slots += [int(s) for s in pod.get("slots") or []]
    return slots


def allocate_slot(store: ObjectStore, node: NodeState, length: int) -> int | None:
    """A free slot of the node's pool: the highest that no record and no sandbox pod holds.

    The real kubelet picks a random free slot (pkg/kubelet/userns/userns_manager.go
    allocateOne); the sandbox picks deterministically, as Sandbox._free_slot does.
    """
    pool = kubelet_pool(node, length)
    used = set(recorded_slots(node)) | set(_sandbox_slots(store, node.name))
    for slot in pool_slots(pool, length):
        if not any(abs(slot - u) < length for u in used):
            return slot
    return None
