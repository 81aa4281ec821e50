"""Version and discovery: ``/version``, ``/api``, ``/apis``, ``/api/v1`` and ``/apis/GROUP/v1``,
what kubectl reads to learn the resources and their short names
(kubernetes/apimachinery pkg/apis/meta/v1/types.go APIResourceList, APIGroupList). The workload
lists themselves are :mod:`.workloads`."""

from __future__ import annotations

from kubectl_userns.sandbox.api.status import JSON

SERVER_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.1",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2025-05-15T00:00:00Z",
    "goVersion": "go1.24.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _resource(name: str, kind: str, namespaced: bool, verbs: list[str], short: list[str]) -> JSON:
    entry: JSON = {
        "name": name,
        "singularName": kind.lower(),
        "namespaced": namespaced,
        "kind": kind,
        "verbs": verbs,
    }
    if short:
        entry["shortNames"] = short
    return entry


READ = ["get", "list"]
WRITE = ["create", "delete", "get", "list", "patch", "update", "watch"]
CORE_RESOURCES = [
    _resource("namespaces", "Namespace", False, READ, ["ns"]),
    _resource("nodes", "Node", False, READ, ["no"]),
    _resource("nodes/proxy", "NodeProxyOptions", False, ["get"], []),
    _resource("pods", "Pod", True, WRITE, ["po"]),
    _resource("pods/log", "Pod", True, ["get"], []),
    _resource("services", "Service", True, WRITE, ["svc"]),
    _resource("configmaps", "ConfigMap", True, WRITE, ["cm"]),
    _resource("secrets", "Secret", True, WRITE, []),
    _resource("serviceaccounts", "ServiceAccount", True, WRITE, ["sa"]),
]
GROUPS: dict[str, list[JSON]] = {
    "apps": [
        _resource("deployments", "Deployment", True, WRITE, ["deploy"]),
        _resource("statefulsets", "StatefulSet", True, WRITE, ["sts"]),
        _resource("daemonsets", "DaemonSet", True, WRITE, ["ds"]),
        _resource("replicasets", "ReplicaSet", True, WRITE, ["rs"]),
    ],
    "batch": [
        _resource("jobs", "Job", True, WRITE, []),
        _resource("cronjobs", "CronJob", True, WRITE, ["cj"]),
    ],
}


def get(path: str, parts: list[str]) -> tuple[int, JSON] | None:
    """The answer for a discovery or workload path; None for any other path."""
    if path == "/version":
        return 200, dict(SERVER_VERSION)
    if path == "/api":
        return 200, {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}
            ],
        }
    if path == "/apis":
        return 200, {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": group,
                    "versions": [{"groupVersion": f"{group}/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": f"{group}/v1", "version": "v1"},
                }
                for group in GROUPS
            ],
        }
    if path == "/api/v1":
        return 200, {
            "kind": "APIResourceList",
            "groupVersion": "v1",
            "resources": CORE_RESOURCES,
        }
    if len(parts) == 3 and parts[0] == "apis" and parts[1] in GROUPS and parts[2] == "v1":
        return 200, {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{parts[1]}/v1",
            "resources": GROUPS[parts[1]],
        }
    return None
