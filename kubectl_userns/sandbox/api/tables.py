"""Server-side tables (``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``), the shape
``kubectl get`` prints: the pod and node columns of kubectl's printers
(kubernetes/kubernetes pkg/printers/internalversion/printers.go)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from kubectl_userns.sandbox.api.status import JSON


def _age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    seconds = max(0, int((datetime.now(timezone.utc) - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _column(name: str, kind: str = "string", priority: int = 0, fmt: str = "") -> JSON:
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


def _pod_cells(pod: JSON) -> list[Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    status = pod.get("status") or {}
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        status.get("phase", "Unknown"),
        restarts,
        _age(pod["metadata"].get("creationTimestamp")),
        status.get("podIP") or "<none>",
        (pod.get("spec") or {}).get("nodeName") or "<none>",
        "<none>",
        "<none>",
    ]


POD_COLUMNS = [
    _column("Name", fmt="name"),
    _column("Ready"),
    _column("Status"),
    _column("Restarts", "string"),
    _column("Age"),
    _column("IP", priority=1),
    _column("Node", priority=1),
    _column("Nominated Node", priority=1),
    _column("Readiness Gates", priority=1),
]


def _node_cells(node: JSON) -> list[Any]:
    status = node.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    labels = (node.get("metadata") or {}).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    info = status.get("nodeInfo") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    return [
        node["metadata"]["name"],
        "Ready" if ready else "NotReady",
        ",".join(roles) or "<none>",
        _age(node["metadata"].get("creationTimestamp")),
        info.get("kubeletVersion", ""),
        addresses.get("InternalIP") or "<none>",
        addresses.get("ExternalIP") or "<none>",
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


NODE_COLUMNS = [
    _column("Name", fmt="name"),
    _column("Status"),
    _column("Roles"),
    _column("Age"),
    _column("Version"),
    _column("Internal-IP", priority=1),
    _column("External-IP", priority=1),
    _column("OS-Image", priority=1),
    _column("Kernel-Version", priority=1),
    _column("Container-Runtime", priority=1),
]


def to_table(kind: str, items: list[JSON], include_object: str) -> JSON:
    columns, cells = (POD_COLUMNS, _pod_cells) if kind == "pods" else (NODE_COLUMNS, _node_cells)
    rows = []
    for item in items:
        if include_object == "Object":
            embedded = item
        else:
            embedded = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": item.get("metadata") or {},
            }
        rows.append({"cells": cells(item), "object": embedded})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "1"},
        "columnDefinitions": columns,
        "rows": rows,
    }
