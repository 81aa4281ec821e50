"""Builders of Node, Pod and KubeletConfiguration objects in the real API's shapes."""

from __future__ import annotations

import re
import zlib
from typing import Any

from kubectl_userns.sandbox.store import now

JSON = dict[str, Any]
# The kernel release a sandbox node reports, in its Node object and to ``uname -r`` on the node
# (sandbox/nodefiles.py), whatever this machine runs: a Debian 12 node's backports kernel, as its
# osImage says. Idmapped mounts tried by --probe are still this machine's kernel's.
SANDBOX_KERNEL = "6.12.48+deb12-amd64"


def _minor(version: str) -> tuple[int, int] | None:
    match = re.search(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


def reported_runtime_handlers(
    kubelet_version: str,
    container_runtime_version: str,
    feature_gates: dict[str, bool] | None = None,
    *,
    oci_runtime: str = "crun",
    oci_userns: bool = True,
) -> list[JSON] | None:
    """``status.runtimeHandlers`` as a kubelet of that version reports it (None: absent).

    The runtime: CRI-O reports handlers from 1.30.0, one per configured runtime plus "" for the
    default, each with ``userNamespaces`` = the OCI runtime supports idmap mounts (cri-o
    server/runtime_status.go, read at v1.29.0 and v1.30.0); containerd from 2.0, the same shape
    (internal/cri/server/service.go introspectRuntimeHandlers / supportsCRIUserns, read at
    v2.0.0; 1.7 has none). Older runtimes report none: the kubelet's list is empty and the field,
    omitempty, is absent. The kubelet: runtimeHandlers from 1.30, which the API server drops
    without the alpha RecursiveReadOnlyMounts gate (kubernetes pkg/registry/core/node/strategy.go
    dropDisabledFields, read); ``features.userNamespaces`` from 1.31, only with the
    UserNamespacesSupport gate on (kubernetes/api v0.31 core/v1 types.go; the kubelet's
    pkg/kubelet/nodestatus/setters.go RuntimeHandlers, per userns-facts.md section 1).
    """
    kubelet = _minor(kubelet_version)
    runtime, _, version = container_runtime_version.partition("://")
    runtime_minor = _minor(version)
    gates = feature_gates or {}
    if kubelet is None or runtime_minor is None or kubelet < (1, 31):
        return None  # before 1.31: absent with the default gates (RecursiveReadOnlyMounts alpha)
    supported = (runtime == "cri-o" and runtime_minor >= (1, 30)) or (
        runtime == "containerd" and runtime_minor >= (2, 0)
    )
    if not supported:
        return None
    features: JSON = {}
    if gates.get("RecursiveReadOnlyMounts", True):  # beta, on by default from 1.31
        features["recursiveReadOnlyMounts"] = True
    if gates.get("UserNamespacesSupport", kubelet >= (1, 33)) or kubelet >= (1, 36):
        features["userNamespaces"] = oci_userns
    return [
        {"name": oci_runtime, "features": dict(features)},
        {"name": "", "features": dict(features)},
    ]


def make_node(
    name: str,
    internal_ip: str,
    *,
    kubelet_version: str = "v1.33.1",
    container_runtime_version: str = "cri-o://1.33.0",
    kernel_version: str | None = None,
    os_image: str = "Debian GNU/Linux 12 (bookworm)",
    runtime_handlers_userns: bool | None = True,
    runtime_handlers: list[JSON] | str | None = "shorthand",
    architecture: str = "amd64",
    operating_system: str = "linux",
) -> JSON:
    """A Node; ``runtime_handlers`` (see :func:`reported_runtime_handlers`; None: the kubelet
    reports none, as with CRI-O 1.29) wins over the older ``runtime_handlers_userns`` shorthand
    (two handlers with that userNamespaces value), which applies when it is not given."""
    status: JSON = {
        "addresses": [
            {"type": "InternalIP", "address": internal_ip},
            {"type": "Hostname", "address": name},
        ],
        "allocatable": {"cpu": "2", "memory": "24Gi", "pods": "110", "ephemeral-storage": "50Gi"},
        "capacity": {"cpu": "2", "memory": "24Gi", "pods": "110", "ephemeral-storage": "50Gi"},
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": now(),
                "lastTransitionTime": now(),
            }
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "architecture": architecture,
            "bootID": "00000000-0000-4000-8000-000000000000",
            "containerRuntimeVersion": container_runtime_version,
            "kernelVersion": kernel_version or SANDBOX_KERNEL,
            "kubeProxyVersion": kubelet_version,
            "kubeletVersion": kubelet_version,
            "machineID": "0" * 32,
            "operatingSystem": operating_system,
            "osImage": os_image,
            "systemUUID": "00000000-0000-4000-8000-000000000000",
        },
    }
    if isinstance(runtime_handlers, list):
        status["runtimeHandlers"] = runtime_handlers
    elif runtime_handlers == "shorthand" and runtime_handlers_userns is not None:
        features = {"recursiveReadOnlyMounts": True, "userNamespaces": runtime_handlers_userns}
        status["runtimeHandlers"] = [
            {"name": "", "features": dict(features)},
            {"name": "crun", "features": dict(features)},
        ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/arch": architecture,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": operating_system,
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": status,
    }


def _resources(qos_class: str) -> JSON:
    if qos_class == "Guaranteed":
        amount = {"cpu": "100m", "memory": "64Mi"}
        return {"requests": dict(amount), "limits": dict(amount)}
    if qos_class == "Burstable":
        return {"requests": {"cpu": "50m", "memory": "32Mi"}}
    return {}


def pod_ip_for(uid: str) -> str:
    """The pod network address of the pod with ``uid``: one per pod, as a CNI plugin hands
    out: 10.85.0.0/16 is the host-local range of CRI-O's example bridge network
    (cri-o/cri-o contrib/cni/11-crio-ipv4-bridge.conflist); derived from the UID, so a pod
    keeps its address across reads."""
    slot = zlib.crc32(uid.encode()) % (254 * 254)
    return f"10.85.{slot // 254}.{slot % 254 + 1}"


def make_pod(
    name: str,
    namespace: str,
    *,
    uid: str,
    node_name: str,
    host_ip: str,
    containers: list[tuple[str, str, str]],
    host_users: bool | None,
    qos_class: str = "BestEffort",
    phase: str = "Running",
    labels: dict[str, str] | None = None,
    host_network: bool = False,
    host_pid: bool = False,
    pod_ip: str | None = None,
) -> JSON:
    """A Pod; ``containers`` are (name, image, containerID with its runtime prefix)."""
    started = now()
    spec: JSON = {
        "containers": [
            {
                "name": cname,
                "image": image,
                "imagePullPolicy": "Always",
                "resources": _resources(qos_class),
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }
            for cname, image, _ in containers
        ],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
    }
    if phase != "Pending" or node_name:
        spec["nodeName"] = node_name
    if host_users is not None:
        spec["hostUsers"] = host_users
    if host_network:
        spec["hostNetwork"] = True
    if host_pid:
        spec["hostPID"] = True
    status: JSON = {"phase": phase, "qosClass": qos_class}
    if phase == "Running":
        ip = host_ip if host_network else (pod_ip or pod_ip_for(uid))
        status.update(
            {
                "hostIP": host_ip,
                "hostIPs": [{"ip": host_ip}],
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "startTime": started,
                "conditions": [
                    {"type": t, "status": "True", "lastTransitionTime": started}
                    for t in (
                        "PodReadyToStartContainers",
                        "Initialized",
                        "Ready",
                        "ContainersReady",
                        "PodScheduled",
                    )
                ],
                "containerStatuses": [
                    {
                        "name": cname,
                        "image": f"docker.io/library/{image}:latest",
                        "imageID": f"docker.io/library/{image}@sha256:{'0' * 64}",
                        "containerID": cid,
                        "ready": True,
                        "started": True,
                        "restartCount": 0,
                        "state": {"running": {"startedAt": started}},
                    }
                    for cname, image, cid in containers
                ],
            }
        )
    else:
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/2 nodes are available.",
                "lastTransitionTime": started,
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "labels": dict(labels or {"app": name}),
        },
        "spec": spec,
        "status": status,
    }


def kubelet_config(
    *,
    ids_per_pod: int | None = 65536,
    max_pods: int = 110,
    feature_gates: dict[str, bool] | None = None,
    cgroup_driver: str = "systemd",
    cgroup_root: str = "/",
) -> JSON:
    """The inner part of the kubelet's /configz answer (a KubeletConfiguration).

    v1beta1 fields only: there is no rootDir (``--root-dir`` is a command-line flag only,
    kubernetes/kubelet config/v1beta1/types.go; cmd/kubelet/app/options/options.go).
    """
    config: JSON = {
        "enableServer": True,
        "staticPodPath": "/etc/kubernetes/manifests",
        "syncFrequency": "1m0s",
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True}},
        "authorization": {"mode": "Webhook"},
        "clusterDomain": "cluster.local",
        "clusterDNS": ["10.96.0.10"],
        "cgroupRoot": cgroup_root,
        "cgroupsPerQOS": True,
        "cgroupDriver": cgroup_driver,
        "containerRuntimeEndpoint": "unix:///var/run/crio/crio.sock",
        "maxPods": max_pods,
        "failCgroupV1": False,
        "featureGates": dict(
            feature_gates if feature_gates is not None else {"UserNamespacesSupport": True}
        ),
    }
    if ids_per_pod is not None:
        config["userNamespaces"] = {"idsPerPod": ids_per_pod}
    return config


def kubelet_config_file(config: JSON) -> str:
    """The kubelet's ``--config`` file for a /configz answer: the same fields, as YAML."""
    import yaml

    document = {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration"}
    return yaml.safe_dump({**document, **config}, sort_keys=False)


def kubelet_argv(kubelet_root: str, container_runtime_version: str) -> list[str]:
    """The kubelet's command line as kubeadm's systemd drop-in starts it.

    kubeadm passes ``--bootstrap-kubeconfig``, ``--kubeconfig``, ``--config`` and (from
    kubeadm-flags.env) ``--container-runtime-endpoint`` (kubernetes
    cmd/kubeadm/app/phases/kubelet/flags.go); a non-default root is a ``--root-dir`` flag, the
    only way to set it (cmd/kubelet/app/options/options.go).
    """
    socket = (
        "unix:///run/containerd/containerd.sock"
        if container_runtime_version.startswith("containerd://")
        else "unix:///var/run/crio/crio.sock"
    )
    argv = [
        "/usr/local/bin/kubelet",
        "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
        "--kubeconfig=/etc/kubernetes/kubelet.conf",
        f"--config={kubelet_root}/config.yaml",
        f"--container-runtime-endpoint={socket}",
    ]
    if kubelet_root != "/var/lib/kubelet":
        argv.append(f"--root-dir={kubelet_root}")
    return argv


def allocated_ids_per_pod(config: JSON | None, kubelet_version: str) -> int:
    """How many IDs this kubelet gives each pod: ``userNamespaces.idsPerPod`` from 1.35 on.

    The field exists from 1.33, but kubelets before 1.35 allocate 65536 whatever it says
    (kubernetes#133373, CHANGELOG-1.35; userns-facts.md section 2).
    """
    ids = ((config or {}).get("userNamespaces") or {}).get("idsPerPod")
    parts = kubelet_version.lstrip("v").split(".")
    try:
        minor = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        minor = (1, 35)
    if isinstance(ids, int) and ids > 0 and minor >= (1, 35):
        return ids
    return 65536


def static_pod_hash(namespace: str, name: str, node: str) -> str:
    """A static pod's UID as the kubelet makes it: 32 hex digits of an md5 hash.

    The kubelet hashes the decoded pod and then its source (kubernetes
    pkg/kubelet/config/common.go applyDefaults: "host:<node>", "file:<path>"); the sandbox
    hashes the pod's name and node the same way, so the value has the real shape.
    """
    import hashlib

    text = f"{namespace}/{name} host:{node} file:/etc/kubernetes/manifests/{name}.yaml"
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
