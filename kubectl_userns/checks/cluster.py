"""Judging a whole cluster from per-pod inspections: pure functions over plain data.

``audit_pods`` turns the pods of a node plus one probe output into one inspection report per
pod; ``build_audit`` turns the rows of every node into the cluster report (the schema of
``kubectl userns audit -o json``): one row per pod, the findings across pods, the nodes that
could not be reached, and the exit code the answers call for.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from kubectl_userns.checks.idmap import is_host_map, parse_id_map
from kubectl_userns.checks.pod import (
    REPORT_VERSION,
    PodFacts,
    build_report,
    ids_per_pod_in_force,
    judged_processes,
    kubelet_pool,
    pod_facts,
)
from kubectl_userns.errors import EXIT_CHECK_FAILED, EXIT_INCOMPLETE, EXIT_OK, UsernsError
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


def pod_operating_system(pod: dict[str, Any], node_os: str) -> str:
    """The OS a pod runs on: its node's, else the pod's own spec.os.name; "" when unknown."""
    if node_os:
        return node_os
    wanted = ((pod.get("spec") or {}).get("os") or {}).get("name")
    return wanted.strip().lower() if isinstance(wanted, str) else ""


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


def _name(row: dict[str, Any]) -> str:
    return f"{row['namespace']}/{row['name']}"


def overlap_findings(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pairs of pods on one node whose host ID ranges overlap."""
    findings = []
    by_node: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["hostRange"] is not None:
            by_node.setdefault(row["node"], []).append(row)
    for node, members in sorted(by_node.items()):
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                (a_low, a_high), (b_low, b_high) = a["hostRange"], b["hostRange"]
                if a_low <= b_high and b_low <= a_high:
                    findings.append(
                        {
                            "kind": "overlap",
                            "severity": "FAIL",
                            "node": node,
                            "pods": [_name(a), _name(b)],
                            "detail": f"host IDs {a_low}-{a_high} of {_name(a)} overlap "
                            f"{b_low}-{b_high} of {_name(b)}: they can reach each other's "
                            "files and processes",
                        }
                    )
    return findings


def pod_findings(
    rows: Sequence[dict[str, Any]], overlapping: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """``hostUsers: false`` pods that are not isolated, and host-root pods without a userns.

    A pod in ``overlapping`` (named ``namespace/name``) whose only failed check is
    ``no-overlap`` is left out: the overlap finding already names it and its partner.
    """
    names = {row["uid"]: _name(row) for row in rows if row["uid"]}
    findings = []
    for row in rows:
        if row["verdict"] == NOT_ISOLATED:
            if _name(row) in overlapping and row["failedChecks"] == ["no-overlap"]:
                continue
            details = "; ".join(
                f"{c['id']}: {_with_names(c['detail'], names)}"
                for c in row["checks"]
                if c["status"] == "FAIL"
            )
            findings.append(
                {
                    "kind": "not-isolated",
                    "severity": "FAIL",
                    "node": row["node"],
                    "pods": [_name(row)],
                    "detail": f"asks for hostUsers: false but {details}",
                }
            )
        elif row["verdict"] == HOST_USERNS and row["hostRootProcesses"]:
            count = row["hostRootProcesses"]
            if row["hostNamespaces"]:
                needs = ", ".join(row["hostNamespaces"])
                findings.append(
                    {
                        "kind": "host-root",
                        "severity": "INFO",
                        "node": row["node"],
                        "pods": [_name(row)],
                        "detail": f"{count} process(es) run as host root, but the pod uses "
                        f"{needs}, which hostUsers: false forbids; not a candidate",
                    }
                )
            else:
                findings.append(
                    {
                        "kind": "host-root",
                        "severity": "FAIL",
                        "node": row["node"],
                        "pods": [_name(row)],
                        "detail": f"{count} process(es) run as host root without a user "
                        "namespace; candidate for hostUsers: false (kubectl userns convert)",
                    }
                )
    return findings


def _with_names(text: str, names: dict[str, str]) -> str:
    """``text`` with the audited pods' UIDs written as ``pod UID`` replaced by their names."""
    for uid, name in names.items():
        text = text.replace(f"pod {uid}", f"pod {name}")
    return text


def unreachable_findings(
    node_errors: dict[str, str], rows: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One finding per node that could not be probed."""
    findings = []
    for node, reason in sorted(node_errors.items()):
        count = sum(1 for r in rows if r["node"] == node)
        findings.append(
            {
                "kind": "unreachable",
                "severity": "UNKNOWN",
                "node": node,
                "pods": [_name(r) for r in rows if r["node"] == node],
                "detail": f"{count} pod(s) not checked: {reason}",
            }
        )
    return findings


def build_audit(
    rows: Sequence[dict[str, Any]],
    node_errors: dict[str, str],
    probes: Mapping[str, Mapping[str, Any]] | None = None,
    known_pods: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The cluster report: rows in (namespace, name) order, findings, the nodes (with what the
    probe saw of each: ``probes`` by node, see ``node_probe``), summary and exit code.

    A node's kubelet records are named after the pods of ``known_pods`` (the pods the caller
    listed, any phase) whose UID on the node is the record's; the others are null.
    """
    names = {}
    for pod in known_pods:
        with contextlib.suppress(AttributeError, TypeError):
            fact = pod_facts(pod)
            names[fact.node_uid] = (fact.namespace, fact.name)
    ordered = sorted(rows, key=lambda r: (r["namespace"], r["name"]))
    overlaps = overlap_findings(ordered)
    overlapping = frozenset(name for f in overlaps for name in f["pods"])
    findings = overlaps + pod_findings(ordered, overlapping)
    findings += unreachable_findings(node_errors, ordered)
    counts = {v: sum(1 for r in ordered if r["verdict"] == v) for v in (ISOLATED, NOT_ISOLATED)}
    counts[HOST_USERNS] = sum(1 for r in ordered if r["verdict"] == HOST_USERNS)
    counts[RUNTIME_USERNS] = sum(1 for r in ordered if r["verdict"] == RUNTIME_USERNS)
    counts[UNKNOWN] = sum(1 for r in ordered if r["verdict"] == UNKNOWN)
    counts[NOT_APPLICABLE] = sum(1 for r in ordered if r["verdict"] == NOT_APPLICABLE)
    failing = sum(1 for f in findings if f["severity"] == "FAIL")
    if failing:
        exit_code = EXIT_CHECK_FAILED
    elif counts[UNKNOWN] or node_errors:
        exit_code = EXIT_INCOMPLETE
    else:
        exit_code = EXIT_OK
    nodes = sorted({r["node"] for r in ordered} | set(node_errors))
    return {
        "apiVersion": REPORT_VERSION,
        "kind": "ClusterAudit",
        "pods": ordered,
        "findings": findings,
        "nodes": [
            {
                "name": n,
                "probed": n not in node_errors,
                "error": node_errors.get(n, ""),
                "kubeletPool": (probes or {}).get(n, {}).get("kubeletPool"),
                "kubeletRecords": [
                    {
                        **r,
                        "namespace": names.get(r["uid"], (None, None))[0],
                        "name": names.get(r["uid"], (None, None))[1],
                    }
                    for r in (probes or {}).get(n, {}).get("kubeletRecords", [])
                ],
            }
            for n in nodes
        ],
        "summary": {
            "pods": len(ordered),
            "nodes": len(nodes),
            "isolated": counts[ISOLATED],
            "notIsolated": counts[NOT_ISOLATED],
            "hostUserns": counts[HOST_USERNS],
            "runtimeUserns": counts[RUNTIME_USERNS],
            "unknown": counts[UNKNOWN],
            "notApplicable": counts[NOT_APPLICABLE],
            "failingFindings": failing,
            "unreachableNodes": len(node_errors),
            "exitCode": exit_code,
        },
    }


def verdict_text(row: dict[str, Any]) -> str:
    """The VERDICT cell: the verdict, and for UNKNOWN and NOT APPLICABLE its reason."""
    if row["verdict"] in (UNKNOWN, NOT_APPLICABLE):
        return f"{row['verdict']}: {row['reason']}"
    return str(row["verdict"])


def summary_line(audit: dict[str, Any]) -> str:
    s = audit["summary"]
    parts = [
        f"{s['isolated']} isolated",
        f"{s['notIsolated']} not isolated",
        f"{s['hostUserns']} in the host user namespace",
    ]
    if s.get("runtimeUserns"):
        parts.append(f"{s['runtimeUserns']} in a runtime's user namespace")
    if s["unknown"]:
        parts.append(f"{s['unknown']} unknown")
    if s.get("notApplicable"):
        parts.append(f"{s['notApplicable']} on non-Linux nodes (not applicable)")
    tail = ""
    if s["unreachableNodes"]:
        tail = f"; {s['unreachableNodes']} node(s) unreachable"
    return (
        f"audited {s['pods']} pod(s) on {s['nodes']} node(s): {', '.join(parts)}; "
        f"{s['failingFindings']} failing finding(s){tail}"
    )


def node_error_text(exc: UsernsError) -> str:
    """A node's error message without the trailing full stop, for use inside a sentence."""
    return exc.message.rstrip(".")
