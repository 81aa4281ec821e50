"""The audit's rows, one per pod: each node's pods judged from the one probe run that covered
them all (``audit_node``), or a row saying why a pod could not be judged. The verdicts' names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from kubectl_userns.checks.idmap import is_host_map, parse_id_map
from kubectl_userns.checks.pod import (
    PodFacts,
    build_report,
    ids_per_pod_in_force,
    judged_processes,
    kubelet_pool,
    pod_facts,
)
from kubectl_userns.probe.pod_dump import OtherPod, PodDump, parse_pod_dump

ISOLATED = "ISOLATED"
NOT_ISOLATED = "NOT ISOLATED"
HOST_USERNS = "HOST USERNS"
# hostUsers is not false, yet the processes run in a user namespace of their own (CRI-O's
# io.kubernetes.cri-o.userns-mode annotation): the kubelet neither allocated nor records it
RUNTIME_USERNS = "RUNTIME USERNS"
UNKNOWN = "UNKNOWN"
# the pod runs on a node of another OS (Windows): there are no user namespaces to check
NOT_APPLICABLE = "NOT APPLICABLE"

HOST_NAMESPACE_FIELDS = ("hostNetwork", "hostPID", "hostIPC")


def is_audited(pod: dict[str, Any]) -> bool:
    """A pod the audit can look at: scheduled to a node and running."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    return bool(spec.get("nodeName")) and status.get("phase") == "Running"


def group_by_node(pods: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The audited pods by ``spec.nodeName``, nodes and pods in name order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        if is_audited(pod):
            groups.setdefault(pod["spec"]["nodeName"], []).append(pod)
    for members in groups.values():
        members.sort(key=lambda p: (p["metadata"].get("namespace", ""), p["metadata"]["name"]))
    return dict(sorted(groups.items()))


def _with_neighbours(dump: PodDump, dumps: dict[str, PodDump]) -> PodDump:
    """Add the other audited pods of the node to ``dump``'s view of the node.

    The probe leaves the pods it was asked about out of its ``otherrecord``/``other`` records
    (they have records of their own), so each pod's overlap check gets them back here and
    compares against the same neighbours a single ``inspect`` would.
    """
    records = dict(dump.other_records)
    others = list(dump.other_pods)
    for uid, other in dumps.items():
        if uid == dump.uid:
            continue
        if other.record is not None:
            records[uid] = other.record
        first = next((p for p in other.processes if not is_host_map(p.uid_map)), None)
        if first is not None and other.pod_dir:
            others.append(OtherPod(other.pod_dir, first.pid, first.uid_map, first.userns))
    return dataclasses.replace(dump, other_records=records, other_pods=tuple(others))


def audit_node(
    node: str,
    pods: Sequence[dict[str, Any]],
    probe_output: str,
    *,
    config: dict[str, Any] | None,
    config_problem: str = "",
    kubelet_version: str = "",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One row per pod of ``node`` from the one probe run that covered them all, and what the
    probe saw of the node itself (``node_probe``).

    Pods are looked up by the UID the kubelet uses on the node (a static pod's config hash);
    idsPerPod is the one the node's kubelet applies (``ids_per_pod_in_force``).
    """
    facts = [pod_facts(p) for p in pods]
    dumps = {f.node_uid: parse_pod_dump(probe_output, f.node_uid, node) for f in facts}
    lengths = tuple(
        m.length
        for dump in dumps.values()
        for record in ([dump.record] if dump.record else []) + list(dump.other_records.values())
        for m in record.uid_mappings[:1]
    )
    ids = ids_per_pod_in_force(config, config_problem, kubelet_version, lengths)
    rows = []
    for pod, fact in zip(pods, facts, strict=True):
        dump = dumps[fact.node_uid]
        if dump.malformed:
            why = "; ".join(dump.malformed)
            rows.append(unknown_row(pod, f"the probe's records of the pod are malformed: {why}"))
            continue
        if dump.pod_dir is None:
            rows.append(unknown_row(pod, f"no cgroup found for the pod on node {node}"))
            continue
        if not judged_processes(fact, dump):
            rows.append(
                unknown_row(pod, "no running container and no pod sandbox (CrashLoopBackOff?)")
            )
            continue
        report = build_report(
            fact,
            _with_neighbours(dump, dumps),
            ids_per_pod=ids.value,
            ids_source=ids.source,
        )
        rows.append(judged_row(pod, fact, report))
    return rows, node_probe(next(iter(dumps.values())), ids.value) if dumps else {}


def node_probe(dump: PodDump, ids_per_pod: int) -> dict[str, Any]:
    """What one probe saw of the node, as data for its ``nodes`` entry: the kubelet's pool and
    the kubelet records of the pods not audited there (``uid``, ``hostId``, ``length``,
    ``inPool``; named by ``build_audit``). Such a record still reserves its range: the kubelet
    reads every record at start-up and refuses to start on one outside its pool (kubernetes
    pkg/kubelet/userns/userns_manager.go MakeUserNsManager, record; userns-facts.md 2)."""
    pool = kubelet_pool(dump, ids_per_pod)
    records = []
    for uid, record in sorted(dump.other_records.items()):
        if not record.uid_mappings:
            continue  # an empty record: the pod has no user namespace
        first = record.uid_mappings[0]
        records.append(
            {
                "uid": uid,
                "hostId": first.outside,
                "length": first.length,
                "inPool": any(r.contains(first) for r in pool.ranges),
            }
        )
    return {"kubeletPool": pool.as_data(), "kubeletRecords": records}


def _base_row(pod: dict[str, Any]) -> dict[str, Any]:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    return {
        "namespace": meta.get("namespace", "default"),
        "name": meta.get("name", "?"),
        "uid": meta.get("uid", ""),
        "node": spec.get("nodeName") or "",
        "hostUsers": spec.get("hostUsers"),
        "hostNamespaces": [f for f in HOST_NAMESPACE_FIELDS if spec.get(f)],
    }


def unknown_row(pod: dict[str, Any], reason: str) -> dict[str, Any]:
    """The row of a pod that could not be checked."""
    return {
        **_base_row(pod),
        "userNamespace": None,
        "hostRange": None,
        "kubeletPool": None,
        "hostRootProcesses": None,
        "verdict": UNKNOWN,
        "reason": reason,
        "failedChecks": [],
        "checks": [],
    }


def foreign_os_row(pod: dict[str, Any], operating_system: str) -> dict[str, Any]:
    """The row of a pod on a node of another OS, which is not probed: NOT APPLICABLE, or NOT
    ISOLATED when it asks for hostUsers: false, which such a node cannot give it."""
    detail = f"runs on a {operating_system} node: user namespaces are Linux only"
    if (pod.get("spec") or {}).get("hostUsers") is False:
        return {
            **unknown_row(pod, ""),
            "verdict": NOT_ISOLATED,
            "failedChecks": ["node-os"],
            "checks": [{"id": "node-os", "status": "FAIL", "detail": detail}],
        }
    return {**unknown_row(pod, detail), "verdict": NOT_APPLICABLE}


def judged_row(pod: dict[str, Any], facts: PodFacts, report: dict[str, Any]) -> dict[str, Any]:
    """The row of a pod from its inspection report."""
    uid_map = report["mapping"]["uidMap"]
    in_host = uid_map is None or is_host_map(parse_id_map(uid_map))
    host_range = None if in_host else report["mapping"]["hostRange"]
    failed = [c for c in report["checks"] if c["status"] == "FAIL"]
    if not facts.user_namespace_requested:
        verdict = HOST_USERNS if host_range is None else RUNTIME_USERNS
    else:
        verdict = NOT_ISOLATED if failed else ISOLATED
    return {
        **_base_row(pod),
        "userNamespace": "host" if host_range is None else f"{host_range[0]}-{host_range[1]}",
        "hostRange": host_range,
        "kubeletPool": report["kubeletPool"],
        "hostRootProcesses": sum(
            1 for p in report["processes"] if p["role"] == "app" and p["hostRoot"]
        ),
        "verdict": verdict,
        "reason": "",
        "failedChecks": [c["id"] for c in failed],
        "checks": report["checks"],
    }
