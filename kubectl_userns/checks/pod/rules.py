"""inspect's checks, one function each, registered in the catalogue (see catalogue.py).

Order matters: it is the order of the report. Sources name the upstream code (repo/path) or
document a rule rests on; userns-facts.md holds the longer story of each.
"""

from __future__ import annotations

from kubectl_userns.checks.idmap import MAX_ID, IdMapping, format_id_map, ranges_overlap
from kubectl_userns.checks.kubelet_root import missing_root
from kubectl_userns.checks.pod.catalogue import (
    FAIL,
    HOST,
    PASS,
    USERNS,
    WARN,
    PodView,
    Result,
    check,
    in_host_namespace,
    maps_text,
    pids,
)
from kubectl_userns.checks.pod.facts import (
    CRIO_USERNS_ANNOTATION,
    CRIO_USERNS_ANNOTATION_V2,
    pool_of,
)

KEP = "kubernetes/enhancements keps/sig-node/127-user-namespaces"
USERNS_MANAGER = "kubernetes pkg/kubelet/userns/userns_manager.go"


@check(
    "no-host-root",
    pods=USERNS,
    reads="/proc/PID/status Uid of the pod's processes",
    rule="no process of the pod runs as host UID 0 (shown only when one does)",
    source=f"{KEP}: container root maps to an unprivileged host ID",
)
def _no_host_root_userns(view: PodView) -> Result:
    root = [c for c in view.judged if 0 in c.process.uids]
    if not root:
        return None
    return FAIL, f"HOST ROOT: PIDs {pids(root)} run as UID 0 on the node"


@check(
    "running-containers",
    pods=USERNS,
    reads="the API's container states, the sandbox process in the pod's cgroup",
    rule="shown only when no container runs: the pod is then judged from its sandbox",
    source="containerd internal/cri/server/podsandbox/sandbox_run_linux.go (pause holds the "
    "pod's user namespace); kubernetes pkg/kubelet/kubelet_pods.go getPhase",
)
def _running_containers(view: PodView) -> Result:
    if view.apps or not view.sandbox:
        return None
    waiting = ", ".join(sorted(set(view.facts.containers.values()))) or "none"
    return WARN, (
        f"no container runs (containers {waiting} are not running: CrashLoopBackOff?); judged "
        f"from the pod's sandbox (PID {pids(view.sandbox)}), which holds the pod's user "
        "namespace"
    )


@check(
    "private-userns",
    pods=USERNS,
    reads="/proc/PID/ns/user, uid_map of the pod's processes; the probe shell's namespace",
    rule="no process of the pod runs in the host user namespace",
    source=f"{KEP}; user_namespaces(7)",
)
def _private_userns(view: PodView) -> Result:
    host_ns = view.dump.host_userns
    in_host = [c for c in view.judged if in_host_namespace(view, c)]
    if in_host:
        return FAIL, f"PIDs {pids(in_host)} run in the host user namespace {host_ns}"
    sandbox = f"the pod's sandbox (PID {pids(view.sandbox)})" if view.sandbox else ""
    if not view.apps:
        return PASS, f"{sandbox} runs outside the host user namespace {host_ns}"
    if len(view.apps) > 1:
        what = f"all {len(view.apps)} container processes"
    else:
        what = "the container process"
    plural = len(view.apps) > 1 or bool(sandbox)
    what += f" and {sandbox}" if sandbox else ""
    return PASS, f"{what} {'run' if plural else 'runs'} outside the host user namespace {host_ns}"


@check(
    "shared-userns",
    pods=USERNS,
    reads="/proc/PID/ns/user and uid_map of the pod's processes",
    rule="the pod's processes share one user namespace; processes in nested namespaces whose "
    "maps lie inside the pod's range (rootless podman, buildah) are reported, not failed",
    source=f"{USERNS_MANAGER} (one range per pod); user_namespaces(7) (nesting)",
)
def _shared_userns(view: PodView) -> Result:
    ns, pod_map = view.pod_namespace, view.pod_map
    if not ns:
        return FAIL, "no process of the pod to compare"
    strays, nested = view.strays, view.nested
    if strays:
        others = sorted({c.process.userns for c in strays})
        return FAIL, (
            f"the pod's processes sit in {len(others) + 1} user namespaces: PIDs "
            f"{pids(strays)} in {', '.join(others)} with maps {maps_text(strays)}, outside the "
            f"pod's {ns} with uid_map {format_id_map(pod_map)}"
        )
    detail = f"all containers share {ns} with uid_map {format_id_map(pod_map)}"
    if nested:
        detail += (
            f"; PIDs {pids(nested)} run in nested user namespaces inside the pod's range "
            f"(maps {maps_text(nested)})"
        )
    return PASS, detail


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


@check(
    "map-shape",
    pods=USERNS,
    reads="uid_map of the pod's user namespace; idsPerPod in force (configz by kubelet "
    "version, else the records' length)",
    rule="one line, inside 0, idsPerPod IDs, hostId a multiple of idsPerPod and >= idsPerPod, "
    "below 2^32-1",
    source=f"{USERNS_MANAGER} allocateOne, kubernetes#133373 (idsPerPod honoured from 1.35)",
)
def _map_shape(view: PodView) -> Result:
    mapping, ids = view.pod_map, view.ids.value
    problems = _map_shape_problems(mapping, ids)
    if problems:
        return FAIL, "; ".join(problems) + f" (idsPerPod from {view.ids.source})"
    return PASS, (
        f"one line, inside 0, {ids} IDs, hostId {mapping[0].outside} = "
        f"{mapping[0].outside // ids} x {ids} (idsPerPod from {view.ids.source})"
    )


@check(
    "gid-map",
    pods=USERNS,
    reads="uid_map and gid_map of the pod's processes",
    rule="every process's gid_map equals its uid_map",
    source=f"{USERNS_MANAGER} (the kubelet gives identical UID and GID mappings)",
)
def _gid_map(view: PodView) -> Result:
    differing = [c for c in view.judged if c.process.gid_map != c.process.uid_map]
    if differing:
        return FAIL, f"gid_map differs from uid_map for PIDs {pids(differing)}"
    return PASS, "gid_map equals uid_map"


@check(
    "ids-in-range",
    pods=USERNS,
    reads="/proc/PID/status Uid/Gid of the pod's processes; the kubelet's record, else its pool",
    rule="every host UID and GID lies in what the kubelet allocated (its record of the pod, "
    "else its pool), never judged by the process's own map",
    source=f"{USERNS_MANAGER} (the record is the allocation); kubernetes pkg/kubelet/"
    "kubelet_pods.go getKubeletMappings (the pool)",
)
def _ids_in_range(view: PodView) -> Result:
    allocation = view.allocation
    outside = []
    for c in view.judged:
        bad = [i for i in (*c.process.uids, *c.process.gids) if not allocation.contains(i)]
        if bad:
            outside.append(f"{c.process.pid} (host ID {bad[0]})")
    if outside:
        return FAIL, (f"PIDs {', '.join(outside)} run with host IDs outside {allocation.source}")
    return PASS, f"every process's host UIDs and GIDs lie inside {allocation.source}"


@check(
    "kubelet-record",
    pods=USERNS,
    reads="`<kubelet root>/pods/<kubelet UID>/userns` (the root: --kubelet-root, else the "
    "running kubelet's --root-dir, else /var/lib/kubelet); uid_map of the pod's user namespace",
    rule="the pod runs with the mapping the kubelet recorded (a static pod's record is under "
    "its config hash)",
    source=f"{USERNS_MANAGER} (record file); kubernetes pkg/kubelet/config/common.go (static "
    "pod UID)",
)
def _record(view: PodView) -> Result:
    dump, mapping = view.dump, view.pod_map
    root = dump.kubelet_root
    if dump.record is None and root is not None and root.state != "dir":
        # the root was taken as verify-node takes it, and worded as its kubelet-root check does
        what, fix = missing_root(root, any(p.accepted for p in dump.kubelet_processes))
        return WARN, f"no record to compare: the kubelet root {what}; {fix}"
    if dump.record is None:
        where = f" in {root.path}" if root is not None else ""
        return WARN, (
            f"the kubelet's userns record of this pod{where} is {dump.record_problem}; "
            "cannot compare"
        )
    recorded = dump.record.uid_mappings
    if recorded != mapping or dump.record.gid_mappings != recorded:
        return FAIL, (
            f"the kubelet allocated {format_id_map(recorded)} but the processes run with "
            f"{format_id_map(mapping)}"
        )
    return PASS, f"matches the kubelet's record {format_id_map(recorded)}"


@check(
    "subid-pool",
    pods=USERNS,
    reads="the kubelet user; getsubids kubelet, else /etc/subuid; uid_map of the pod's user "
    "namespace",
    rule="the pod's range lies inside the kubelet's pool (without a kubelet user its default "
    "pool, whatever /etc/subuid says)",
    source="kubernetes pkg/kubelet/kubelet_pods.go getKubeletMappings",
)
def _pool(view: PodView) -> Result:
    mapping = view.pod_map
    if not mapping:
        return FAIL, "no mapping to place in the pool"
    pools, source = pool_of(view.dump, view.ids.value)
    inside = [p for p in pools if all(p.contains(m) for m in mapping)]
    if inside:
        return PASS, f"inside {inside[0]} from {source}"
    listed = ", ".join(str(p) for p in pools)
    return FAIL, f"{format_id_map(mapping)} lies outside {listed} ({source})"


@check(
    "no-overlap",
    pods=USERNS,
    reads="the other pods' kubelet records and one process of each other pod, under the "
    "kubepods cgroup where this pod was found",
    rule="the pod's range overlaps no other pod's",
    source=f"{USERNS_MANAGER} (a range is given to one pod at a time)",
)
def _overlap(view: PodView) -> Result:
    dump, mapping = view.dump, view.pod_map
    if not mapping:
        return FAIL, "no mapping to compare"
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
        return FAIL, "shares host IDs with " + "; ".join(clashes)
    return PASS, f"no overlap with the {compared} other ranges seen on the node"


@check(
    "user-namespace-requested",
    pods=HOST,
    reads="spec.hostUsers; the user namespace of the pod's processes; the pod's annotations",
    rule="fails: the pod does not ask for a user namespace; a warning instead when the runtime "
    "gave it one of its own (CRI-O's io.kubernetes.cri-o.userns-mode)",
    source="kubernetes/api core/v1 types.go PodSpec.HostUsers; cri-o server/"
    "sandbox_run_linux.go (userns-mode annotation)",
)
def _requested(view: PodView) -> Result:
    own = [c for c in view.apps if not in_host_namespace(view, c)]
    if own and len(own) == len(view.apps):
        key = next(
            (
                k
                for k in (CRIO_USERNS_ANNOTATION, CRIO_USERNS_ANNOTATION_V2)
                if view.facts.annotation(k)
            ),
            None,
        )
        by = (
            f"CRI-O made from the annotation {key}: {view.facts.annotation(key)}"
            if key is not None
            else "the runtime made without the kubelet"
        )
        return WARN, (
            f"spec.hostUsers is not false, but the pod runs in a user namespace of its own "
            f"(uid_map {maps_text(tuple(own))}) that {by}; the kubelet neither allocated nor "
            "checks its range: set spec.hostUsers: false (kubectl userns convert does it)"
        )
    return FAIL, (
        "spec.hostUsers is not false: the pod runs in the host user namespace; set "
        "spec.hostUsers: false (kubectl userns convert does it)"
    )


@check(
    "no-host-root",
    pods=HOST,
    reads="/proc/PID/status Uid of the containers' processes",
    rule="no container process runs as host UID 0 (a warning while the IDs are the host's)",
    source=f"{KEP} (motivation: container root is host root without a user namespace)",
)
def _no_host_root_host(view: PodView) -> Result:
    root = [c for c in view.apps if 0 in c.process.uids]
    if root:
        return FAIL, f"HOST ROOT: PIDs {pids(root)} run as UID 0 on the node"
    if view.apps and not any(in_host_namespace(view, c) for c in view.apps):
        return PASS, "no process runs as host root; their IDs are those of their user namespace"
    return WARN, "no process runs as host root, but its IDs are the host's own"
