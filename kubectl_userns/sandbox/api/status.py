"""The API's common answer shapes: ``Status`` errors and lists
(kubernetes/apimachinery pkg/apis/meta/v1/types.go Status, ListMeta)."""

from __future__ import annotations

import time
from typing import Any

JSON = dict[str, Any]


def status_error(code: int, reason: str, message: str, details: JSON | None = None) -> JSON:
    body: JSON = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def not_found(resource: str, name: str, group: str = "") -> JSON:
    kind = resource if not group else f"{resource}.{group}"
    return status_error(
        404, "NotFound", f'{kind} "{name}" not found', {"name": name, "kind": resource}
    )


def no_such_path() -> JSON:
    return status_error(404, "NotFound", "the server could not find the requested resource")


def list_of(kind: str, items: list[JSON]) -> JSON:
    return {
        "kind": kind,
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(int(time.time()))},
        "items": items,
    }
