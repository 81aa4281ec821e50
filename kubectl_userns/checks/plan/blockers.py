"""What in a pod spec stops it from running in a user namespace (a blocker) or changes its
meaning there (a warning), and what in a node's API status stops a node."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from kubectl_userns.checks.node.kernel import IDMAP_SINCE
from kubectl_userns.checks.plan.objects import JSON, _list

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
        for entry in _list(status.get(kind)):
            if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                statuses[entry["name"]] = entry
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
        named = container.get("name")
        own_status = statuses.get(named, {}) if isinstance(named, str) else {}
        user = own_status.get("user")
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
    if kubelet is not None and kubelet >= (1, 31):
        listed = [h for h in _list(handlers) if isinstance(h, Mapping)]
        default = next((h for h in listed if not h.get("name")), listed[0] if listed else None)
        features = default.get("features") if isinstance(default, Mapping) else None
        if not isinstance(features, Mapping) or features.get("userNamespaces") is not True:
            problems.append(
                "no runtime handler reports userNamespaces support (status.runtimeHandlers): "
                "the kubelet refuses hostUsers: false pods (a runtime too old - CRI-O < 1.30, "
                "containerd < 2.0 - or the UserNamespacesSupport gate off)"
            )
    return problems
