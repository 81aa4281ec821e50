"""Workload controllers as read-only lists: apps/v1 Deployments, ReplicaSets, StatefulSets,
DaemonSets and batch/v1 Jobs and CronJobs, from the sandbox's object store (list with label
selectors and ``limit``/``continue``, and get). The sandbox runs no controllers: these objects
are put in the store by the sandbox itself, with the ownerReferences their real controllers set
(kubernetes pkg/controller/deployment/sync.go for ReplicaSets, pkg/controller/replicaset for
their pods, pkg/controller/cronjob for Jobs)."""

from __future__ import annotations

from kubectl_userns.sandbox.api.paging import page
from kubectl_userns.sandbox.api.selectors import label_matches
from kubectl_userns.sandbox.api.status import JSON, not_found
from kubectl_userns.sandbox.store import ObjectStore

RESOURCES = {
    "apps": {
        "deployments": "Deployment",
        "replicasets": "ReplicaSet",
        "statefulsets": "StatefulSet",
        "daemonsets": "DaemonSet",
    },
    "batch": {"jobs": "Job", "cronjobs": "CronJob"},
}


def get(store: ObjectStore, parts: list[str], query: dict[str, str]) -> tuple[int, JSON] | None:
    """``parts`` of ``/apis/GROUP/v1/...``; None when they are not a workload path."""
    if len(parts) < 4 or parts[0] != "apis" or parts[2] != "v1" or parts[1] not in RESOURCES:
        return None
    kinds = RESOURCES[parts[1]]
    rest = parts[3:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or rest[0] not in kinds:
        return None
    resource = rest[0]
    if len(rest) == 1:

        def load() -> list[JSON]:
            selector = query.get("labelSelector", "")
            return [
                dict(obj, apiVersion=f"{parts[1]}/v1", kind=kinds[resource])
                for obj in store.list(resource, namespace)
                if label_matches(selector, obj["metadata"].get("labels") or {})
            ]

        code, body = page(f"{kinds[resource]}List", load, query)
        body["apiVersion"] = f"{parts[1]}/v1"
        return code, body
    if len(rest) == 2 and namespace is not None:
        obj = store.get(resource, rest[1], namespace)
        return (200, obj) if obj else (404, not_found(resource, rest[1], parts[1]))
    return None
