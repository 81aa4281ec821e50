"""Pod Security admission's baseline and restricted checks, per policy version 1.30 .. 1.37.

Encoded from kubernetes/pod-security-admission policy/*.go as read at the tags v0.30.0,
v0.33.0, v0.34.0, v0.35.0, v0.36.2 and master (1.37.0-alpha.2), with the default feature gates
(the alpha gate UserNamespacesPodSecurityStandards of 1.29-1.34 servers off; v0.35 removed it).
Each check keeps upstream's id, level and the minimum policy versions of its variants, as
registry.go picks them: the newest variant whose minimum is <= the policy version; a restricted
check's OverrideCheckIDs remove the baseline checks it replaces.

Checks of fields that nothing in these tests sets (AppArmor, SELinux options, sysctls, Windows
HostProcess, probe/lifecycle hosts, seccomp annotations) are not encoded: ``evaluate`` refuses a
pod that sets one of them rather than judge it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Version = tuple[int, int]
POLICY_VERSIONS: tuple[Version, ...] = tuple((1, minor) for minor in range(30, 38))
Spec = dict[str, Any]
CheckFn = Callable[[Spec], bool]  # True: allowed


def containers(spec: Spec) -> Iterator[dict[str, Any]]:
    """policy/visitor.go visitContainers: init, regular and ephemeral containers."""
    for group in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(group) or []


def _security(container: dict[str, Any]) -> dict[str, Any]:
    return container.get("securityContext") or {}


def _user_namespace(spec: Spec) -> bool:
    """helpers.go relaxPolicyForUserNamespacePod (v0.35+: no feature gate)."""
    return spec.get("hostUsers") is False


def _windows(spec: Spec) -> bool:
    return (spec.get("os") or {}).get("name") == "windows"


# --- baseline -------------------------------------------------------------------------------


def host_namespaces(spec: Spec) -> bool:  # check_hostNamespaces.go hostNamespaces_1_0
    return not any(spec.get(key) is True for key in ("hostNetwork", "hostPID", "hostIPC"))


def privileged(spec: Spec) -> bool:  # check_privileged.go privileged_1_0
    return not any(_security(c).get("privileged") is True for c in containers(spec))


BASELINE_CAPABILITIES = {  # check_capabilities_baseline.go capabilities_allowed_1_0
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip


def capabilities_baseline(spec: Spec) -> bool:
    return all(
        set((_security(c).get("capabilities") or {}).get("add") or []) <= BASELINE_CAPABILITIES
        for c in containers(spec)
    )


def host_path_volumes(spec: Spec) -> bool:  # check_hostPathVolumes.go hostPathVolumes_1_0
    return not any("hostPath" in v for v in spec.get("volumes") or [])


def host_ports(spec: Spec) -> bool:  # check_hostPorts.go hostPorts_1_0
    return not any(p.get("hostPort", 0) for c in containers(spec) for p in c.get("ports") or [])


def proc_mount_1_0(spec: Spec) -> bool:
    """check_procMount_baseline.go procMount_1_0: only Default (or unset), unconditionally (the
    user-namespace relaxation of v0.31-v0.34 needed the alpha gate)."""
    return all(_security(c).get("procMount", "Default") == "Default" for c in containers(spec))


def proc_mount_1_35_baseline(spec: Spec) -> bool:
    """procMount1_35baseline: any value for a pod with hostUsers: false."""
    return _user_namespace(spec) or proc_mount_1_0(spec)


def _seccomp_types(spec: Spec) -> Iterator[str | None]:
    pod = (spec.get("securityContext") or {}).get("seccompProfile")
    yield pod.get("type") if pod else None
    for c in containers(spec):
        profile = _security(c).get("seccompProfile")
        yield profile.get("type") if profile else None


def seccomp_baseline_1_19(spec: Spec) -> bool:
    """check_seccompProfile_baseline.go seccompProfileBaseline_1_19: never Unconfined."""
    return "Unconfined" not in set(_seccomp_types(spec))


# --- restricted -----------------------------------------------------------------------------

ALLOWED_VOLUMES = {  # check_restrictedVolumes.go restrictedVolumes_1_0 (image: v0.33+)
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
    "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip


def restricted_volumes(spec: Spec) -> bool:
    return all(set(v) - {"name"} <= ALLOWED_VOLUMES for v in spec.get("volumes") or [])


def allow_privilege_escalation_1_8(spec: Spec) -> bool:
    return all(_security(c).get("allowPrivilegeEscalation") is False for c in containers(spec))


def allow_privilege_escalation_1_25(spec: Spec) -> bool:  # Windows pods exempt from 1.25
    return _windows(spec) or allow_privilege_escalation_1_8(spec)


def run_as_non_root_1_0(spec: Spec) -> bool:
    """check_runAsNonRoot.go runAsNonRoot1_0: no false anywhere; every container true or
    covered by a pod-level true."""
    pod = (spec.get("securityContext") or {}).get("runAsNonRoot")
    if pod is False:
        return False
    for c in containers(spec):
        own = _security(c).get("runAsNonRoot")
        if own is False or (own is None and pod is not True):
            return False
    return True


def run_as_non_root_1_35(spec: Spec) -> bool:  # runAsNonRoot1_35
    return _user_namespace(spec) or run_as_non_root_1_0(spec)


def run_as_user_1_23(spec: Spec) -> bool:  # check_runAsUser.go runAsUser1_23: never UID 0
    if (spec.get("securityContext") or {}).get("runAsUser") == 0:
        return False
    return all(_security(c).get("runAsUser") != 0 for c in containers(spec))


def run_as_user_1_35(spec: Spec) -> bool:  # runAsUser1_35
    return _user_namespace(spec) or run_as_user_1_23(spec)


def seccomp_restricted_1_19(spec: Spec) -> bool:
    """check_seccompProfile_restricted.go: RuntimeDefault or Localhost, set on the pod or on
    every container."""
    pod_profile = (spec.get("securityContext") or {}).get("seccompProfile")
    valid = {"RuntimeDefault", "Localhost"}
    if pod_profile and pod_profile.get("type") not in valid:
        return False
    for c in containers(spec):
        profile = _security(c).get("seccompProfile")
        if profile is not None:
            if profile.get("type") not in valid:
                return False
        elif not pod_profile:
            return False
    return True


def seccomp_restricted_1_25(spec: Spec) -> bool:
    return _windows(spec) or seccomp_restricted_1_19(spec)


def capabilities_restricted_1_22(spec: Spec) -> bool:
    """check_capabilities_restricted.go: drop ALL; add nothing but NET_BIND_SERVICE."""
    for c in containers(spec):
        capabilities = _security(c).get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            return False
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            return False
    return True


def capabilities_restricted_1_25(spec: Spec) -> bool:
    return _windows(spec) or capabilities_restricted_1_22(spec)


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    versions: tuple[tuple[Version, CheckFn], ...]
    overrides: tuple[str, ...] = ()
    source: str = ""

    def variant(self, version: Version) -> CheckFn | None:
        chosen = None
        for minimum, fn in self.versions:
            if minimum <= version:
                chosen = fn
        return chosen


CHECKS: tuple[Check, ...] = (
    Check("hostNamespaces", "baseline", (((1, 0), host_namespaces),),
          source="policy/check_hostNamespaces.go"),
    Check("privileged", "baseline", (((1, 0), privileged),), source="policy/check_privileged.go"),
    Check("capabilities_baseline", "baseline", (((1, 0), capabilities_baseline),),
          source="policy/check_capabilities_baseline.go"),
    Check("hostPathVolumes", "baseline", (((1, 0), host_path_volumes),),
          source="policy/check_hostPathVolumes.go"),
    Check("hostPorts", "baseline", (((1, 0), host_ports),), source="policy/check_hostPorts.go"),
    Check("procMount", "baseline", (((1, 0), proc_mount_1_0), ((1, 35), proc_mount_1_35_baseline)),
          source="policy/check_procMount.go (v0.30-v0.34), check_procMount_baseline.go (v0.35+)"),
    Check("seccompProfile_baseline", "baseline", (((1, 19), seccomp_baseline_1_19),),
          source="policy/check_seccompProfile_baseline.go"),
    Check("restrictedVolumes", "restricted", (((1, 0), restricted_volumes),),
          overrides=("hostPathVolumes",), source="policy/check_restrictedVolumes.go"),
    Check("allowPrivilegeEscalation", "restricted",
          (((1, 8), allow_privilege_escalation_1_8), ((1, 25), allow_privilege_escalation_1_25)),
          source="policy/check_allowPrivilegeEscalation.go"),
    Check("runAsNonRoot", "restricted", (((1, 0), run_as_non_root_1_0),
                                         ((1, 35), run_as_non_root_1_35)),
          source="policy/check_runAsNonRoot.go"),
    Check("runAsUser", "restricted", (((1, 23), run_as_user_1_23), ((1, 35), run_as_user_1_35)),
          source="policy/check_runAsUser.go"),
    Check("seccompProfile_restricted", "restricted",
          (((1, 19), seccomp_restricted_1_19), ((1, 25), seccomp_restricted_1_25)),
          overrides=("seccompProfile_baseline",),
          source="policy/check_seccompProfile_restricted.go"),
    Check("capabilities_restricted", "restricted",
          (((1, 22), capabilities_restricted_1_22), ((1, 25), capabilities_restricted_1_25)),
          overrides=("capabilities_baseline",),
          source="policy/check_capabilities_restricted.go"),
    Check("procMount_restricted", "restricted", (((1, 35), proc_mount_1_0),),
          overrides=("procMount",), source="policy/check_procMount_restricted.go (v0.35+)"),
)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    failed: tuple[str, ...] = field(default=())


def _refuse_unencoded(spec: Spec, metadata: dict[str, Any]) -> None:
    annotations = metadata.get("annotations") or {}
    unencoded = [k for k in annotations if "apparmor" in k or "seccomp" in k]
    contexts = [spec.get("securityContext") or {}] + [_security(c) for c in containers(spec)]
    for context in contexts:
        unencoded += [k for k in ("appArmorProfile", "seLinuxOptions", "sysctls") if k in context]
        if (context.get("windowsOptions") or {}).get("hostProcess") is not None:
            unencoded.append("windowsOptions.hostProcess")
    for c in containers(spec):
        for probe in ("livenessProbe", "readinessProbe", "startupProbe", "lifecycle"):
            if probe in c:
                unencoded.append(probe)
    if unencoded:
        raise AssertionError(f"tests/psa.py does not encode the checks of {sorted(unencoded)}")


def evaluate(
    spec: Spec, level: str, version: Version, metadata: dict[str, Any] | None = None
) -> Verdict:
    """Pod Security ``level`` at policy ``version`` for a pod spec (registry.go EvaluatePod)."""
    _refuse_unencoded(spec, metadata or {})
    levels = ("baseline",) if level == "baseline" else ("baseline", "restricted")
    active = [(c, c.variant(version)) for c in CHECKS if c.level in levels]
    active = [(c, fn) for c, fn in active if fn is not None]
    overridden = {o for c, _ in active for o in c.overrides}
    failed = tuple(c.id for c, fn in active if c.id not in overridden and not fn(spec))
    return Verdict(not failed, failed)
