"""Namespaces: the four a cluster starts with and every namespace the store holds pods in
(each labelled ``kubernetes.io/metadata.name``, as the namespace controller does since 1.21),
and the namespaced lists of resources the sandbox has none of."""

from __future__ import annotations

from kubectl_userns.sandbox.api.status import JSON, list_of, not_found
from kubectl_userns.sandbox.store import ObjectStore


def names(store: ObjectStore) -> list[str]:
    found = {"default", "kube-system", "kube-public", "kube-node-lease"}
    root = store.root / "pods"
    if root.is_dir():
        found.update(p.name for p in root.iterdir() if p.is_dir())
    return sorted(found)


def namespace(name: str) -> JSON:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def get(store: ObjectStore, parts: list[str]) -> tuple[int, JSON] | None:
    """``parts`` after ``/api/v1``; None when they are not a namespaces path."""
    if parts == ["namespaces"]:
        return 200, list_of("NamespaceList", [namespace(n) for n in names(store)])
    if len(parts) == 2 and parts[0] == "namespaces":
        if parts[1] in names(store):
            return 200, namespace(parts[1])
        return 404, not_found("namespaces", parts[1])
    if len(parts) >= 3 and parts[0] == "namespaces":
        # services, configmaps, ... (pods are answered before): none in the sandbox
        if len(parts) == 3:
            return 200, list_of(parts[2].capitalize()[:-1] + "List", [])
        return 404, not_found(parts[2], parts[3])
    return None
