"""Nodes: list (label and field selectors), get, and the kubelet's ``/configz`` through the
API server's node proxy (``/api/v1/nodes/NAME/proxy/configz``; kubernetes/kubernetes
pkg/kubelet/server/server.go serves it as ``{"kubeletconfig": ...}``)."""

from __future__ import annotations

from kubectl_userns.sandbox.api.paging import page
from kubectl_userns.sandbox.api.selectors import field_matches, label_matches
from kubectl_userns.sandbox.api.status import JSON, not_found, status_error
from kubectl_userns.sandbox.store import ObjectStore


def get(store: ObjectStore, parts: list[str], query: dict[str, str]) -> tuple[int, JSON] | None:
    """``parts`` after ``/api/v1``; None when they are not a nodes path."""
    if parts == ["nodes"]:

        def load() -> list[JSON]:
            return [
                n
                for n in store.list("nodes")
                if label_matches(query.get("labelSelector", ""), n["metadata"].get("labels") or {})
                and field_matches(query.get("fieldSelector", ""), n)
            ]

        return page("NodeList", load, query)
    if len(parts) == 2 and parts[0] == "nodes":
        node = store.get("nodes", parts[1])
        return (200, node) if node else (404, not_found("nodes", parts[1]))
    if len(parts) == 4 and parts[0] == "nodes" and parts[2:] == ["proxy", "configz"]:
        if store.get("nodes", parts[1]) is None:
            return 404, not_found("nodes", parts[1])
        configz = store.get_configz(parts[1])
        if configz is None:
            return 503, status_error(
                503, "ServiceUnavailable", f"error trying to reach service: node {parts[1]}"
            )
        return 200, configz
    return None
