"""Judging a pod's isolation from what the probe saw: pure functions over plain data.

``build_report`` matches processes to containers, runs the named checks and returns the report
as plain data (the schema of ``-o json``, documented in docs/inspect-report.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_userns.checks.idmap import (
    MAX_ID,
    IdMapping,
    SubIdRange,
    format_id_map,
    is_host_map,
    ranges_overlap,
)
from kubectl_userns.probe.pod_dump import PodDump, ProcessInfo

PASS, FAIL, WARN = "PASS", "FAIL", "WARN"
DEFAULT_IDS_PER_POD = 65536
REPORT_VERSION = "kubectl-userns/v1"


@dataclass(frozen=True)
class PodFacts:
    """What the API says about the pod."""

    namespace: str
    name: str
    uid: str
    node: str
    host_users: bool | None
    qos_class: str
    containers: dict[str, str]  # container ID (no runtime prefix) -> container name

    @property
    def user_namespace_requested(self) -> bool:
        return self.host_users is False


def pod_facts(pod: dict[str, Any]) -> PodFacts:
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    containers: dict[str, str] = {}
    for kind in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for entry in status.get(kind) or []:
            raw = entry.get("containerID") or ""
            if raw:
                containers[raw.split("://", 1)[-1]] = entry.get("name", "?")
    return PodFacts(
        namespace=meta.get("namespace", "default"),
        name=meta.get("name", "?"),
        uid=meta.get("uid", ""),
        node=spec.get("nodeName") or "",
        host_users=spec.get("hostUsers"),
        qos_class=status.get("qosClass") or "",
        containers=containers,
    )


@dataclass(frozen=True)
class Classified:
    process: ProcessInfo
    container: str  # container name, or "" for processes that belong to no container
    container_id: str
    role: str  # "app", "conmon" (runtime monitor), "infra" (pause / unknown plumbing)


def classify(facts: PodFacts, processes: tuple[ProcessInfo, ...]) -> list[Classified]:
    """Match cgroup directories to containers by container ID; label runtime plumbing."""
    result = []
    for proc in processes:
        leaf = proc.cgroup.rstrip("/")
        name, cid, role = "", "", "infra"
        for container_id, container_name in facts.containers.items():
            if container_id and container_id in leaf:
                cid = container_id
                marker = leaf.split(container_id, 1)[0]
                if marker.endswith("crio-conmon-"):
                    name, role = container_name, "conmon"
                else:
                    name, role = container_name, "app"
                break
        if not cid and proc.comm == "conmon":
            role = "conmon"
        result.append(Classified(proc, name, cid, role))
    result.sort(key=lambda c: (c.role != "app", c.container, c.process.pid))
    return result


def _check(check_id: str, status: str, detail: str) -> dict[str, str]:
    return {"id": check_id, "status": status, "detail": detail}


def _pids(items: list[Classified]) -> str:
    return ", ".join(str(c.process.pid) for c in items)


def default_pool(ids_per_pod: int) -> SubIdRange:
    """The kubelet's pool when no ``kubelet`` user exists (userns-facts.md section 2)."""
    return SubIdRange(ids_per_pod, 2**32 - ids_per_pod)


def isolation_checks(
    facts: PodFacts, dump: PodDump, procs: list[Classified], ids_per_pod: int
) -> list[dict[str, str]]:
    """The checks for a pod with ``hostUsers: false``."""
    apps = [c for c in procs if c.role == "app"]
    checks = []
    host_ns = dump.host_userns
    in_host = [c for c in apps if c.process.userns == host_ns or is_host_map(c.process.uid_map)]
    checks.append(
        _check(
            "private-userns",
            FAIL if in_host else PASS,
            f"PIDs {_pids(in_host)} run in the host user namespace {host_ns}"
            if in_host
            else f"all {len(apps)} container processes run outside the host user namespace "
            f"{host_ns}",
        )
    )
    namespaces = sorted({c.process.userns for c in apps})
    maps = sorted({format_id_map(c.process.uid_map) for c in apps})
    shared = len(namespaces) == 1 and len(maps) == 1
    checks.append(
        _check(
            "shared-userns",
            PASS if shared else FAIL,
            f"all containers share {namespaces[0]} with uid_map {maps[0]}"
            if shared
            else f"the pod's processes sit in {len(namespaces)} user namespaces "
            f"({', '.join(namespaces)}) with maps {'; '.join(maps)}",
        )
    )
    mapping = apps[0].process.uid_map if apps else ()
    problems = _map_shape_problems(mapping, ids_per_pod)
    checks.append(
        _check(
            "map-shape",
            FAIL if problems else PASS,
            "; ".join(problems)
            if problems
            else f"one line, inside 0, {ids_per_pod} IDs, hostId {mapping[0].outside} "
            f"= {mapping[0].outside // ids_per_pod} x {ids_per_pod}",
        )
    )
    differing = [c for c in apps if c.process.gid_map != c.process.uid_map]
    checks.append(
        _check(
            "gid-map",
            FAIL if differing else PASS,
            f"gid_map differs from uid_map for PIDs {_pids(differing)}"
            if differing
            else "gid_map equals uid_map",
        )
    )
    outside = []
    for c in apps:
        ids = c.process.uids + c.process.gids
        if not mapping or any(mapping[0].to_inside(i) is None for i in ids):
            outside.append(c)
    checks.append(
        _check(
            "ids-in-range",
            FAIL if outside else PASS,
            f"PIDs {_pids(outside)} run with host IDs outside the pod's range"
            if outside
            else "every process's host UIDs and GIDs lie inside the pod's range",
        )
    )
    checks.append(_record_check(dump, mapping))
    checks.append(_pool_check(dump, mapping, ids_per_pod))
    checks.append(_overlap_check(dump, mapping))
    return checks


def _map_shape_problems(mapping: tuple[IdMapping, ...], ids_per_pod: int) -> list[str]:
    if not mapping:
        return ["no uid_map to judge"]
    problems = []
    if len(mapping) != 1:
        problems.append(f"{len(mapping)} map lines, expected one")
    first = mapping[0]
    if first.inside != 0:
        problems.append(f"the range starts at ID {first.inside} inside, expected 0")
    if first.length != ids_per_pod:
        problems.append(f"{first.length} IDs, expected idsPerPod {ids_per_pod}")
    if first.outside % ids_per_pod:
        problems.append(f"hostId {first.outside} is not a multiple of {ids_per_pod}")
    if first.outside < ids_per_pod:
        problems.append(f"hostId {first.outside} is below {ids_per_pod} (overlaps host IDs)")
    if first.host_end - 1 >= MAX_ID:
        problems.append(f"the range reaches {first.host_end - 1}, which the kernel rejects")
    return problems


def _record_check(dump: PodDump, mapping: tuple[IdMapping, ...]) -> dict[str, str]:
    if dump.record is None:
        return _check(
            "kubelet-record",
            WARN,
            f"the kubelet's userns record of this pod is {dump.record_problem}; cannot compare",
        )
    recorded = dump.record.uid_mappings
    if recorded != mapping or dump.record.gid_mappings != recorded:
        return _check(
            "kubelet-record",
            FAIL,
            f"the kubelet allocated {format_id_map(recorded)} but the processes run with "
            f"{format_id_map(mapping)}",
        )
    return _check("kubelet-record", PASS, f"matches the kubelet's record {format_id_map(recorded)}")


def _pool_check(dump: PodDump, mapping: tuple[IdMapping, ...], ids_per_pod: int) -> dict[str, str]:
    if not mapping:
        return _check("subid-pool", FAIL, "no mapping to place in the pool")
    pools = list(dump.getsubids_uid or ()) or list(dump.subuid)
    source = "getsubids kubelet" if dump.getsubids_uid else "/etc/subuid"
    if not pools:
        pools, source = [default_pool(ids_per_pod)], "the kubelet's default pool (no kubelet user)"
    inside = [p for p in pools if all(p.contains(m) for m in mapping)]
    if inside:
        return _check("subid-pool", PASS, f"inside {inside[0]} from {source}")
    listed = ", ".join(str(p) for p in pools)
    return _check("subid-pool", FAIL, f"{format_id_map(mapping)} lies outside {listed} ({source})")


def _overlap_check(dump: PodDump, mapping: tuple[IdMapping, ...]) -> dict[str, str]:
    if not mapping:
        return _check("no-overlap", FAIL, "no mapping to compare")
    clashes = []
    for other_uid, record in sorted(dump.other_records.items()):
        if any(ranges_overlap(m, o) for m in mapping for o in record.uid_mappings):
            clashes.append(f"pod {other_uid} (kubelet record {format_id_map(record.uid_mappings)})")
    for other in dump.other_pods:
        if any(ranges_overlap(m, o) for m in mapping for o in other.uid_map):
            clashes.append(
                f"{other.cgroup.rsplit('/', 1)[-1]} (PID {other.pid}, "
                f"{format_id_map(other.uid_map)})"
            )
    compared = len(dump.other_records) + len(dump.other_pods)
    if clashes:
        return _check("no-overlap", FAIL, "shares host IDs with " + "; ".join(clashes))
    return _check(
        "no-overlap", PASS, f"no overlap with the {compared} other ranges seen on the node"
    )


def host_users_checks(procs: list[Classified]) -> list[dict[str, str]]:
    """The checks for a pod that runs in the host user namespace."""
    apps = [c for c in procs if c.role == "app"]
    root = [c for c in apps if 0 in c.process.uids]
    checks = [
        _check(
            "user-namespace-requested",
            FAIL,
            "spec.hostUsers is not false: the pod runs in the host user namespace; set "
            "spec.hostUsers: false (kubectl userns convert does it)",
        )
    ]
    checks.append(
        _check(
            "no-host-root",
            FAIL if root else WARN,
            f"HOST ROOT: PIDs {_pids(root)} run as UID 0 on the node"
            if root
            else "no process runs as host root, but its IDs are the host's own",
        )
    )
    return checks


def build_report(
    facts: PodFacts,
    dump: PodDump,
    *,
    ids_per_pod: int,
    ids_source: str,
    container: str | None = None,
    wide: bool = False,
) -> dict[str, Any]:
    """The structured report (see docs/inspect-report.md)."""
    procs = classify(facts, dump.processes)
    if container is not None:
        procs = [c for c in procs if c.container == container]
    if facts.user_namespace_requested:
        checks = isolation_checks(facts, dump, procs, ids_per_pod)
        root = [c for c in procs if c.role == "app" and 0 in c.process.uids]
        if root:
            checks.insert(
                0,
                _check(
                    "no-host-root", FAIL, f"HOST ROOT: PIDs {_pids(root)} run as UID 0 on the node"
                ),
            )
    else:
        checks = host_users_checks(procs)
    failed = sum(1 for c in checks if c["status"] == FAIL)
    warned = sum(1 for c in checks if c["status"] == WARN)
    app_map = next((c.process.uid_map for c in procs if c.role == "app"), ())
    processes = []
    for c in procs:
        base = app_map[0] if app_map else None
        processes.append(
            {
                "container": c.container or "-",
                "role": c.role,
                "pid": c.process.pid,
                "uid": c.process.uids[1],
                "gid": c.process.gids[1],
                "uidInPod": _inside(c.process, c.process.uids[1]),
                "gidInPod": _inside(c.process, c.process.gids[1], gid=True),
                "userNamespace": c.process.userns,
                "uidMap": format_id_map(c.process.uid_map),
                "gidMap": format_id_map(c.process.gid_map),
                "hostRoot": 0 in c.process.uids,
                "inPodRange": bool(base and base.to_inside(c.process.uids[1]) is not None),
                "cgroup": c.process.cgroup,
                "containerID": c.container_id,
                "command": c.process.cmdline or c.process.comm,
            }
        )
    return {
        "apiVersion": REPORT_VERSION,
        "kind": "PodInspection",
        "pod": {
            "namespace": facts.namespace,
            "name": facts.name,
            "uid": facts.uid,
            "node": facts.node,
            "hostUsers": facts.host_users,
            "qosClass": facts.qos_class,
        },
        "idsPerPod": ids_per_pod,
        "idsPerPodSource": ids_source,
        "hostUserNamespace": dump.host_userns,
        "podCgroup": dump.pod_dir,
        "mapping": {
            "uidMap": format_id_map(app_map) if app_map else None,
            "hostRange": [app_map[0].outside, app_map[0].host_end - 1] if app_map else None,
        },
        "processes": processes,
        "vanishedPIDs": list(dump.vanished),
        "checks": checks,
        "summary": {
            "result": FAIL if failed else PASS,
            "passed": sum(1 for c in checks if c["status"] == PASS),
            "failed": failed,
            "warnings": warned,
        },
    }


def _inside(proc: ProcessInfo, host_id: int, gid: bool = False) -> int | None:
    if is_host_map(proc.uid_map):
        return None  # not in a user namespace of its own
    for mapping in proc.gid_map if gid else proc.uid_map:
        value = mapping.to_inside(host_id)
        if value is not None:
            return value
    return None


def summary_line(report: dict[str, Any]) -> str:
    pod = report["pod"]
    summary = report["summary"]
    name = f"{pod['namespace']}/{pod['name']}"
    if summary["failed"]:
        return (
            f"{name}: NOT ISOLATED - {summary['failed']} of {len(report['checks'])} checks "
            f"failed on node {pod['node']}"
        )
    low, high = report["mapping"]["hostRange"]
    extra = f", {summary['warnings']} warning(s)" if summary["warnings"] else ""
    return (
        f"{name}: isolated - host IDs {low}-{high} on node {pod['node']}, "
        f"{summary['passed']} checks passed{extra}"
    )
