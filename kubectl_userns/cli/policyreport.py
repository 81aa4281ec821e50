"""The plan as Policy WG reports (``-o policyreport``): ``wgpolicyk8s.io/v1alpha2``
PolicyReport objects, one per namespace, and a ClusterPolicyReport for the nodes, so that the
results show in Policy Reporter and whatever else reads that format.

The shapes follow the v1alpha2 CRDs of kubernetes-sigs/wg-policy-prototypes
(policy-report/crd/v1alpha2/wgpolicyk8s.io_policyreports.yaml and _clusterpolicyreports.yaml);
tests/test_plan.py validates the output against their schemas.
"""

from __future__ import annotations

from typing import Any

API_VERSION = "wgpolicyk8s.io/v1alpha2"
SOURCE = "kubectl-userns"
POLICY = "user-namespaces"

# plan state -> (result, severity, rule)
_STATE = {
    "isolated": ("pass", "info", "pod-isolated-by-user-namespace"),
    "not-isolated": ("fail", "high", "pod-isolated-by-user-namespace"),
    "unverified": ("skip", "info", "pod-isolated-by-user-namespace"),
    "host-userns": ("fail", "medium", "pod-uses-user-namespace"),
}


def _summary(results: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(("pass", "fail", "warn", "error", "skip"), 0)
    for result in results:
        counts[result["result"]] += 1
    return counts


def _workload_result(w: dict[str, Any]) -> dict[str, Any]:
    result, severity, rule = _STATE[w["state"]]
    if w["state"] == "not-isolated":
        message = f"asks for hostUsers: false but fails {', '.join(w['failedChecks'])}"
    elif w["state"] == "host-userns":
        if w["readiness"] == "convertible":
            message = "runs in the host user namespace; nothing blocks hostUsers: false"
        else:
            reasons = [b["reason"] for b in w["blockers"]]
            if w["notReadyNodes"]:
                reasons.append(f"nodes not ready: {', '.join(w['notReadyNodes'])}")
            message = "runs in the host user namespace; blocked: " + "; ".join(reasons)
    elif w["state"] == "unverified":
        message = "asks for hostUsers: false; not verified on the node (plan --verify)"
    else:
        message = "runs in its own user namespace, verified on the node"
    properties = {
        "state": w["state"],
        "readiness": w["readiness"] or "",
        "nodes": ",".join(w["nodes"]),
        "blockers": ",".join(b["field"] for b in w["blockers"]),
        "warnings": ",".join(b["field"] for b in w["warnings"]),
    }
    if w["convertCommand"]:
        properties["convert"] = w["convertCommand"]
    return {
        "source": SOURCE,
        "policy": POLICY,
        "rule": rule,
        "category": "Pod Security",
        "result": result,
        "severity": severity,
        "scored": True,
        "message": message,
        "properties": {k: v for k, v in properties.items() if v},
        "resources": [
            {"apiVersion": _api_version(w["kind"]), "kind": _kind(w["kind"]), "name": w["name"],
             "namespace": w["namespace"]}
        ],
    }  # fmt: skip


def _kind(kind: str) -> str:
    return "Pod" if kind == "StaticPod" else kind


def _api_version(kind: str) -> str:
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        return "apps/v1"
    if kind in ("Job", "CronJob"):
        return "batch/v1"
    return "v1"


def policy_reports(plan: dict[str, Any], audit: dict[str, Any] | None = None) -> dict[str, Any]:
    """A v1 List of the PolicyReports (one per namespace) and the nodes' ClusterPolicyReport."""
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for workload in plan["workloads"]:
        by_namespace.setdefault(workload["namespace"], []).append(_workload_result(workload))
    items: list[dict[str, Any]] = []
    for namespace, results in sorted(by_namespace.items()):
        items.append(
            {
                "apiVersion": API_VERSION,
                "kind": "PolicyReport",
                "metadata": {
                    "name": "kubectl-userns",
                    "namespace": namespace,
                    "labels": {"app.kubernetes.io/managed-by": SOURCE},
                },
                "scope": {"apiVersion": "v1", "kind": "Namespace", "name": namespace},
                "summary": _summary(results),
                "results": results,
            }
        )
    node_results = []
    for node in plan["nodes"]:
        node_results.append(
            {
                "source": SOURCE,
                "policy": POLICY,
                "rule": "node-ready-for-user-namespaces",
                "category": "Node",
                "result": "pass" if node["ready"] else "fail",
                "severity": "info" if node["ready"] else "high",
                "scored": True,
                "message": "; ".join(node["problems"]) or "ready (API-side checks)",
                "resources": [{"apiVersion": "v1", "kind": "Node", "name": node["name"]}],
            }
        )
    for finding in (audit or {}).get("findings", []):
        if finding["kind"] in ("overlap", "unreachable"):
            node_results.append(
                {
                    "source": SOURCE,
                    "policy": POLICY,
                    "rule": f"node-{finding['kind']}",
                    "category": "Node",
                    "result": "fail" if finding["severity"] == "FAIL" else "error",
                    "severity": "high",
                    "scored": True,
                    "message": finding["detail"],
                    "resources": [{"apiVersion": "v1", "kind": "Node", "name": finding["node"]}],
                }
            )
    items.append(
        {
            "apiVersion": API_VERSION,
            "kind": "ClusterPolicyReport",
            "metadata": {
                "name": "kubectl-userns-nodes",
                "labels": {"app.kubernetes.io/managed-by": SOURCE},
            },
            "summary": _summary(node_results),
            "results": node_results,
        }
    )
    return {"apiVersion": "v1", "kind": "List", "items": items}
