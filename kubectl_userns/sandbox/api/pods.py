"""Pods: list (label and field selectors), get, create, delete and ``pods/NAME/log``. A created
pod with the ``nodeName`` of a sandbox node is run there by the sandbox's kubelet
(:mod:`kubectl_userns.sandbox.kubelet`). Creation follows the registry's defaults for what this
emulator keeps: ``generateName`` gets 5 random characters (kubernetes/apiserver
pkg/storage/names/generate.go), uid and resourceVersion are the server's, the phase starts
Pending (kubernetes/kubernetes pkg/registry/core/pod/strategy.go PrepareForCreate)."""

from __future__ import annotations

import os

from kubectl_userns.sandbox.api.paging import page
from kubectl_userns.sandbox.api.selectors import field_matches, label_matches
from kubectl_userns.sandbox.api.status import JSON, not_found, status_error
from kubectl_userns.sandbox.store import ObjectStore


def pod_list(store: ObjectStore, namespace: str | None, query: dict[str, str]) -> tuple[int, JSON]:
    def load() -> list[JSON]:
        return [
            p
            for p in store.list("pods", namespace)
            if label_matches(query.get("labelSelector", ""), p["metadata"].get("labels") or {})
            and field_matches(query.get("fieldSelector", ""), p)
        ]

    return page("PodList", load, query)


def get(store: ObjectStore, parts: list[str], query: dict[str, str]) -> tuple[int, JSON] | None:
    """``parts`` after ``/api/v1``; None when they are not a pods path."""
    if parts == ["pods"]:
        return pod_list(store, None, query)
    if len(parts) == 3 and parts[0] == "namespaces" and parts[2] == "pods":
        return pod_list(store, parts[1], query)
    if len(parts) == 4 and parts[0] == "namespaces" and parts[2] == "pods":
        pod = store.get("pods", parts[3], parts[1])
        return (200, pod) if pod else (404, not_found("pods", parts[3]))
    return None


def log(store: ObjectStore, namespace: str, name: str) -> tuple[int, JSON | str]:
    """``GET .../pods/NAME/log``: the container's output, text/plain (a Status on errors)."""
    from kubectl_userns.sandbox.kubelet import log_path

    pod = store.get("pods", name, namespace)
    if pod is None:
        return 404, not_found("pods", name)
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    path = log_path(store, namespace, name)
    if not statuses or not path.exists():
        container = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("name", "")
        return 400, status_error(
            400,
            "BadRequest",
            f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating',
        )
    return 200, path.read_text(errors="replace")


def create(
    store: ObjectStore, namespace: str, body: JSON | None, *, strict: bool = False
) -> tuple[int, JSON]:
    """``POST /api/v1/namespaces/NS/pods``; ``strict``: ``fieldValidation=Strict``, unknown
    fields are refused (see api/openapi.py)."""
    from kubectl_userns.sandbox import kubelet
    from kubectl_userns.sandbox.container import qos_class

    if body is None or body.get("kind", "Pod") != "Pod":
        return 400, status_error(400, "BadRequest", "the body must be one Pod object")
    if strict:
        from kubectl_userns.sandbox.api.openapi import unknown_fields

        unknown = unknown_fields(body, "io.k8s.api.core.v1.Pod")
        if unknown:
            fields = ", ".join(f'unknown field "{u}"' for u in unknown)
            return 400, status_error(
                400,
                "BadRequest",
                f'Pod in version "v1" cannot be handled as a Pod: strict decoding error: {fields}',
            )
    meta = body.setdefault("metadata", {})
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + os.urandom(3).hex()[:5]
    name = meta.get("name")
    if not name:
        return 422, status_error(422, "Invalid", "Pod is invalid: metadata.name: Required value")
    if meta.get("namespace", namespace) != namespace:
        return 400, status_error(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
        )
    if store.get("pods", name, namespace) is not None:
        return 409, status_error(
            409,
            "AlreadyExists",
            f'pods "{name}" already exists',
            {"name": name, "kind": "pods"},
        )
    meta["namespace"] = namespace
    meta.pop("uid", None)
    meta.pop("resourceVersion", None)
    body.update({"kind": "Pod", "apiVersion": "v1"})
    # the API server sets the QoS class at creation (kubernetes pkg/registry/core/pod/
    # strategy.go PrepareForCreate: qos.GetPodQOS)
    body["status"] = {"phase": "Pending", "qosClass": qos_class(body)}
    created = store.put("pods", body)
    kubelet.start(store, created)
    return 201, created


def delete(store: ObjectStore, namespace: str, name: str) -> tuple[int, JSON]:
    """``DELETE /api/v1/namespaces/NS/pods/NAME``: the kubelet stops it, the object goes."""
    from kubectl_userns.sandbox import kubelet

    deleted = kubelet.delete(store, namespace, name)
    if deleted is None:
        return 404, not_found("pods", name)
    return 200, deleted
