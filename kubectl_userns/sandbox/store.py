"""The sandbox's object store: Kubernetes objects as JSON files the API emulator serves.

The emulator re-reads the files on every request, so any process (the sandbox, a test) can
change the cluster's state at any time by writing here.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

JSON = dict[str, Any]


# kinds kept per namespace (pods, and the workload controllers of sandbox/api/workloads.py)
NAMESPACED = frozenset(
    {"pods", "replicasets", "deployments", "statefulsets", "daemonsets", "jobs", "cronjobs"}
)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


NAME_MAX = 255  # bytes in one file name (Linux's NAME_MAX, include/uapi/linux/limits.h)


def file_name(name: str, suffix: str) -> str:
    """The file name of object ``name``: the name itself when it fits NAME_MAX with ``suffix``,
    else ``~`` and its SHA-256 (a legal pod name has up to 253 characters and no ``~``)."""
    if len(name.encode()) + len(suffix) <= NAME_MAX and not name.startswith("."):
        return f"{name}{suffix}"
    return f"~{hashlib.sha256(name.encode()).hexdigest()}{suffix}"


def _write_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # a short temporary name whatever the object's name: ".<pid>.<random>.tmp"
    tmp = path.with_name(f".{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


class ObjectStore:
    """``root/pods/<ns>/<name>.json``, ``root/nodes/<name>.json``, ``root/configz/<node>.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, kind: str, name: str, namespace: str | None) -> Path:
        if kind in NAMESPACED:
            return self.root / kind / (namespace or "default") / file_name(name, ".json")
        return self.root / kind / file_name(name, ".json")

    def _next_version(self) -> str:
        counter = self.root / "resourceVersion"
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(counter, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.read(fd, 32)
            value = int(raw or b"1000") + 1
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, str(value).encode())
            return str(value)
        finally:
            os.close(fd)

    def put(self, kind: str, obj: JSON) -> JSON:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now())
        meta["resourceVersion"] = self._next_version()
        _write_atomic(self._path(kind, meta["name"], meta.get("namespace")), obj)
        return obj

    def get(self, kind: str, name: str, namespace: str | None = None) -> JSON | None:
        try:
            data: JSON = json.loads(self._path(kind, name, namespace).read_text())
        except (OSError, ValueError):
            return None
        return data

    def list(self, kind: str, namespace: str | None = None) -> list[JSON]:
        base = self.root / kind
        if kind in NAMESPACED:
            base = base / namespace if namespace else base
            files = sorted(base.glob("*.json") if namespace else base.glob("*/*.json"))
        else:
            files = sorted(base.glob("*.json"))
        items = []
        for path in files:
            try:
                items.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue  # being replaced right now
        return items

    def delete(self, kind: str, name: str, namespace: str | None = None) -> bool:
        try:
            self._path(kind, name, namespace).unlink()
        except FileNotFoundError:
            return False
        return True

    def put_configz(self, node: str, kubeletconfig: JSON) -> None:
        _write_atomic(self.root / "configz" / f"{node}.json", {"kubeletconfig": kubeletconfig})

    def get_configz(self, node: str) -> JSON | None:
        try:
            data: JSON = json.loads((self.root / "configz" / f"{node}.json").read_text())
        except (OSError, ValueError):
            return None
        return data

    def forbidden_prefixes(self) -> builtins.list[str]:
        """Paths the emulator answers 403 for (one prefix a line in ``root/forbidden``)."""
        try:
            text = (self.root / "forbidden").read_text()
        except OSError:
            return []
        return [line.strip() for line in text.splitlines() if line.strip()]

    def set_forbidden(self, prefixes: builtins.list[str]) -> None:
        (self.root / "forbidden").write_text("".join(f"{p}\n" for p in prefixes))
