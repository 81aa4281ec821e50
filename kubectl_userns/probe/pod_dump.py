"""Reader of the inspect probe's records (``probe/inspect.sh``) into plain frozen data."""

from __future__ import annotations

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
from kubectl_userns.errors import ProbeError
from kubectl_userns.probe.records import Record, parse_records


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


def _ids(text: str, what: str, rec: Record, node: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split())
    except ValueError:
        values = ()
    if len(values) != 4:
        raise _bad(rec, node, f"{what} should be four numbers, got {text!r}")
    return values


def _map(text: str, rec: Record, node: str) -> tuple[IdMapping, ...]:
    try:
        return parse_id_map(text)
    except ValueError as exc:
        raise _bad(rec, node, str(exc)) from None


def _bad(rec: Record, node: str, why: str) -> ProbeError:
    return ProbeError(
        f"the probe output from node {node} is malformed at line {rec.line} ({rec.tag}: {why}); "
        "this is a bug or an unusual /proc - please report it with -v output."
    )


def parse_pod_dump(text: str, uid: str, node: str) -> PodDump:
    """Parse the inspect probe's output for pod ``uid``; ProbeError on malformed input."""
    records = parse_records(text, "inspect", node)
    host, pid1 = "-", "-"
    mounts: list[tuple[str, str]] = []
    subid: dict[str, list[SubIdRange]] = {"uid": [], "gid": []}
    getsubids: dict[str, tuple[SubIdRange, ...] | None] = {"uid": None, "gid": None}
    pod_dir: str | None = None
    tried: list[str] = []
    processes: list[ProcessInfo] = []
    vanished: list[int] = []
    record: KubeletUsernsRecord | None = None
    problem = "no record line"
    others: dict[str, KubeletUsernsRecord] = {}
    cmdlines: dict[int, str] = {}
    other_pods: list[OtherPod] = []
    for rec in records:
        f = rec.fields
        if rec.tag == "host" and len(f) >= 2:
            host, pid1 = f[0], f[1]
        elif rec.tag == "mount" and len(f) >= 2:
            mounts.append((f[0], f[1]))
        elif rec.tag == "subid" and len(f) >= 2 and f[0] in subid:
            subid[f[0]] += parse_subid_file(f[1])
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
            elif rec.tag == "cmdline" and len(f) >= 3 and f[1].isdigit():
                pid = int(f[1])
                cmdlines[pid] = f"{cmdlines[pid]} {f[2]}" if pid in cmdlines else f[2]
            elif rec.tag == "gone" and len(f) >= 2:
                vanished.append(_pid(f[1], rec, node))
            elif rec.tag == "proc":
                if len(f) < 10:
                    raise _bad(rec, node, f"a process record has 11 fields, got {len(f) + 1}")
                processes.append(
                    ProcessInfo(
                        pid=_pid(f[1], rec, node),
                        cgroup=f[2],
                        uids=_ids(f[3], "Uid", rec, node),
                        gids=_ids(f[4], "Gid", rec, node),
                        uid_map=_map(f[5], rec, node),
                        gid_map=_map(f[6], rec, node),
                        userns=f[7],
                        comm=f[8],
                        cmdline=f[9] if len(f) > 9 else "",
                    )
                )
            elif rec.tag == "record" and len(f) >= 2:
                try:
                    record, problem = parse_kubelet_record(f[1]), ""
                except ValueError as exc:
                    record, problem = None, f"unparsable ({exc})"
            elif rec.tag == "norecord":
                problem = f[1] if len(f) > 1 else "missing"
        elif rec.tag == "otherrecord" and len(f) >= 2:
            try:
                others[f[0]] = parse_kubelet_record(f[1])
            except ValueError:
                continue  # another pod's broken record is verify-node's business
        elif rec.tag == "other" and len(f) >= 4:
            try:
                other_pods.append(OtherPod(f[0], int(f[1]), parse_id_map(f[2]), f[3]))
            except ValueError:
                continue
    return PodDump(
        uid=uid,
        host_userns=host,
        pid1_userns=pid1,
        cgroup_mounts=tuple(mounts),
        subuid=tuple(subid["uid"]),
        subgid=tuple(subid["gid"]),
        getsubids_uid=getsubids["uid"],
        getsubids_gid=getsubids["gid"],
        pod_dir=pod_dir,
        tried=tuple(tried),
        processes=tuple(
            replace(p, cmdline=cmdlines[p.pid]) if p.pid in cmdlines else p for p in processes
        ),
        vanished=tuple(vanished),
        record=record,
        record_problem=problem,
        other_records=others,
        other_pods=tuple(other_pods),
    )


def _pid(text: str, rec: Record, node: str) -> int:
    if not text.isdigit():
        raise _bad(rec, node, f"a PID is a number, got {text!r}")
    return int(text)
