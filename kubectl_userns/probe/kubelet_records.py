"""The records both probes print about the node's kubelet (``probe/common.sh``): which process
is the kubelet (``kubeletproc``), the root its records are read from (``kubeletroot``) and its
user (``user``/``nouser``). One reader for both, so inspect, audit and verify-node see the same
kubelet."""

from __future__ import annotations

from dataclasses import dataclass

ROOT_SOURCES = ("flag", "cmdline", "default", "unseen")
ROOT_STATES = ("dir", "missing", "notdir")


@dataclass(frozen=True)
class KubeletProcess:
    """A process whose comm is ``kubelet``, and whether the probe took it for the kubelet."""

    pid: int
    accepted: bool
    detail: str  # accepted: its executable; else why it is not believed


@dataclass(frozen=True)
class KubeletRoot:
    """The kubelet root the probe read: where it came from and whether it is a directory."""

    path: str
    # "flag" (--kubelet-root), "cmdline" (the running kubelet's --root-dir), "default", "unseen"
    # (the default, where the probe cannot see the kubelet: an inspect probe pod)
    source: str
    state: str  # "dir", "missing", "notdir"
    cmdline_root: str | None  # the running kubelet's --root-dir, if it has one


def kubelet_process(fields: tuple[str, ...]) -> KubeletProcess:
    """``kubeletproc PID ok|no DETAIL``; ValueError when it is not of that shape."""
    if len(fields) < 2 or not (fields[0].isascii() and fields[0].isdigit()):
        raise ValueError("expected a PID and ok or no")
    if fields[1] not in ("ok", "no"):
        raise ValueError(f"{fields[1]!r} is neither ok nor no")
    return KubeletProcess(int(fields[0]), fields[1] == "ok", fields[2] if len(fields) > 2 else "")


def kubelet_root(fields: tuple[str, ...]) -> KubeletRoot:
    """``kubeletroot DIR SOURCE STATE CMDLINE_ROOT``; ValueError when it is not of that shape."""
    if len(fields) < 4:
        raise ValueError(f"expected 4 fields, got {len(fields)}")
    if fields[1] not in ROOT_SOURCES or fields[2] not in ROOT_STATES:
        raise ValueError("unknown source or state of the kubelet root")
    return KubeletRoot(fields[0], fields[1], fields[2], None if fields[3] == "-" else fields[3])


def kubelet_user(fields: tuple[str, ...]) -> tuple[int, int]:
    """``user kubelet UID GID``: (UID, GID); ValueError when they are not numbers."""
    if len(fields) < 3:
        raise ValueError(f"expected 3 fields, got {len(fields)}")
    for text in fields[1:3]:
        if not (text.isascii() and text.isdigit()):
            raise ValueError(f"{text!r} is not a number")
    return int(fields[1]), int(fields[2])
