"""Which operating system a node or a pod runs: user namespaces are Linux only. A module of its
own so that inspect need not import the node or cluster checks to ask."""

from __future__ import annotations

from typing import Any


def node_os(node: dict[str, Any]) -> str:
    """The OS a Node says it runs: status.nodeInfo.operatingSystem, else the kubernetes.io/os
    label (both set by the kubelet), lower case; "" when neither is a string."""
    info = (node.get("status") or {}).get("nodeInfo") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    found = info.get("operatingSystem") if isinstance(info, dict) else None
    if not isinstance(found, str) or not found:
        found = labels.get("kubernetes.io/os") if isinstance(labels, dict) else None
    return found.strip().lower() if isinstance(found, str) else ""


def pod_operating_system(pod: dict[str, Any], node_os: str) -> str:
    """The OS a pod runs on: its node's, else the pod's own spec.os.name; "" when unknown."""
    if node_os:
        return node_os
    wanted = ((pod.get("spec") or {}).get("os") or {}).get("name")
    return wanted.strip().lower() if isinstance(wanted, str) else ""
