"""Reader of the node probe's records (``probe/node.sh``) into plain frozen data.

The reader only checks the shape of what the node said; judging it is
:mod:`kubectl_userns.checks.node`'s job.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from kubectl_userns.errors import ProbeError
from kubectl_userns.probe.kubelet_records import (
    KubeletProcess,
    kubelet_process,
    kubelet_root,
    kubelet_user,
)
from kubectl_userns.probe.records import Record, parse_records


@dataclass(frozen=True)
class SubIdLine:
    """One line of /etc/subuid or /etc/subgid: ``owner:start:count`` (None: malformed)."""

    text: str
    owner: str
    start: int | None
    count: int | None

    @property
    def valid(self) -> bool:
        return self.start is not None and self.count is not None and self.count > 0


@dataclass(frozen=True)
class GetSubIds:
    """What ``getsubids [-g] kubelet`` printed (lines) and its exit status."""

    exit_status: int
    lines: tuple[str, ...]


@dataclass(frozen=True)
class RuntimeBinary:
    """An OCI runtime binary found on the node and the first line of its ``--version``."""

    name: str  # crun or runc
    path: str
    version_line: str


@dataclass(frozen=True)
class SkippedBinary:
    """An OCI runtime binary the probe did not run (not root's, or writable by others)."""

    name: str
    path: str
    reason: str


@dataclass(frozen=True)
class RuntimeSetting:
    """A CRI-O or containerd configuration line naming an OCI runtime."""

    file: str
    key: str  # default_runtime, runtime_path, BinaryName
    value: str


@dataclass(frozen=True)
class UsernsFile:
    """The kubelet's ``<root>/pods/<uid>/userns`` record (text None when unreadable)."""

    pod_uid: str
    text: str | None
    problem: str = ""


@dataclass(frozen=True)
class IdmapStep:
    """One step of the ``--probe`` proof: tool, userns, tmpfs, bind (or error)."""

    step: str
    result: str  # ok, fail, skip
    detail: str


@dataclass(frozen=True)
class NodeDump:
    """What the node probe saw."""

    probe_uid: int | None
    kernel: str
    max_user_namespaces: int | None  # None: unreadable
    cgroup_fs: str  # statfs type of /sys/fs/cgroup: cgroup2fs, tmpfs, ...
    cgroup_mounts: tuple[tuple[str, str], ...]  # (fstype, mountpoint)
    kubelet_root: str
    root_mountpoint: str | None
    root_fstype: str | None
    root_source: str | None
    root_statfs: str | None
    kubelet_user: tuple[int, int] | None  # (uid, gid); None: no kubelet user
    subid_files: dict[str, str]  # uid/gid -> ok, missing, unreadable
    subuid: tuple[SubIdLine, ...]
    subgid: tuple[SubIdLine, ...]
    getsubids_path: str | None
    getsubids: dict[str, GetSubIds]  # uid/gid -> output (empty without getsubids)
    runtimes: tuple[RuntimeBinary, ...]
    runtime_settings: tuple[RuntimeSetting, ...]
    kubelet_args: tuple[str, ...] | None  # None: no running kubelet found
    kubelet_config_path: str | None
    kubelet_config_text: str | None
    userns_files: tuple[UsernsFile, ...]
    idmap: tuple[IdmapStep, ...]  # empty without --probe
    kubelet_processes: tuple[KubeletProcess, ...] = ()
    # where kubelet_root came from: "flag" (--kubelet-root), "cmdline" (the kubelet's --root-dir),
    # "default" (/var/lib/kubelet); and whether it is a directory: "dir", "missing", "notdir"
    kubelet_root_source: str = "flag"
    kubelet_root_state: str = "dir"
    kubelet_cmdline_root: str | None = None  # the running kubelet's --root-dir
    kubelet_config_problem: str = ""  # why its --config file was not read
    skipped_runtimes: tuple[SkippedBinary, ...] = ()

    @property
    def kubelet_pid(self) -> int | None:
        return next((p.pid for p in self.kubelet_processes if p.accepted), None)

    def idmap_step(self, step: str) -> IdmapStep | None:
        return next((s for s in self.idmap if s.step == step), None)


def parse_subid_line(text: str) -> SubIdLine:
    parts = text.strip().split(":")
    if len(parts) != 3:
        return SubIdLine(text, parts[0] if parts else "", None, None)
    owner, start, count = parts
    try:
        return SubIdLine(text, owner, int(start), int(count))
    except ValueError:
        return SubIdLine(text, owner, None, None)


def _bad(rec: Record, node: str, why: str) -> ProbeError:
    return ProbeError(
        f"the node probe's output from node {node} is malformed at line {rec.line} "
        f"({rec.tag}: {why}); this is a bug or an unusual node - please report it."
    )


def _need(rec: Record, count: int, node: str) -> tuple[str, ...]:
    if len(rec.fields) < count:
        raise _bad(rec, node, f"expected {count} fields, got {len(rec.fields)}")
    return rec.fields


def _int(text: str, rec: Record, node: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _bad(rec, node, f"{text!r} is not a number") from None


def parse_node_dump(text: str, node: str) -> NodeDump:
    """Parse the node probe's output; ProbeError when it is cut short or malformed."""
    records = parse_records(text, "node", node)
    probe_uid: int | None = None
    kernel = ""
    max_userns: int | None = None
    cgroup_fs = "-"
    mounts: list[tuple[str, str]] = []
    root_dir = ""
    root_fields: list[str | None] = [None, None, None, None]
    root_seen = False
    user: tuple[int, int] | None = None
    files: dict[str, str] = {}
    subids: dict[str, list[SubIdLine]] = {"uid": [], "gid": []}
    gs_path: str | None = None
    gs: dict[str, GetSubIds] = {}
    runtimes: list[RuntimeBinary] = []
    settings: list[RuntimeSetting] = []
    kubelet_args: tuple[str, ...] | None = None
    config_path: str | None = None
    config_text: str | None = None
    userns: list[UsernsFile] = []
    idmap: list[IdmapStep] = []
    procs: list[KubeletProcess] = []
    args: list[str] = []
    root_info: tuple[str, str, str | None] | None = None
    config_problem = ""
    skipped: list[SkippedBinary] = []
    for rec in records:
        tag = rec.tag
        if tag == "whoami":
            f = _need(rec, 1, node)
            probe_uid = None if f[0] == "-" else _int(f[0], rec, node)
        elif tag == "kernel":
            kernel = _need(rec, 1, node)[0]
        elif tag == "sysctl":
            f = _need(rec, 2, node)
            if f[0] == "user.max_user_namespaces" and f[1] != "-":
                max_userns = _int(f[1], rec, node)
        elif tag == "cgroupfs":
            cgroup_fs = _need(rec, 1, node)[0]
        elif tag == "mount":
            f = _need(rec, 2, node)
            mounts.append((f[0], f[1]))
        elif tag == "rootfs":
            f = _need(rec, 5, node)
            root_dir = f[0]
            root_fields = [None if v == "-" else v for v in f[1:5]]
            root_seen = True
        elif tag == "user":
            try:
                user = kubelet_user(rec.fields)
            except ValueError as exc:
                raise _bad(rec, node, str(exc)) from None
        elif tag == "subidfile":
            f = _need(rec, 2, node)
            files[f[0]] = f[1]
        elif tag == "subid":
            f = _need(rec, 2, node)
            if f[0] in subids:
                subids[f[0]].append(parse_subid_line(f[1]))
        elif tag == "getsubids":
            gs_path = _need(rec, 1, node)[0]
        elif tag == "subids":
            f = _need(rec, 2, node)
            output = f[2] if len(f) > 2 else ""
            lines = tuple(line.strip() for line in output.split(",") if line.strip())
            gs[f[0]] = GetSubIds(_int(f[1], rec, node), lines)
        elif tag == "runtime":
            f = _need(rec, 2, node)
            runtimes.append(RuntimeBinary(f[0], f[1], f[2] if len(f) > 2 else ""))
        elif tag == "runtimeconf":
            f = _need(rec, 3, node)
            settings.append(RuntimeSetting(f[0], f[1], f[2]))
        elif tag == "kubeletproc":
            try:
                procs.append(kubelet_process(rec.fields))
            except ValueError as exc:
                raise _bad(rec, node, str(exc)) from None
        elif tag == "kubeletarg":
            f = _need(rec, 1, node)
            args.append(rec.field(1))
        elif tag == "kubeletroot":
            try:
                found = kubelet_root(rec.fields)
            except ValueError as exc:
                raise _bad(rec, node, str(exc)) from None
            root_info = (found.source, found.state, found.cmdline_root)
        elif tag == "kubeletconfigbad":
            f = _need(rec, 2, node)
            config_path, config_problem = f[0], f[1]
        elif tag == "runtimeskip":
            f = _need(rec, 3, node)
            skipped.append(SkippedBinary(f[0], f[1], f[2]))
        elif tag == "kubeletconfig":
            f = _need(rec, 2, node)
            try:
                config_text = base64.b64decode(f[1], validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                raise _bad(rec, node, "the kubelet config is not valid base64") from None
            config_path = f[0]
        elif tag == "userns":
            f = _need(rec, 1, node)
            userns.append(UsernsFile(f[0], f[1] if len(f) > 1 else ""))
        elif tag == "usernsbad":
            f = _need(rec, 1, node)
            userns.append(UsernsFile(f[0], None, f[1] if len(f) > 1 else "unreadable"))
        elif tag == "idmap":
            f = _need(rec, 2, node)
            idmap.append(IdmapStep(f[0], f[1], f[2] if len(f) > 2 else ""))
    if not kernel or not root_seen:
        raise ProbeError(
            f"the node probe's output from node {node} lacks its kernel or rootfs record; "
            "use the same kubectl-userns version for the script and the reader."
        )
    if any(p.accepted for p in procs):
        kubelet_args = tuple(args)
    source, state, cmdline_root = root_info or (
        "flag",
        "dir" if root_fields[0] is not None else "missing",
        None,
    )
    return NodeDump(
        probe_uid=probe_uid,
        kernel=kernel,
        max_user_namespaces=max_userns,
        cgroup_fs=cgroup_fs,
        cgroup_mounts=tuple(mounts),
        kubelet_root=root_dir,
        root_mountpoint=root_fields[0],
        root_fstype=root_fields[1],
        root_source=root_fields[2],
        root_statfs=root_fields[3],
        kubelet_user=user,
        subid_files=files,
        subuid=tuple(subids["uid"]),
        subgid=tuple(subids["gid"]),
        getsubids_path=gs_path,
        getsubids=gs,
        runtimes=tuple(runtimes),
        runtime_settings=tuple(settings),
        kubelet_args=kubelet_args,
        kubelet_config_path=config_path,
        kubelet_config_text=config_text,
        userns_files=tuple(userns),
        idmap=tuple(idmap),
        kubelet_processes=tuple(procs),
        kubelet_root_source=source,
        kubelet_root_state=state,
        kubelet_cmdline_root=cmdline_root,
        kubelet_config_problem=config_problem,
        skipped_runtimes=tuple(skipped),
    )
