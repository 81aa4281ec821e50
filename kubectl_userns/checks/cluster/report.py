"""The audit report from every node's rows: the findings across pods (shared ID ranges, pods
that are not isolated, nodes not reached), the summary and the exit code the answers call for
(the schema of ``kubectl userns audit -o json``), and the texts of the table.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from kubectl_userns.checks.cluster.rows import (
    HOST_USERNS,
    ISOLATED,
    NOT_APPLICABLE,
    NOT_ISOLATED,
    RUNTIME_USERNS,
    UNKNOWN,
)
from kubectl_userns.checks.pod import (
    REPORT_VERSION,
    pod_facts,
)
from kubectl_userns.errors import EXIT_CHECK_FAILED, EXIT_INCOMPLETE, EXIT_OK, UsernsError


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
