"""Reading API objects of any shape, and the workload a pod belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JSON = dict[str, Any]
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def _map(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one: API objects can have any shape."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _map(obj.get("metadata"))


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _map(obj.get("spec"))


def _node_name(pod: Mapping[str, Any]) -> str:
    name = _spec(pod).get("nodeName")
    return name if isinstance(name, str) else ""


def _range(row: Mapping[str, Any]) -> tuple[int, int] | None:
    """An audit row's host range ``[start, end]``, when it is one."""
    value = row.get("hostRange")
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return int(value[0]), int(value[1])
    return None


def _owner(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The controlling owner reference of ``obj``, or None."""
    refs = _meta(obj).get("ownerReferences")
    if not isinstance(refs, list):
        return None
    refs = [r for r in refs if isinstance(r, Mapping)]
    controller = [r for r in refs if r.get("controller")]
    found = controller or refs
    return found[0] if found else None


def workload_of(
    pod: Mapping[str, Any],
    replicasets: Mapping[str, Mapping[str, Any]],
    jobs: Mapping[str, Mapping[str, Any]],
) -> tuple[str, str]:
    """``(kind, name)`` of the workload ``pod`` belongs to, in the pod's namespace.

    Deployments through their ReplicaSet, CronJobs through their Job (``replicasets`` and
    ``jobs`` by UID), StatefulSets and DaemonSets directly; a static pod's mirror by its name
    without the ``-<node>`` suffix the kubelet adds (pkg/kubelet/config/common.go); anything
    else is its own workload (kind Pod).
    """
    meta = _meta(pod)
    name = str(meta.get("name") or "?")
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), Mapping) else {}
    owner = _owner(pod)
    if MIRROR_ANNOTATION in (annotations or {}) or (owner and owner.get("kind") == "Node"):
        node = _node_name(pod)
        base = name.removesuffix(f"-{node}") if node and name.endswith(f"-{node}") else name
        return "StaticPod", base
    if owner is None:
        return "Pod", name
    kind, owner_name = str(owner.get("kind") or "?"), str(owner.get("name") or "?")
    uid = str(owner.get("uid") or "")
    if kind == "ReplicaSet":
        parent = _owner(replicasets.get(uid) or {})
        if parent and parent.get("kind") == "Deployment":
            return "Deployment", str(parent.get("name") or "?")
        return "ReplicaSet", owner_name
    if kind == "Job":
        parent = _owner(jobs.get(uid) or {})
        if parent and parent.get("kind") == "CronJob":
            return "CronJob", str(parent.get("name") or "?")
        return "Job", owner_name
    return kind, owner_name
