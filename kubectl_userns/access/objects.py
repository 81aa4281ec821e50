"""The shapes of the API objects kubectl-userns reads, checked before any code reads them.

An API server (or a proxy in front of it) can answer anything; the checks and commands read
pods and nodes with plain ``dict`` access. Every field they read is listed here with its type
from the Kubernetes API (kubernetes/kubernetes staging/src/k8s.io/api/core/v1/types.go); an
answer where one of them has another type is one :class:`APIError` naming the object and the
field, instead of an ``AttributeError`` deep in a check. ``null`` stands for an absent field, as
in the API's own decoding, and is removed so that ``.get(key, {})`` gives the default. Fields
not listed are left alone (nothing reads them).
"""

from __future__ import annotations

from typing import Any

from kubectl_userns.errors import APIError
from kubectl_userns.text import quoted

Shape = Any  # a type, a dict of field shapes, or ("list"|"map", shape)

STR_MAP = ("map", str)
META: Shape = {
    "name": str,
    "namespace": str,
    "uid": str,
    "labels": STR_MAP,
    "annotations": STR_MAP,
    "resourceVersion": str,
}
CONTAINER: Shape = {
    "name": str,
    "image": str,
    "command": ("list", str),
    "args": ("list", str),
    "securityContext": {},
}
CONTAINER_STATUS: Shape = {
    "name": str,
    "containerID": str,
    "image": str,
    "ready": bool,
    "restartCount": int,
    "state": {
        "waiting": {"reason": str, "message": str},
        "running": {},
        "terminated": {"exitCode": int, "reason": str, "message": str},
    },
}
POD: Shape = {
    "metadata": META,
    "spec": {
        "nodeName": str,
        "hostUsers": bool,
        "hostNetwork": bool,
        "hostPID": bool,
        "hostIPC": bool,
        "restartPolicy": str,
        "securityContext": {},
        "containers": ("list", CONTAINER),
        "initContainers": ("list", CONTAINER),
        "ephemeralContainers": ("list", CONTAINER),
        "volumes": ("list", {"name": str}),
    },
    "status": {
        "phase": str,
        "hostIP": str,
        "podIP": str,
        "qosClass": str,
        "reason": str,
        "message": str,
        "containerStatuses": ("list", CONTAINER_STATUS),
        "initContainerStatuses": ("list", CONTAINER_STATUS),
        "ephemeralContainerStatuses": ("list", CONTAINER_STATUS),
    },
}
NODE: Shape = {
    "metadata": META,
    "spec": {"unschedulable": bool, "podCIDR": str},
    "status": {
        "addresses": ("list", {"type": str, "address": str}),
        "nodeInfo": {
            "kubeletVersion": str,
            "kernelVersion": str,
            "containerRuntimeVersion": str,
            "osImage": str,
            "operatingSystem": str,
            "architecture": str,
        },
        "conditions": ("list", {"type": str, "status": str}),
        "runtimeHandlers": (
            "list",
            {"name": str, "features": {"userNamespaces": bool, "recursiveReadOnlyMounts": bool}},
        ),
    },
}
NAMESPACE: Shape = {"metadata": META}


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else type(value).__name__


def _wanted(shape: Shape) -> str:
    if isinstance(shape, dict):
        return "an object"
    if isinstance(shape, tuple):
        return "a list" if shape[0] == "list" else "an object"
    return {str: "a string", bool: "a boolean", int: "an integer"}.get(shape, str(shape))


def _check(value: Any, shape: Shape, where: str) -> str | None:
    """None when ``value`` fits ``shape`` (nulls inside removed), else the problem."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{where} is {_type_name(value)}, not an object"
        for key, inner in shape.items():
            if key not in value:
                continue
            if value[key] is None:
                del value[key]
                continue
            problem = _check(value[key], inner, f"{where}.{key}")
            if problem:
                return problem
        return None
    if isinstance(shape, tuple):
        kind, inner = shape
        if kind == "list":
            if not isinstance(value, list):
                return f"{where} is {_type_name(value)}, not a list"
            for index, item in enumerate(value):
                problem = _check(item, inner, f"{where}[{index}]")
                if problem:
                    return problem
            return None
        if not isinstance(value, dict):
            return f"{where} is {_type_name(value)}, not an object"
        for key, item in value.items():
            problem = _check(item, inner, f"{where}[{key!r}]")
            if problem:
                return problem
        return None
    if shape is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, shape)
    return None if ok else f"{where} is {_type_name(value)}, not {_wanted(shape)}"


def _broken(what: str, problem: str) -> APIError:
    return APIError(
        f"the Kubernetes API answered {what} where {quoted(problem)}; the API server, or a "
        "proxy in front of it, is not answering as Kubernetes does."
    )


def checked(obj: Any, shape: Shape, what: str) -> dict[str, Any]:
    """``obj`` when it has ``shape`` (see the module docstring), else APIError."""
    problem = _check(obj, shape, "the answer")
    if problem:
        raise _broken(what, problem.replace("the answer.", "", 1))
    assert isinstance(obj, dict)
    return obj


def checked_items(body: Any, shape: Shape, what: str) -> list[dict[str, Any]]:
    """The ``items`` of a List answer, each of ``shape``."""
    if not isinstance(body, dict):
        raise _broken(what, f"the answer is {_type_name(body)}, not an object")
    items = body.get("items")
    if items is None:
        return []
    if not isinstance(items, list):
        raise _broken(what, f"items is {_type_name(items)}, not a list")
    for index, item in enumerate(items):
        problem = _check(item, shape, f"items[{index}]")
        if problem:
            raise _broken(what, problem)
    return items
