"""Reader of the inspect probe's records (``probe/inspect.sh``) into plain frozen data."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace

from kubectl_userns.checks.idmap import (
    IdMapping,
    KubeletUsernsRecord,
    SubIdRange,
    parse_getsubids,
    parse_id_map,
    parse_kubelet_record,
    parse_subid_file,
)
from kubectl_userns.probe.kubelet_records import (
    KubeletProcess,
    KubeletRoot,
    kubelet_process,
    kubelet_root,
    kubelet_user,
)
from kubectl_userns.probe.records import parse_records


@dataclass(frozen=True)
class ProcessInfo:
    """One process found in the pod's cgroup, as the node's host namespace sees it."""

    pid: int
    cgroup: str
    uids: tuple[int, ...]  # real, effective, saved, fs
    gids: tuple[int, ...]
    uid_map: tuple[IdMapping, ...]
    gid_map: tuple[IdMapping, ...]
    userns: str
    comm: str
    cmdline: str


@dataclass(frozen=True)
class OtherPod:
    """Another pod of the same node: its cgroup dir, one process and that process's map."""

    cgroup: str
    pid: int
    uid_map: tuple[IdMapping, ...]
    userns: str


@dataclass(frozen=True)
class PodDump:
    """What the probe saw of one pod (and around it) on its node."""

    uid: str
    host_userns: str
    pid1_userns: str
    cgroup_mounts: tuple[tuple[str, str], ...]  # (fstype, mountpoint)
    subuid: tuple[SubIdRange, ...]
    subgid: tuple[SubIdRange, ...]
    getsubids_uid: tuple[SubIdRange, ...] | None  # None: no getsubids on the node
    getsubids_gid: tuple[SubIdRange, ...] | None
    pod_dir: str | None
    tried: tuple[str, ...]
    processes: tuple[ProcessInfo, ...]
    vanished: tuple[int, ...]
    record: KubeletUsernsRecord | None
    record_problem: str  # "" when the record was read and parsed
    other_records: dict[str, KubeletUsernsRecord] = field(default_factory=dict)
    other_pods: tuple[OtherPod, ...] = ()
    # records about this pod that could not be read (what and why): the pod cannot be judged,
    # and nothing else is affected
    malformed: tuple[str, ...] = ()
    # the kubelet as the probe found it (probe/common.sh, as verify-node finds it): the root
    # its records were read from (None: not said), the processes called kubelet, its user
    kubelet_root: KubeletRoot | None = None
    kubelet_processes: tuple[KubeletProcess, ...] = ()
    kubelet_user: tuple[int, int] | None = None
    # whether the node has a kubelet user; without one the kubelet uses its default pool and
    # the subid lines are not its (kubernetes pkg/kubelet/kubelet_pods.go getKubeletMappings)
    has_kubelet_user: bool = True


class _Malformed(ValueError):
    """One record of the wrong shape: it makes only the pod it is about unreadable."""


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _ids(text: str, what: str) -> tuple[int, ...]:
    parts = text.split(" ")
    if len(parts) != 4 or not all(_number(p) for p in parts):
        raise _Malformed(f"{what} should be four numbers, got {text[:40]!r}")
    return tuple(int(p) for p in parts)


def _map(text: str) -> tuple[IdMapping, ...]:
    try:
        return parse_id_map(text)
    except ValueError as exc:
        raise _Malformed(str(exc)) from None


def _pid(text: str) -> int:
    if not _number(text):
        raise _Malformed(f"a PID is a number, got {text[:20]!r}")
    return int(text)


def _process(f: tuple[str, ...]) -> ProcessInfo:
    if len(f) < 10:
        raise _Malformed(f"a process record has 11 fields, got {len(f) + 1}")
    return ProcessInfo(
        pid=_pid(f[1]),
        cgroup=f[2],
        uids=_ids(f[3], "Uid"),
        gids=_ids(f[4], "Gid"),
        uid_map=_map(f[5]),
        gid_map=_map(f[6]),
        userns=f[7],
        comm=f[8],
        cmdline=f[9],
    )


def _owned(lines: list[str], user: tuple[int, int] | None) -> list[SubIdRange]:
    """The kubelet's ranges among subid lines: owner kubelet, or the kubelet user's UID."""
    owner_id = user[0] if user is not None else None
    return [r for line in lines for r in parse_subid_file(line, owner_id=owner_id)]


def _record(lines: list[str] | None) -> tuple[KubeletUsernsRecord | None, str]:
    if lines is None:
        return None, ""
    try:
        return parse_kubelet_record("\n".join(lines)), ""
    except ValueError as exc:
        return None, f"unparsable ({exc})"


def parse_pod_dump(text: str, uid: str, node: str) -> PodDump:
    """Parse the inspect probe's output for pod ``uid``.

    ProbeError only when the output as a whole is broken (no header, cut short); a record of
    the wrong shape makes only the pod it is about unreadable (``malformed``).
    """
    records = parse_records(text, "inspect", node)
    host, pid1 = "-", "-"
    mounts: list[tuple[str, str]] = []
    subid_lines: dict[str, list[str]] = {"uid": [], "gid": []}
    root: KubeletRoot | None = None
    kubelets: list[KubeletProcess] = []
    user: tuple[int, int] | None = None
    has_user = True
    getsubids: dict[str, tuple[SubIdRange, ...] | None] = {"uid": None, "gid": None}
    pod_dir: str | None = None
    tried: list[str] = []
    processes: list[ProcessInfo] = []
    vanished: list[int] = []
    record_lines: list[str] | None = None
    problem = "empty or unreadable"
    other_lines: dict[str, list[str]] = {}
    cmdlines: dict[int, list[str]] = {}
    other_pods: list[OtherPod] = []
    malformed: list[str] = []
    for rec in records:
        f = rec.fields
        try:
            if rec.tag == "host" and len(f) >= 2:
                host, pid1 = f[0], f[1]
            elif rec.tag == "mount" and len(f) >= 2:
                mounts.append((f[0], f[1]))
            elif rec.tag == "subid" and len(f) >= 2 and f[0] in subid_lines:
                subid_lines[f[0]].append(f[1])
            elif rec.tag in ("kubeletroot", "kubeletproc", "user", "nouser"):
                # about the node, not one pod: an unreadable one is left out (verify-node
                # reports the node)
                with contextlib.suppress(ValueError):
                    if rec.tag == "kubeletroot":
                        root = kubelet_root(f)
                    elif rec.tag == "kubeletproc":
                        kubelets.append(kubelet_process(f))
                    elif rec.tag == "user":
                        user, has_user = kubelet_user(f), True
                    else:
                        user, has_user = None, False
            elif rec.tag == "getsubids" and len(f) >= 2 and f[0] in getsubids:
                getsubids[f[0]] = (
                    None if f[1] == "-" else tuple(parse_getsubids(f[1].replace(",", "\n")))
                )
            elif rec.tag in ("tried", "poddir", "proc", "gone", "record", "norecord", "cmdline"):
                if not f or f[0] != uid:
                    continue
                if rec.tag == "tried" and len(f) >= 2:
                    tried.append(f[1])
                elif rec.tag == "poddir" and len(f) >= 2:
                    pod_dir = f[1]
                elif rec.tag == "cmdline" and len(f) >= 3:
                    cmdlines.setdefault(_pid(f[1]), []).append(f[2])
                elif rec.tag == "gone" and len(f) >= 2:
                    vanished.append(_pid(f[1]))
                elif rec.tag == "proc":
                    processes.append(_process(f))
                elif rec.tag == "record" and len(f) >= 2:
                    record_lines = [*(record_lines or []), f[1]]
                elif rec.tag == "norecord":
                    problem = f[1] if len(f) > 1 else "missing"
            elif rec.tag == "otherrecord" and len(f) >= 2:
                other_lines.setdefault(f[0], []).append(f[1])
            elif rec.tag == "other" and len(f) >= 4:
                with contextlib.suppress(ValueError):  # a neighbour's record: not this pod's
                    other_pods.append(OtherPod(f[0], int(f[1]), parse_id_map(f[2]), f[3]))
        except _Malformed as exc:
            malformed.append(f"line {rec.line} ({rec.tag}: {exc})")
    record, record_problem = _record(record_lines)
    others = {}
    for other, lines in other_lines.items():
        parsed, _why = _record(lines)  # another pod's broken record is verify-node's business
        if parsed is not None:
            others[other] = parsed
    return PodDump(
        uid=uid,
        host_userns=host,
        pid1_userns=pid1,
        cgroup_mounts=tuple(mounts),
        subuid=tuple(_owned(subid_lines["uid"], user)),
        subgid=tuple(_owned(subid_lines["gid"], user)),
        getsubids_uid=getsubids["uid"],
        getsubids_gid=getsubids["gid"],
        pod_dir=pod_dir,
        tried=tuple(tried),
        processes=tuple(
            replace(p, cmdline=" ".join(cmdlines[p.pid]).rstrip(" ")) if p.pid in cmdlines else p
            for p in processes
        ),
        vanished=tuple(vanished),
        record=record,
        record_problem=record_problem if record_lines is not None else problem,
        other_records=others,
        other_pods=tuple(other_pods),
        malformed=tuple(malformed),
        kubelet_root=root,
        kubelet_processes=tuple(kubelets),
        kubelet_user=user,
        has_kubelet_user=has_user,
    )
