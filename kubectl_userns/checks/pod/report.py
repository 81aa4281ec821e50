"""The inspection report of one pod: processes, the catalogue's checks, a summary."""

from __future__ import annotations

from typing import Any

from kubectl_userns.checks.idmap import format_id_map, is_host_map
from kubectl_userns.checks.kubelet_root import root_source
from kubectl_userns.checks.pod import rules  # noqa: F401  (registers the checks)
from kubectl_userns.checks.pod.catalogue import FAIL, PASS, WARN, PodView, run_checks
from kubectl_userns.checks.pod.facts import (
    IdsPerPod,
    PodFacts,
    allocation_of,
    classify,
    kubelet_pool,
)
from kubectl_userns.probe.pod_dump import PodDump, ProcessInfo

REPORT_VERSION = "kubectl-userns/v1"


def judged_processes(facts: PodFacts, dump: PodDump, container: str | None = None) -> int:
    """How many processes of the pod the checks can judge (containers and the sandbox)."""
    return len(_view(facts, dump, IdsPerPod(65536, ""), container).judged)


def _view(facts: PodFacts, dump: PodDump, ids: IdsPerPod, container: str | None) -> PodView:
    procs = classify(facts, dump.processes)
    if container is not None:
        procs = [c for c in procs if c.container == container or c.role == "sandbox"]
    judged = tuple(c for c in procs if c.role in ("app", "sandbox"))
    return PodView(facts, dump, tuple(procs), judged, ids, allocation_of(dump, ids.value))


def build_report(
    facts: PodFacts,
    dump: PodDump,
    *,
    ids_per_pod: int,
    ids_source: str,
    container: str | None = None,
) -> dict[str, Any]:
    """The structured report (see docs/inspect-report.md)."""
    view = _view(facts, dump, IdsPerPod(ids_per_pod, ids_source), container)
    checks = run_checks(view)
    failed = sum(1 for c in checks if c["status"] == FAIL)
    warned = sum(1 for c in checks if c["status"] == WARN)
    pod_map = view.pod_map
    processes = []
    for c in view.procs:
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
                "inPodRange": bool(
                    facts.user_namespace_requested and view.allocation.contains(c.process.uids[1])
                ),
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
            "kubeletUID": facts.node_uid,
            "node": facts.node,
            "hostUsers": facts.host_users,
            "qosClass": facts.qos_class,
        },
        "idsPerPod": ids_per_pod,
        "idsPerPodSource": ids_source,
        "kubeletRoot": _kubelet_root(dump),
        "kubeletPool": kubelet_pool(dump, ids_per_pod).as_data(),
        "hostUserNamespace": dump.host_userns,
        "podCgroup": dump.pod_dir,
        "mapping": {
            "uidMap": format_id_map(pod_map) if pod_map else None,
            "hostRange": [pod_map[0].outside, pod_map[0].host_end - 1] if pod_map else None,
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


def _kubelet_root(dump: PodDump) -> dict[str, Any] | None:
    """Where the pod's kubelet record was read: the root and where it came from."""
    root = dump.kubelet_root
    if root is None:
        return None
    found = any(p.accepted for p in dump.kubelet_processes)
    return {
        "path": root.path,
        "source": root_source(root.source, found),
        "exists": root.state == "dir",
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
