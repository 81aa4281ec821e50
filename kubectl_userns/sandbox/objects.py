"""Builders of Node, Pod and KubeletConfiguration objects in the real API's shapes."""

from __future__ import annotations

from typing import Any

from kubectl_userns.sandbox.store import now

JSON = dict[str, Any]
# The kernel release a sandbox node reports, in its Node object and to ``uname -r`` on the node
# (sandbox/node.py), whatever this machine runs: a Debian 12 node's backports kernel, as its
# osImage says. Idmapped mounts tried by --probe are still this machine's kernel's.
SANDBOX_KERNEL = "6.12.48+deb12-amd64"


def make_node(
    name: str,
    internal_ip: str,
    *,
    kubelet_version: str = "v1.33.1",
    container_runtime_version: str = "cri-o://1.33.0",
    kernel_version: str | None = None,
    os_image: str = "Debian GNU/Linux 12 (bookworm)",
    runtime_handlers_userns: bool | None = True,
    architecture: str = "amd64",
) -> JSON:
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
            "operatingSystem": "linux",
            "osImage": os_image,
            "systemUUID": "00000000-0000-4000-8000-000000000000",
        },
    }
    if runtime_handlers_userns is not None:
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
                "kubernetes.io/os": "linux",
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
        ip = host_ip if host_network else (pod_ip or "10.88.0.10")
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
    root_dir: str = "/var/lib/kubelet",
) -> JSON:
    """The inner part of the kubelet's /configz answer (a KubeletConfiguration)."""
    config: JSON = {
        "enableServer": True,
        "staticPodPath": "/etc/kubernetes/manifests",
        "syncFrequency": "1m0s",
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True}},
        "authorization": {"mode": "Webhook"},
        "clusterDomain": "cluster.local",
        "clusterDNS": ["10.96.0.10"],
        "cgroupRoot": "/",
        "cgroupsPerQOS": True,
        "cgroupDriver": cgroup_driver,
        "containerRuntimeEndpoint": "unix:///var/run/crio/crio.sock",
        "maxPods": max_pods,
        "failCgroupV1": False,
        "featureGates": dict(
            feature_gates if feature_gates is not None else {"UserNamespacesSupport": True}
        ),
        "rootDir": root_dir,
    }
    if ids_per_pod is not None:
        config["userNamespaces"] = {"idsPerPod": ids_per_pod}
    return config
