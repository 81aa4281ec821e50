"""The plan report: workloads with their state, blockers and convert command, the nodes, the ID
space of each node, a summary and the exit code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubectl_userns.checks.plan.blockers import kernel_version, node_problems, spec_blockers
from kubectl_userns.checks.plan.objects import (
    _list,
    _map,
    _meta,
    _node_name,
    _range,
    _spec,
    workload_of,
)
from kubectl_userns.errors import EXIT_CHECK_FAILED, EXIT_INCOMPLETE, EXIT_OK

JSON = dict[str, Any]
PLAN_VERSION = "kubectl-userns/v1"

# workload states
ISOLATED = "isolated"
NOT_ISOLATED = "not-isolated"
UNVERIFIED = "unverified"  # hostUsers: false asked for, nodes not probed (API-only plan)
HOST_USERNS = "host-userns"
# readiness of a host-namespace workload
CONVERTIBLE = "convertible"
BLOCKED = "blocked"
# the kinds `kubectl userns convert` edits (manifests/convert.py) and the plan gives a command for
CONVERTIBLE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod"})


# the states of an idSpace slot that is a kubelet record, not a probed pod
STALE = "stale"  # a record of a pod the API does not have (deleted, leftover)
RECORDED = "recorded"  # a record of a pod not probed there (not running, or outside the listing)


def _pool_of(
    node: Mapping[str, Any] | None, rows: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The kubelet's pool on a node as the audit's probe found it (the audit's ``nodes`` entry,
    else a row of the node): ``{first, last, count, source, ...}``."""
    pool = (node or {}).get("kubeletPool")
    for row in rows:
        pool = pool or row.get("kubeletPool")
    return pool if isinstance(pool, Mapping) else None


def _record_slots(node: Mapping[str, Any] | None, all_pods_listed: bool) -> list[JSON]:
    """The node's kubelet records of pods the audit did not probe there, as slots: ``stale``
    when no pod of the API has the record's UID (known only when every pod was listed), else
    ``recorded``."""
    slots = []
    records = (node or {}).get("kubeletRecords")
    for record in records if isinstance(records, list) else []:
        record = _map(record)
        host_id, length = record.get("hostId"), record.get("length")
        if not isinstance(host_id, int) or not isinstance(length, int) or length < 1:
            continue
        named = record.get("namespace") is not None
        slots.append(
            {
                "pod": f"{record.get('namespace')}/{record.get('name')}" if named else None,
                "uid": str(record.get("uid") or ""),
                "start": host_id,
                "end": host_id + length - 1,
                "state": STALE if all_pods_listed and not named else RECORDED,
                "inPool": record.get("inPool"),
            }
        )
    return slots


def id_space(
    rows: Sequence[Mapping[str, Any]],
    findings: Sequence[Mapping[str, Any]] = (),
    nodes: Sequence[Mapping[str, Any]] = (),
    *,
    all_pods_listed: bool = False,
) -> list[JSON]:
    """Per node, from the audit: the ID range to draw (the kubelet's pool when the probe found
    it, widened to every pod's range) and each user-namespaced pod's slot on it, marked
    isolated, not-isolated or overlap, and the kubelet's records of pods not probed there
    (``stale``: no such pod in the API; ``recorded``); and the pods in the host user namespace.
    ``nodes`` are the audit's ``nodes`` entries; ``all_pods_listed``: the pods listed were every
    pod of the API (all namespaces, no selector), so a record of none of them is stale."""
    overlapping = {
        (str(f.get("node")), name)
        for f in findings
        if f.get("kind") == "overlap"
        for name in f.get("pods") or []
    }
    entries = {str(n.get("name")): n for n in nodes if isinstance(n, Mapping)}
    by_node: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_node.setdefault(str(row.get("node") or ""), []).append(row)
    result = []
    for node, members in sorted(by_node.items()):
        ranged = [(r, found) for r in members if (found := _range(r)) is not None]
        pool = _pool_of(entries.get(node), members)
        first, last = (pool or {}).get("first"), (pool or {}).get("last")
        known = isinstance(first, int) and isinstance(last, int)
        if isinstance(first, int) and isinstance(last, int):
            low, high = first, last
        else:
            low = min((h[0] for _, h in ranged), default=0)
            high = max((h[1] for _, h in ranged), default=65535)
        slots: list[JSON] = []
        for r, (start, end) in ranged:
            name = f"{r.get('namespace')}/{r.get('name')}"
            if (node, name) in overlapping:
                state = "overlap"
            else:
                state = ISOLATED if r.get("verdict") == "ISOLATED" else NOT_ISOLATED
            slots.append(
                {"pod": name, "uid": str(r.get("uid") or ""), "start": start, "end": end,
                 "state": state}
            )  # fmt: skip
        slots += _record_slots(entries.get(node), all_pods_listed)
        slots.sort(key=lambda s: (s["start"], str(s["pod"]), s["uid"]))
        for slot in slots:
            low, high = min(low, slot["start"]), max(high, slot["end"])
        result.append(
            {
                "node": node,
                "low": low,
                "high": high,
                "poolKnown": known,
                "pool": None
                if pool is None
                else {"first": first, "last": last, "source": pool.get("source")},
                "slots": slots,
                "hostPods": [
                    f"{r.get('namespace')}/{r.get('name')}" for r in members if _range(r) is None
                ],
            }
        )
    return result


def _convert_command(kind: str, namespace: str, name: str) -> str:
    """The pipeline that converts one workload. A Pod's spec and a Job's pod template are
    immutable (kubernetes pkg/apis/core/validation ValidatePodUpdate; pkg/apis/batch/validation
    ValidateJobUpdate), so those are deleted and created again (``kubectl replace --force``);
    controllers with a mutable template roll out the change on ``kubectl apply``."""
    resource = {
        "Deployment": "deployment",
        "StatefulSet": "statefulset",
        "DaemonSet": "daemonset",
        "CronJob": "cronjob",
        "Job": "job",
        "Pod": "pod",
    }[kind]
    write = "kubectl replace --force -f -" if kind in ("Pod", "Job") else "kubectl apply -f -"
    return (
        f"kubectl get {resource}/{name} -n {namespace} -o yaml | kubectl userns convert -f - "
        f"| {write}"
    )


def build_plan(
    pods: Sequence[Mapping[str, Any]],
    *,
    replicasets: Sequence[Mapping[str, Any]] = (),
    jobs: Sequence[Mapping[str, Any]] = (),
    nodes: Sequence[Mapping[str, Any]] = (),
    audit_rows: Sequence[Mapping[str, Any]] | None = None,
    audit_findings: Sequence[Mapping[str, Any]] = (),
    audit_nodes: Sequence[Mapping[str, Any]] = (),
    all_pods_listed: bool = False,
    ids_per_pod: Mapping[str, int] | None = None,
    default_ids_per_pod: int = 65536,
) -> JSON:
    """The plan report: one entry per workload, the nodes, a summary and the exit code.

    ``audit_rows`` are ``kubectl userns audit`` rows of the same pods when the nodes were
    probed (``--verify``); without them hostUsers: false workloads are ``unverified``.
    ``audit_nodes``: the audit's ``nodes`` (the kubelet's pool and records of each);
    ``all_pods_listed``: ``pods`` are every pod of the API (see ``id_space``).
    """
    rs_by_uid = {str(_meta(r).get("uid")): r for r in replicasets}
    jobs_by_uid = {str(_meta(j).get("uid")): j for j in jobs}
    node_by_name = {str(_meta(n).get("name")): n for n in nodes}
    node_report = {
        name: {"name": name, "ready": not (p := node_problems(n)), "problems": p}
        for name, n in sorted(node_by_name.items())
    }
    rows_by_uid = {str(r.get("uid")): r for r in audit_rows or [] if isinstance(r, Mapping)}
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for pod in pods:
        kind, name = workload_of(pod, rs_by_uid, jobs_by_uid)
        namespace = str(_meta(pod).get("namespace") or "default")
        groups.setdefault((namespace, kind, name), []).append(pod)
    workloads = []
    for (namespace, kind, name), members in sorted(groups.items()):
        pod_names = sorted(str(_meta(p).get("name")) for p in members)
        on_nodes = sorted({_node_name(p) for p in members})
        on_nodes = [n for n in on_nodes if n]
        requested = all(_spec(p).get("hostUsers") is False for p in members)
        rows = [rows_by_uid[u] for p in members if (u := str(_meta(p).get("uid"))) in rows_by_uid]
        # the failing checks of pods that asked for a user namespace (a host-namespace pod
        # fails user-namespace-requested by definition: its blockers say more)
        failed = sorted(
            {c for r in rows for c in _list(r.get("failedChecks")) if isinstance(c, str)}
        )
        failed = failed if requested else []
        entry: JSON = {
            "namespace": namespace,
            "kind": kind,
            "name": name,
            "pods": pod_names,
            "nodes": on_nodes,
            "state": "",
            "failedChecks": failed,
            "readiness": None,
            "blockers": [],
            "warnings": [],
            "notReadyNodes": [],
            "convertCommand": None,
        }
        if requested:
            if audit_rows is None:
                entry["state"] = UNVERIFIED
            elif any(r.get("verdict") == "NOT ISOLATED" for r in rows):
                entry["state"] = NOT_ISOLATED
            elif rows and all(r.get("verdict") == "ISOLATED" for r in rows):
                entry["state"] = ISOLATED
            else:
                entry["state"] = UNVERIFIED
        else:
            entry["state"] = HOST_USERNS
            seen: set[tuple[str, str]] = set()
            for pod in members:
                node = _node_name(pod)
                ids = (ids_per_pod or {}).get(node, default_ids_per_pod)
                kernel = kernel_version(node_by_name[node]) if node in node_by_name else None
                for item in spec_blockers(pod, ids_per_pod=ids, kernel=kernel):
                    key = (item["field"], item["reason"])
                    if key in seen:
                        continue
                    seen.add(key)
                    target = "blockers" if item["severity"] == "blocker" else "warnings"
                    entry[target].append({"field": item["field"], "reason": item["reason"]})
            entry["notReadyNodes"] = [
                n for n in on_nodes if n in node_report and not node_report[n]["ready"]
            ]
            blocked = bool(entry["blockers"] or entry["notReadyNodes"])
            blocked = blocked or kind not in CONVERTIBLE_KINDS
            if kind not in CONVERTIBLE_KINDS | {"StaticPod", "ReplicaSet"}:
                entry["blockers"].append(
                    {"field": "metadata.ownerReferences", "reason": f"owned by a {kind}: set "
                     "hostUsers: false in the pod template of that resource"}
                )  # fmt: skip
            if kind == "StaticPod":
                entry["blockers"].append(
                    {"field": "metadata.annotations", "reason": "a static pod: edit its manifest "
                     "file on the node (the kubelet's staticPodPath), not the API object"}
                )  # fmt: skip
            elif kind == "ReplicaSet":
                entry["blockers"].append(
                    {"field": "metadata.ownerReferences", "reason": "a ReplicaSet without a "
                     "Deployment: convert whatever creates it"}
                )  # fmt: skip
            entry["readiness"] = BLOCKED if blocked else CONVERTIBLE
            if not blocked:
                entry["convertCommand"] = _convert_command(kind, namespace, name)
        workloads.append(entry)
    counts = {
        state: sum(1 for w in workloads if w["state"] == state)
        for state in (ISOLATED, NOT_ISOLATED, UNVERIFIED, HOST_USERNS)
    }
    convertible = sum(1 for w in workloads if w["readiness"] == CONVERTIBLE)
    if counts[NOT_ISOLATED] or counts[HOST_USERNS]:
        exit_code = EXIT_CHECK_FAILED
    elif counts[UNVERIFIED]:
        exit_code = EXIT_INCOMPLETE
    else:
        exit_code = EXIT_OK
    return {
        "apiVersion": PLAN_VERSION,
        "kind": "MigrationPlan",
        "verified": audit_rows is not None,
        "workloads": workloads,
        "nodes": list(node_report.values()),
        "idSpace": None
        if audit_rows is None
        else id_space(audit_rows, audit_findings, audit_nodes, all_pods_listed=all_pods_listed),
        "summary": {
            "workloads": len(workloads),
            "pods": sum(len(w["pods"]) for w in workloads),
            "isolated": counts[ISOLATED],
            "notIsolated": counts[NOT_ISOLATED],
            "unverified": counts[UNVERIFIED],
            "hostUserns": counts[HOST_USERNS],
            "convertible": convertible,
            "blocked": counts[HOST_USERNS] - convertible,
            "exitCode": exit_code,
        },
    }


def summary_line(plan: Mapping[str, Any]) -> str:
    s = plan["summary"]
    parts = [f"{s['isolated']} isolated", f"{s['notIsolated']} not isolated"]
    if s["unverified"]:
        parts.append(f"{s['unverified']} asking for a user namespace (not verified; add --verify)")
    parts.append(
        f"{s['hostUserns']} in the host user namespace ({s['convertible']} convertible, "
        f"{s['blocked']} blocked)"
    )
    return f"planned {s['workloads']} workload(s), {s['pods']} pod(s): {', '.join(parts)}"
