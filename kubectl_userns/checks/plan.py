"""From pods to a migration plan: which workloads can move to ``hostUsers: false``.

Pure functions over plain API objects (and, when the nodes were probed, the audit's rows):
``workload_of`` names the owner a pod belongs to, ``spec_blockers`` reads a pod spec for what
stops it from running in a user namespace, ``node_problems`` judges a node from its API status
alone, and ``build_plan`` assembles the plan report (the schema of ``kubectl userns plan -o
json``, documented in docs/plan-report.md).

Sources of the rules (re-check them there):
- hostNetwork/hostPID/hostIPC forbidden with hostUsers: false: kubernetes
  pkg/apis/core/validation/validation.go (validateHostUsers); hostNetwork allowed with the 1.35+
  alpha gate UserNamespacesHostNetworkSupport (KEP-5607);
- hostUsers rejected on Windows pods: validation.go (validateWindows: "hostUsers" forbidden when
  spec.os.name is windows);
- IDs usable inside the pod are 0..idsPerPod-1, others show as the overflow ID 65534
  (user_namespaces(7); the kubelet maps exactly idsPerPod IDs, pkg/kubelet/userns);
- idmapped mounts per filesystem: the kernel's FS_ALLOW_IDMAP list (see checks/node for the
  table), NFS never; Secrets, ConfigMaps, projected and downwardAPI volumes are tmpfs (6.3);
- raw block volumeDevices are not supported with user namespaces (KEP-127 README, "Volumes").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubectl_userns.checks.node.kernel import IDMAP_SINCE
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

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
OVERFLOW_ID = 65534
# Volume sources and the filesystem behind them on the node, for verify-node's table of the
# kernel releases that idmap each filesystem (checks/node/kernel.py IDMAP_SINCE).
VOLUME_FILESYSTEMS = {
    "secret": "tmpfs",
    "configMap": "tmpfs",
    "projected": "tmpfs",
    "downwardAPI": "tmpfs",
    "cephfs": "ceph",
}
# Capabilities whose meaning changes inside a user namespace: they apply to the pod's own
# namespace only, so what needs them on host resources stops working (capabilities(7),
# user_namespaces(7)).
NAMESPACED_CAPABILITIES = {
    "SYS_ADMIN": "mounts and namespace operations only inside the pod's own namespaces; host "
    "devices and most filesystems cannot be mounted",
    "NET_ADMIN": "acts on the pod's network namespace only, as before; nothing host-wide",
    "SYS_MODULE": "loading kernel modules is refused in a user namespace",
    "SYS_TIME": "setting the clock is refused in a user namespace",
    "SYS_RAWIO": "raw I/O on host devices is refused in a user namespace",
    "MKNOD": "device nodes made inside cannot be opened unless bind-mounted from the host",
    "DAC_READ_SEARCH": "open_by_handle_at and host-wide DAC overrides stop working",
    "SYS_PTRACE": "only processes of the pod's own user namespace can be traced",
}


def _map(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one: API objects can have any shape."""
    return value if isinstance(value, Mapping) else {}


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _map(obj.get("metadata"))


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _map(obj.get("spec"))


def _node_name(pod: Mapping[str, Any]) -> str:
    name = _spec(pod).get("nodeName")
    return name if isinstance(name, str) else ""


def _range(row: Mapping[str, Any]) -> tuple[int, int] | None:
    """An audit row's host range ``[start, end]``, when it is one."""
    value = row.get("hostRange")
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return int(value[0]), int(value[1])
    return None


def _owner(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The controlling owner reference of ``obj``, or None."""
    refs = _meta(obj).get("ownerReferences")
    if not isinstance(refs, list):
        return None
    refs = [r for r in refs if isinstance(r, Mapping)]
    controller = [r for r in refs if r.get("controller")]
    found = controller or refs
    return found[0] if found else None


def workload_of(
    pod: Mapping[str, Any],
    replicasets: Mapping[str, Mapping[str, Any]],
    jobs: Mapping[str, Mapping[str, Any]],
) -> tuple[str, str]:
    """``(kind, name)`` of the workload ``pod`` belongs to, in the pod's namespace.

    Deployments through their ReplicaSet, CronJobs through their Job (``replicasets`` and
    ``jobs`` by UID), StatefulSets and DaemonSets directly; a static pod's mirror by its name
    without the ``-<node>`` suffix the kubelet adds (pkg/kubelet/config/common.go); anything
    else is its own workload (kind Pod).
    """
    meta = _meta(pod)
    name = str(meta.get("name") or "?")
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), Mapping) else {}
    owner = _owner(pod)
    if MIRROR_ANNOTATION in (annotations or {}) or (owner and owner.get("kind") == "Node"):
        node = _node_name(pod)
        base = name.removesuffix(f"-{node}") if node and name.endswith(f"-{node}") else name
        return "StaticPod", base
    if owner is None:
        return "Pod", name
    kind, owner_name = str(owner.get("kind") or "?"), str(owner.get("name") or "?")
    uid = str(owner.get("uid") or "")
    if kind == "ReplicaSet":
        parent = _owner(replicasets.get(uid) or {})
        if parent and parent.get("kind") == "Deployment":
            return "Deployment", str(parent.get("name") or "?")
        return "ReplicaSet", owner_name
    if kind == "Job":
        parent = _owner(jobs.get(uid) or {})
        if parent and parent.get("kind") == "CronJob":
            return "CronJob", str(parent.get("name") or "?")
        return "Job", owner_name
    return kind, owner_name


def _blocker(field: str, reason: str, severity: str = "blocker") -> JSON:
    return {"field": field, "severity": severity, "reason": reason}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _id_blockers(where: str, ctx: Mapping[str, Any], ids_per_pod: int) -> list[JSON]:
    found = []
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        value = _int(ctx.get(key))
        if value is not None and value >= ids_per_pod:
            found.append(
                _blocker(
                    f"{where}.{key}",
                    f"{key} {value} is outside the pod's {ids_per_pod} IDs (0-{ids_per_pod - 1}):"
                    f" inside the user namespace it has no mapping (shown as {OVERFLOW_ID}) and "
                    "the container fails to start",
                )
            )
    groups = ctx.get("supplementalGroups")
    if isinstance(groups, list):
        high = [g for g in groups if (_int(g) or 0) >= ids_per_pod]
        if high:
            found.append(
                _blocker(
                    f"{where}.supplementalGroups",
                    f"supplemental groups {', '.join(map(str, high))} are outside the pod's "
                    f"{ids_per_pod} IDs",
                )
            )
    return found


def _containers(spec: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for kind in ("initContainers", "containers"):
        entries = spec.get(kind)
        if isinstance(entries, list):
            for i, c in enumerate(entries):
                if isinstance(c, Mapping):
                    yield f"spec.{kind}[{i}]", c


def spec_blockers(
    pod: Mapping[str, Any], *, ids_per_pod: int, kernel: tuple[int, int] | None = None
) -> list[JSON]:
    """What in ``pod`` stops it (blocker) or changes it (warning) under ``hostUsers: false``.

    ``kernel`` is the node's kernel version when known (from ``status.nodeInfo``): it decides
    whether tmpfs-backed volumes can be idmapped; a distribution kernel may have backported it,
    so that one is a warning, never a blocker.
    """
    spec = pod.get("spec") if isinstance(pod.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    found: list[JSON] = []
    os_name = (spec.get("os") or {}).get("name") if isinstance(spec.get("os"), Mapping) else None
    if os_name == "windows":
        found.append(
            _blocker("spec.os.name", "Windows pods cannot set hostUsers (the API rejects it)")
        )
    for key in ("hostPID", "hostIPC"):
        if spec.get(key) is True:
            found.append(_blocker(f"spec.{key}", f"{key} is forbidden with hostUsers: false"))
    if spec.get("hostNetwork") is True:
        found.append(
            _blocker(
                "spec.hostNetwork",
                "hostNetwork is forbidden with hostUsers: false (allowed only on 1.35+ clusters "
                "with the alpha gate UserNamespacesHostNetworkSupport)",
            )
        )
    pod_ctx = spec.get("securityContext")
    if isinstance(pod_ctx, Mapping):
        found += _id_blockers("spec.securityContext", pod_ctx, ids_per_pod)
    statuses = {}
    status = pod.get("status") if isinstance(pod.get("status"), Mapping) else {}
    assert isinstance(status, Mapping)
    for kind in ("initContainerStatuses", "containerStatuses"):
        for entry in status.get(kind) or []:
            if isinstance(entry, Mapping):
                statuses[entry.get("name")] = entry
    for where, container in _containers(spec):
        ctx = container.get("securityContext")
        if isinstance(ctx, Mapping):
            found += _id_blockers(f"{where}.securityContext", ctx, ids_per_pod)
            if ctx.get("privileged") is True:
                found.append(
                    _blocker(
                        f"{where}.securityContext.privileged",
                        "privileged in a user namespace: the capabilities hold only inside "
                        "the pod's namespaces; host devices and host-wide settings are out of "
                        "reach",
                        "warning",
                    )
                )
            caps = ctx.get("capabilities")
            added = caps.get("add") if isinstance(caps, Mapping) else None
            for cap in added if isinstance(added, list) else []:
                name = str(cap).upper().removeprefix("CAP_")
                if name in NAMESPACED_CAPABILITIES:
                    found.append(
                        _blocker(
                            f"{where}.securityContext.capabilities.add",
                            f"{name}: {NAMESPACED_CAPABILITIES[name]}",
                            "warning",
                        )
                    )
        if container.get("volumeDevices"):
            found.append(
                _blocker(
                    f"{where}.volumeDevices",
                    "raw block volumes are not supported with user namespaces",
                )
            )
        # the image's USER as the kubelet reports it (status.containerStatuses[].user, 1.31+)
        user = (statuses.get(container.get("name")) or {}).get("user")
        linux = user.get("linux") if isinstance(user, Mapping) else None
        if isinstance(linux, Mapping):
            uid = _int(linux.get("uid"))
            if uid is not None and uid >= ids_per_pod:
                found.append(
                    _blocker(
                        f"{where} (image USER)",
                        f"the container runs as UID {uid} (status.containerStatuses user), "
                        f"outside the pod's {ids_per_pod} IDs",
                    )
                )
    volumes = spec.get("volumes")
    for i, volume in enumerate(volumes if isinstance(volumes, list) else []):
        if not isinstance(volume, Mapping):
            continue
        where = f"spec.volumes[{i}]"
        if "nfs" in volume:
            found.append(_blocker(f"{where}.nfs", "NFS cannot be idmapped (no kernel supports it)"))
        elif "hostPath" in volume:
            found.append(
                _blocker(
                    f"{where}.hostPath",
                    "hostPath: works only where the node's filesystem supports idmapped mounts "
                    "(ext4, xfs, btrfs, ...); check with kubectl userns verify-node --probe",
                    "warning",
                )
            )
        elif kernel is not None:
            memory = (
                (volume.get("emptyDir") or {}).get("medium")
                if isinstance(volume.get("emptyDir"), Mapping)
                else None
            )
            kinds = [(k, fs) for k, fs in VOLUME_FILESYSTEMS.items() if k in volume]
            if memory == "Memory":
                kinds.append(("emptyDir", "tmpfs"))
            elif memory == "HugePages" or str(memory or "").startswith("HugePages-"):
                kinds.append(("emptyDir", "hugetlbfs"))
            for kind, fs in kinds[:1]:
                since = IDMAP_SINCE[fs][:2]
                if kernel < since:
                    found.append(
                        _blocker(
                            f"{where}.{kind}",
                            f"{kind} volumes are {fs}, which the node's kernel "
                            f"{kernel[0]}.{kernel[1]} cannot idmap ({since[0]}.{since[1]}+) "
                            "unless its distribution backported it",
                            "warning",
                        )
                    )
    return found


def kernel_version(node: Mapping[str, Any]) -> tuple[int, int] | None:
    status = node.get("status")
    info = status.get("nodeInfo") if isinstance(status, Mapping) else None
    release = str((info if isinstance(info, Mapping) else {}).get("kernelVersion") or "")
    match = re.match(r"(\d+)\.(\d+)", release)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _version(text: str) -> tuple[int, int] | None:
    match = re.search(r"v?(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def node_problems(node: Mapping[str, Any]) -> list[str]:
    """Why ``node`` cannot run ``hostUsers: false`` pods, from its API status alone.

    The kubelet reports ``status.runtimeHandlers[].features.userNamespaces`` from 1.31
    (kubernetes/api core/v1 types.go; pkg/kubelet/nodestatus), and from 1.30 refuses a user
    namespace pod unless the handler supports it. The node's own checks (pool, gate,
    filesystems) need ``kubectl userns verify-node``.
    """
    status = node.get("status") if isinstance(node.get("status"), Mapping) else {}
    assert isinstance(status, Mapping)
    info = status.get("nodeInfo") if isinstance(status.get("nodeInfo"), Mapping) else {}
    assert isinstance(info, Mapping)
    problems = []
    if str(info.get("operatingSystem") or "linux") != "linux":
        problems.append(f"{info.get('operatingSystem')} node: user namespaces are Linux only")
    kubelet = _version(str(info.get("kubeletVersion") or ""))
    if kubelet is not None and kubelet < (1, 25):
        problems.append(f"kubelet {info.get('kubeletVersion')} predates user namespaces (1.25+)")
    handlers = status.get("runtimeHandlers")
    if kubelet is not None and kubelet >= (1, 31) and isinstance(handlers, list):
        default = next(
            (h for h in handlers if isinstance(h, Mapping) and not h.get("name")),
            handlers[0] if handlers else None,
        )
        features = (default or {}).get("features") if isinstance(default, Mapping) else None
        if not isinstance(features, Mapping) or features.get("userNamespaces") is not True:
            problems.append(
                "the runtime handler does not report userNamespaces support "
                "(status.runtimeHandlers): the kubelet refuses hostUsers: false pods"
            )
    return problems


def _pool_of(rows: Sequence[Mapping[str, Any]]) -> tuple[int, int] | None:
    """The kubelet's pool on a node as the audit's subid-pool check found it."""
    for row in rows:
        checks = row.get("checks")
        for check in checks if isinstance(checks, list) else []:
            check = _map(check)
            if check.get("id") == "subid-pool" and check.get("status") == "PASS":
                found = re.search(r"inside (\d+)-(\d+)", str(check.get("detail")))
                if found:
                    return int(found.group(1)), int(found.group(2))
    return None


def id_space(
    rows: Sequence[Mapping[str, Any]], findings: Sequence[Mapping[str, Any]] = ()
) -> list[JSON]:
    """Per node, from the audit: the ID range to draw (the kubelet's pool when the probe found
    it, widened to every pod's range) and each user-namespaced pod's slot on it, marked
    isolated, not-isolated or overlap; and the pods in the host user namespace."""
    overlapping = {
        (str(f.get("node")), name)
        for f in findings
        if f.get("kind") == "overlap"
        for name in f.get("pods") or []
    }
    by_node: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_node.setdefault(str(row.get("node") or ""), []).append(row)
    nodes = []
    for node, members in sorted(by_node.items()):
        ranged = [(r, found) for r in members if (found := _range(r)) is not None]
        pool = _pool_of(members)
        low = pool[0] if pool else min((h[0] for _, h in ranged), default=0)
        high = pool[1] if pool else max((h[1] for _, h in ranged), default=65535)
        slots = []
        for r, (start, end) in sorted(ranged, key=lambda rh: (rh[1][0], str(rh[0].get("name")))):
            low, high = min(low, start), max(high, end)
            name = f"{r.get('namespace')}/{r.get('name')}"
            if (node, name) in overlapping:
                state = "overlap"
            else:
                state = ISOLATED if r.get("verdict") == "ISOLATED" else NOT_ISOLATED
            slots.append({"pod": name, "start": start, "end": end, "state": state})
        nodes.append(
            {
                "node": node,
                "low": low,
                "high": high,
                "poolKnown": pool is not None,
                "slots": slots,
                "hostPods": [
                    f"{r.get('namespace')}/{r.get('name')}" for r in members if _range(r) is None
                ],
            }
        )
    return nodes


def _convert_command(kind: str, namespace: str, name: str) -> str:
    resource = {
        "Deployment": "deployment",
        "StatefulSet": "statefulset",
        "DaemonSet": "daemonset",
        "CronJob": "cronjob",
        "Job": "job",
        "ReplicaSet": "replicaset",
        "Pod": "pod",
    }[kind]
    return (
        f"kubectl get {resource}/{name} -n {namespace} -o yaml | kubectl userns convert -f - "
        "| kubectl apply -f -"
    )


def build_plan(
    pods: Sequence[Mapping[str, Any]],
    *,
    replicasets: Sequence[Mapping[str, Any]] = (),
    jobs: Sequence[Mapping[str, Any]] = (),
    nodes: Sequence[Mapping[str, Any]] = (),
    audit_rows: Sequence[Mapping[str, Any]] | None = None,
    audit_findings: Sequence[Mapping[str, Any]] = (),
    ids_per_pod: Mapping[str, int] | None = None,
    default_ids_per_pod: int = 65536,
) -> JSON:
    """The plan report: one entry per workload, the nodes, a summary and the exit code.

    ``audit_rows`` are ``kubectl userns audit`` rows of the same pods when the nodes were
    probed (``--verify``); without them hostUsers: false workloads are ``unverified``.
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
            {str(c) for r in rows for c in (r.get("failedChecks") or []) if isinstance(c, str)}
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
            blocked = blocked or kind in ("StaticPod", "ReplicaSet")
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
        "idSpace": None if audit_rows is None else id_space(audit_rows, audit_findings),
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
