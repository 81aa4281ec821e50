"""What ``inspect``'s checks are given: the pod as the API says, its processes as the node shows
them (each with its role), the idsPerPod in force and the range the kubelet allocated."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kubectl_userns.checks.idmap import IdMapping, SubIdRange, format_id_map, is_host_map
from kubectl_userns.probe.pod_dump import PodDump, ProcessInfo

DEFAULT_IDS_PER_POD = 65536
# kubernetes pkg/kubelet/types/pod_update.go ConfigMirrorAnnotationKey: a mirror pod carries
# the static pod's config hash, which the kubelet uses as the pod's UID on the node
# (pkg/kubelet/pod/mirror_client.go CreateMirrorPod, pkg/kubelet/config/common.go)
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
# CRI-O's own user namespaces, without hostUsers: server/sandbox_run_linux.go reads the
# annotation under its v1 key or the newer v2 key (cri-o pkg/annotations/v2/annotations.go
# V1UsernsMode, UsernsMode; GetAnnotationValue takes either), allowed per runtime handler
CRIO_USERNS_ANNOTATION = "io.kubernetes.cri-o.userns-mode"
CRIO_USERNS_ANNOTATION_V2 = "userns-mode.crio.io"


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
    kubelet_uid: str = ""  # the UID on the node: a mirror pod's config hash, else ``uid``
    annotations: tuple[tuple[str, str], ...] = ()
    running: tuple[str, ...] = ()  # names of the containers whose state is running

    @property
    def user_namespace_requested(self) -> bool:
        return self.host_users is False

    @property
    def node_uid(self) -> str:
        return self.kubelet_uid or self.uid

    def annotation(self, key: str) -> str | None:
        return dict(self.annotations).get(key)


_HASH = re.compile(r"[0-9a-f]{1,64}")


def pod_facts(pod: dict[str, Any]) -> PodFacts:
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    containers: dict[str, str] = {}
    running: list[str] = []
    for kind in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for entry in status.get(kind) or []:
            raw = entry.get("containerID") or ""
            if raw:
                containers[raw.split("://", 1)[-1]] = entry.get("name", "?")
            if "running" in (entry.get("state") or {}):
                running.append(str(entry.get("name", "?")))
    annotations = {
        str(k): str(v) for k, v in (meta.get("annotations") or {}).items() if isinstance(v, str)
    }
    uid = str(meta.get("uid", ""))
    mirror = annotations.get(MIRROR_ANNOTATION, "")
    # only a hash can name a cgroup and a directory: anything else is not used as a UID
    kubelet_uid = mirror if _HASH.fullmatch(mirror) else uid
    return PodFacts(
        namespace=meta.get("namespace", "default"),
        name=meta.get("name", "?"),
        uid=uid,
        node=spec.get("nodeName") or "",
        host_users=spec.get("hostUsers"),
        qos_class=status.get("qosClass") or "",
        containers=containers,
        kubelet_uid=kubelet_uid,
        annotations=tuple(sorted(annotations.items())),
        running=tuple(running),
    )


@dataclass(frozen=True)
class Classified:
    process: ProcessInfo
    container: str  # container name, or "" for processes that belong to no container
    container_id: str
    # "app" (a container's process), "sandbox" (containerd's pause or CRI-O's infra container:
    # the pod sandbox, whose ID is in no container status), "conmon" (CRI-O's monitor, in the
    # host user namespace), "infra" (other plumbing)
    role: str


_ID = re.compile(r"(?:crio-conmon-|crio-|cri-containerd-)?([0-9a-f]{64})(?:\.scope)?")


def _cgroup_id(cgroup: str) -> tuple[str, str]:
    """(prefix, 64-hex ID) of the runtime's cgroup in ``cgroup``'s last two parts, or ("", "")."""
    parts = cgroup.rstrip("/").split("/")
    for part in reversed(parts[-2:]):
        match = _ID.fullmatch(part)
        if match:
            return part[: match.start(1)], match.group(1)
    return "", ""


def classify(facts: PodFacts, processes: tuple[ProcessInfo, ...]) -> list[Classified]:
    """Match cgroup directories to containers by container ID; name the runtime's plumbing.

    A runtime cgroup whose ID is in no container status is the pod sandbox: containerd's pause
    (cri-containerd-<sandbox id>.scope, cgroupfs <pod>/<sandbox id>; containerd
    internal/cri/server/podsandbox/helpers_linux.go getCgroupsPath) or CRI-O's infra container
    (crio-<sandbox id>.scope).
    """
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
        if not cid:
            prefix, found = _cgroup_id(leaf)
            if proc.comm == "conmon" or prefix == "crio-conmon-":
                role = "conmon"
            elif found:
                cid, role = found, "sandbox"
        result.append(Classified(proc, name, cid, role))
    order = {"app": 0, "sandbox": 1, "conmon": 2, "infra": 3}
    result.sort(key=lambda c: (order[c.role], c.container, c.process.pid))
    return result


@dataclass(frozen=True)
class IdsPerPod:
    """The idsPerPod the node's kubelet allocates, and where that value comes from."""

    value: int
    source: str


def _minor(version: str) -> tuple[int, int] | None:
    match = re.match(r"v?(\d+)\.(\d+)", version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def ids_per_pod_in_force(
    config: dict[str, Any] | None,
    config_problem: str,
    kubelet_version: str,
    record_lengths: tuple[int, ...] = (),
) -> IdsPerPod:
    """idsPerPod as the node's kubelet applies it.

    ``userNamespaces.idsPerPod`` exists from 1.33 but is honoured only from 1.35 (kubernetes
    #133373, CHANGELOG-1.35): before that the kubelet allocates 65536. Without /configz the
    length of the kubelet's records on the node tells (kubernetes pkg/kubelet/userns
    userns_manager.go: every record has exactly idsPerPod IDs).
    """
    minor = _minor(kubelet_version)
    version = kubelet_version or "of unknown version"
    if config is None:
        why = config_problem or "unreadable"
        lengths = sorted(set(record_lengths))
        if len(lengths) == 1:
            return IdsPerPod(lengths[0], f"the kubelet's records on the node (configz: {why})")
        if minor is not None and minor < (1, 35):
            return IdsPerPod(
                DEFAULT_IDS_PER_POD, f"kubelet {version} allocates 65536 (configz: {why})"
            )
        return IdsPerPod(DEFAULT_IDS_PER_POD, f"default, not verified (configz: {why})")
    ids = (config.get("userNamespaces") or {}).get("idsPerPod")
    if not isinstance(ids, int) or isinstance(ids, bool) or ids <= 0:
        return IdsPerPod(DEFAULT_IDS_PER_POD, "default (configz sets no idsPerPod)")
    if minor is not None and minor < (1, 35) and ids != DEFAULT_IDS_PER_POD:
        return IdsPerPod(
            DEFAULT_IDS_PER_POD,
            f"kubelet {version} ignores configz idsPerPod {ids} (honoured from 1.35)",
        )
    return IdsPerPod(ids, "kubelet configz")


@dataclass(frozen=True)
class Allocation:
    """The host IDs the kubelet gave the pod: its record, else its pool (never a process's map)."""

    ranges: tuple[SubIdRange, ...]
    source: str

    def contains(self, host_id: int) -> bool:
        return any(r.start <= host_id < r.end for r in self.ranges)


def default_pool(ids_per_pod: int) -> SubIdRange:
    """The kubelet's pool when no ``kubelet`` user exists (userns-facts.md section 2)."""
    return SubIdRange(ids_per_pod, 2**32 - ids_per_pod)


# where the kubelet's pool comes from, as the reports name it (data, not prose)
POOL_GETSUBIDS = "getsubids"
POOL_SUBUID = "/etc/subuid"
POOL_DEFAULT = "default"


@dataclass(frozen=True)
class KubeletPool:
    """The kubelet's ID pool on a node: its ranges, where they come from (``POOL_*``) and the
    sentence the checks say about that source."""

    ranges: tuple[SubIdRange, ...]
    source: str
    detail: str

    def as_data(self) -> dict[str, Any]:
        """The pool as the reports carry it (docs/inspect-report.md ``kubeletPool``)."""
        ranges = [{"first": r.start, "last": r.end - 1, "count": r.count} for r in self.ranges]
        return {"source": self.source, **ranges[0], "ranges": ranges, "sourceDetail": self.detail}


def kubelet_pool(dump: PodDump, ids_per_pod: int) -> KubeletPool:
    """The kubelet's pool as the kubelet finds it: without a ``kubelet`` user its default pool,
    whatever /etc/subuid says; else ``getsubids kubelet``, else /etc/subuid (kubernetes
    pkg/kubelet/kubelet_pods.go getKubeletMappings; verify-node's kubelet_pool alike)."""
    if not dump.has_kubelet_user:
        unused = " and its kubelet lines in /etc/subuid are not used" if dump.subuid else ""
        return KubeletPool(
            (default_pool(ids_per_pod),),
            POOL_DEFAULT,
            f"the kubelet's default pool (no kubelet user{unused})",
        )
    if dump.getsubids_uid:
        return KubeletPool(tuple(dump.getsubids_uid), POOL_GETSUBIDS, "getsubids kubelet")
    if dump.subuid:
        return KubeletPool(tuple(dump.subuid), POOL_SUBUID, "/etc/subuid")
    return KubeletPool(
        (default_pool(ids_per_pod),),
        POOL_DEFAULT,
        "the kubelet's default pool (no kubelet range)",
    )


def pool_of(dump: PodDump, ids_per_pod: int) -> tuple[list[SubIdRange], str]:
    """The kubelet's pool (``kubelet_pool``) as ranges and the sentence naming its source."""
    pool = kubelet_pool(dump, ids_per_pod)
    return list(pool.ranges), pool.detail


def allocation_of(dump: PodDump, ids_per_pod: int) -> Allocation:
    if dump.record is not None and dump.record.uid_mappings:
        ranges = tuple(SubIdRange(m.outside, m.length) for m in dump.record.uid_mappings)
        return Allocation(ranges, f"the kubelet's record {format_id_map(dump.record.uid_mappings)}")
    pools, source = pool_of(dump, ids_per_pod)
    return Allocation(tuple(pools), f"the kubelet's pool ({source}; no record of this pod)")


def inside_range(mapping: tuple[IdMapping, ...], pod_map: tuple[IdMapping, ...]) -> bool:
    """Whether every line of ``mapping`` lies in the host range of ``pod_map``'s lines."""
    if not mapping or not pod_map or is_host_map(pod_map):
        return False
    return all(
        any(p.outside <= m.outside and m.host_end <= p.host_end for p in pod_map) for m in mapping
    )
