"""Chunked lists: ``limit`` and ``continue`` as the real API server answers them.

kubernetes/apiserver pkg/storage/continue.go: the continue token is base64 of
``{"v":"meta.k8s.io/v1","rv":<resourceVersion>,"start":"<key after the last item>"}``; items
come in key order (``namespace/name``), a page holds at most ``limit`` items, and
``metadata.continue`` and ``metadata.remainingItemCount`` are set while more remain
(pkg/storage/etcd3/store.go GetList). Every page of one list is served from the snapshot the
first page was cut from, as etcd serves the list at the token's revision. A token this server
cannot decode is a 400 (the real server's "continue key is not valid"); an expired snapshot is
recomputed from the store instead of the real server's 410, which the sandbox never needs.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable
from typing import Any

from kubectl_userns.sandbox.api.status import JSON, list_of, status_error

_SNAPSHOTS: dict[str, list[JSON]] = {}
_LOCK = threading.Lock()
_KEEP = 16  # snapshots kept (lists being paged through at the same time)


def _key(item: JSON) -> str:
    meta = item.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _token(rv: str, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "start": start}).encode()
    return base64.b64encode(raw).decode()


def page(kind: str, load: Callable[[], list[JSON]], query: dict[str, str]) -> tuple[int, JSON]:
    """The answer to a list request: all the items ``load`` returns, or the page ``query``
    asks for (later pages come from the first page's snapshot, without calling ``load``)."""
    body = list_of(kind, [])
    rv = str(body["metadata"]["resourceVersion"])
    limit_text, token = query.get("limit", ""), query.get("continue", "")
    try:
        limit = int(limit_text) if limit_text else 0
    except ValueError:
        return 400, status_error(400, "BadRequest", f"limit: Invalid value: {limit_text!r}")
    ordered: list[JSON]
    start = ""
    if token:
        try:
            decoded: Any = json.loads(base64.b64decode(token, validate=True))
            start = str(decoded["start"])
            rv = str(int(decoded["rv"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return 400, status_error(
                400, "BadRequest", "continue key is not valid: the token is not one of this list"
            )
        with _LOCK:
            snapshot = _SNAPSHOTS.get(f"{kind}/{rv}")
        ordered = snapshot if snapshot is not None else sorted(load(), key=_key)
    else:
        ordered = sorted(load(), key=_key)
    rest = [item for item in ordered if _key(item) >= start] if start else ordered
    if limit <= 0 or len(rest) <= limit:
        body["items"] = rest
        body["metadata"]["resourceVersion"] = rv
        return 200, body
    chunk = rest[:limit]
    with _LOCK:
        _SNAPSHOTS[f"{kind}/{rv}"] = ordered
        while len(_SNAPSHOTS) > _KEEP:
            _SNAPSHOTS.pop(next(iter(_SNAPSHOTS)))
    body["items"] = chunk
    body["metadata"].update(
        {
            "resourceVersion": rv,
            "continue": _token(rv, _key(chunk[-1]) + "\x00"),
            "remainingItemCount": len(rest) - limit,
        }
    )
    return 200, body
