"""Windows nodes for the sandbox: API objects only.

A mixed cluster (AKS, EKS, GKE with Windows node pools) has Windows nodes beside Linux ones.
Their kubelet reports ``operatingSystem: windows`` (its GOOS; kubernetes
pkg/kubelet/nodestatus/setters.go GoRuntime) and the ``kubernetes.io/os`` label; their pods
run Windows containers, which have no user namespaces, and there is no sh to probe. The
sandbox models one as a Node and its Running pods in the API, with no node behind them: no
namespaces, no sshd, nothing in the SSH config - so a tool that tried to reach it would fail
loudly rather than pass by accident.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from kubectl_userns.sandbox.objects import make_node, make_pod

if TYPE_CHECKING:
    from kubectl_userns.sandbox.cluster import Sandbox

# what a Windows Server 2022 node with containerd 1.7 reports (its kernelVersion is the build
# number, which would pass a naive ">= 6.3" kernel check)
WINDOWS_KERNEL = "10.0.20348.2762"
WINDOWS_IMAGE = "Windows Server 2022 Datacenter"
WINDOWS_RUNTIME = "containerd://1.7.20"
SERVERCORE = "mcr.microsoft.com/windows/servercore:ltsc2022"


def add_windows_node(sandbox: Sandbox, name: str, address: str = "10.1.0.4") -> dict[str, Any]:
    """Put a Windows Node in the sandbox's API (no node runs behind it)."""
    node = make_node(
        name,
        address,
        container_runtime_version=WINDOWS_RUNTIME,
        kernel_version=WINDOWS_KERNEL,
        os_image=WINDOWS_IMAGE,
        runtime_handlers=None,
        operating_system="windows",
    )
    return sandbox.store.put("nodes", node)


def add_windows_pod(
    sandbox: Sandbox,
    name: str,
    node: str,
    *,
    namespace: str = "default",
    host_users: bool | None = None,
    with_os_field: bool = True,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Running pod on a Windows node, as its kubelet reports it; ``with_os_field`` sets
    ``spec.os.name: windows`` (the API then refuses ``hostUsers``; without it a pod is
    scheduled there by its nodeSelector alone)."""
    node_obj = sandbox.store.get("nodes", node)
    if node_obj is None:
        raise ValueError(f"no node {node}")
    address = node_obj["status"]["addresses"][0]["address"]
    pod = make_pod(
        name,
        namespace,
        uid=str(uuid.uuid4()),
        node_name=node,
        host_ip=address,
        containers=[("app", SERVERCORE, f"containerd://{uuid.uuid4().hex * 2}")],
        host_users=host_users,
        labels=labels,
    )
    pod["spec"]["nodeSelector"] = {"kubernetes.io/os": "windows"}
    if with_os_field:
        pod["spec"]["os"] = {"name": "windows"}
    return sandbox.store.put("pods", pod)
