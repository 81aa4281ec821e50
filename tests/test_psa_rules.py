"""The Pod Security rules of tests/psa.py, table-driven, per policy version 1.30 .. 1.37.

Each row names the upstream file (kubernetes/pod-security-admission, read at v0.30.0 .. v0.36.2
and master) whose behaviour it pins; new-pod's and convert's outputs are judged by these rules.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.psa import POLICY_VERSIONS, evaluate

ALL = set(POLICY_VERSIONS)
FROM_1_35 = {v for v in POLICY_VERSIONS if v >= (1, 35)}
NONE: set[tuple[int, int]] = set()

# restricted-clean at every version apart from the user fields under test
BASE: dict[str, Any] = {
    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "c",
            "image": "debian",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    ],
}


def pod(
    pod_fields: dict[str, Any] | None = None,
    container: dict[str, Any] | None = None,
    security: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    spec.update(pod_fields or {})
    spec["containers"][0].update(container or {})
    spec["containers"][0]["securityContext"].update(security or {})
    return spec


NON_ROOT = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}}
USERNS = {"hostUsers": False}

CASES = [
    # (id, spec, level, policy versions at which the pod is allowed, upstream source)
    ("userns-no-runAsNonRoot", pod(USERNS), "restricted", FROM_1_35,
     "policy/check_runAsNonRoot.go: runAsNonRoot1_35 relaxes for hostUsers: false; 1_0 does not"),
    ("host-no-runAsNonRoot", pod(), "restricted", NONE, "policy/check_runAsNonRoot.go"),
    ("host-runAsNonRoot", pod(NON_ROOT), "restricted", ALL, "policy/check_runAsNonRoot.go"),
    ("userns-runAsNonRoot-false", pod(USERNS, security={"runAsNonRoot": False}), "restricted",
     FROM_1_35, "policy/check_runAsNonRoot.go"),
    ("userns-runAsUser-0", pod({**USERNS, **NON_ROOT}, security={"runAsUser": 0}), "restricted",
     FROM_1_35, "policy/check_runAsUser.go: runAsUser1_35 relaxes; runAsUser1_23 forbids 0"),
    ("host-runAsUser-0", pod(NON_ROOT, security={"runAsUser": 0}), "restricted", NONE,
     "policy/check_runAsUser.go"),
    ("userns-runAsUser-1000", pod({**USERNS, **NON_ROOT}, security={"runAsUser": 1000}),
     "restricted", ALL, "policy/check_runAsUser.go"),
    ("userns-unmasked-baseline", pod(USERNS, security={"procMount": "Unmasked"}), "baseline",
     FROM_1_35, "policy/check_procMount_baseline.go: procMount1_35baseline (v0.35+)"),
    ("userns-unmasked-restricted", pod({**USERNS, **NON_ROOT}, security={"procMount": "Unmasked"}),
     "restricted", NONE, "policy/check_procMount_restricted.go: procMount_1_0 from 1.35"),
    ("host-unmasked-baseline", pod(security={"procMount": "Unmasked"}), "baseline", NONE,
     "policy/check_procMount_baseline.go procMount_1_0"),
    ("userns-default-procmount", pod({**USERNS, **NON_ROOT}, security={"procMount": "Default"}),
     "restricted", ALL, "policy/check_procMount_restricted.go"),
    ("userns-hostNetwork", pod({**USERNS, "hostNetwork": True}), "baseline", NONE,
     "policy/check_hostNamespaces.go: no exception for UserNamespacesHostNetworkSupport"),
    ("hostPID", pod({"hostPID": True}), "baseline", NONE, "policy/check_hostNamespaces.go"),
    ("privileged", pod(USERNS, security={"privileged": True}), "baseline", NONE,
     "policy/check_privileged.go"),
    ("seccomp-unconfined", pod({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}),
     "baseline", NONE, "policy/check_seccompProfile_baseline.go"),
    ("no-seccomp", pod({**USERNS, "securityContext": {"runAsNonRoot": True}}), "restricted",
     NONE, "policy/check_seccompProfile_restricted.go"),
    ("container-seccomp", pod({**USERNS, "securityContext": {"runAsNonRoot": True}},
                              security={"seccompProfile": {"type": "Localhost"}}),
     "restricted", ALL, "policy/check_seccompProfile_restricted.go"),
    ("escalation-unset", pod(NON_ROOT, security={"allowPrivilegeEscalation": None}),
     "restricted", NONE, "policy/check_allowPrivilegeEscalation.go"),
    ("add-net-bind", pod(NON_ROOT, security={"capabilities": {"drop": ["ALL"],
                                                              "add": ["NET_BIND_SERVICE"]}}),
     "restricted", ALL, "policy/check_capabilities_restricted.go"),
    ("no-drop-all", pod(NON_ROOT, security={"capabilities": {}}), "restricted", NONE,
     "policy/check_capabilities_restricted.go"),
    ("add-sys-admin", pod(security={"capabilities": {"add": ["SYS_ADMIN"]}}), "baseline", NONE,
     "policy/check_capabilities_baseline.go"),
    ("add-chown-baseline", pod(security={"capabilities": {"add": ["CHOWN"]}}), "baseline", ALL,
     "policy/check_capabilities_baseline.go"),
    ("windows-restricted",
     {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True},
      "containers": [{"name": "c", "image": "w"}]},
     "restricted", ALL, "policy/check_*_restricted.go *_1_25: Windows pods exempt"),
    ("hostPath", pod({**USERNS, "volumes": [{"name": "v", "hostPath": {"path": "/"}}]}),
     "baseline", NONE, "policy/check_hostPathVolumes.go"),
    ("nfs-baseline", pod({"volumes": [{"name": "v", "nfs": {"server": "s", "path": "/"}}]}),
     "baseline", ALL, "policy/check_hostPathVolumes.go"),
    ("nfs-restricted", pod({**NON_ROOT, "volumes": [{"name": "v", "nfs": {"server": "s",
                                                                        "path": "/"}}]}),
     "restricted", NONE, "policy/check_restrictedVolumes.go"),
    ("configmap-restricted", pod({**NON_ROOT, "volumes": [{"name": "v", "configMap": {}}]}),
     "restricted", ALL, "policy/check_restrictedVolumes.go"),
    ("hostPort", pod(container={"ports": [{"containerPort": 80, "hostPort": 80}]}), "baseline",
     NONE, "policy/check_hostPorts.go"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "level", "allowed_at", "source"),
    [pytest.param(*row[1:], id=row[0]) for row in CASES],
)
def test_rule_per_policy_version(
    spec: dict[str, Any], level: str, allowed_at: set[tuple[int, int]], source: str
) -> None:
    for version in POLICY_VERSIONS:
        verdict = evaluate(spec, level, version)
        assert verdict.allowed is (version in allowed_at), (version, verdict.failed, source)


def test_unencoded_fields_are_refused_not_judged() -> None:
    spec = pod(security={"seLinuxOptions": {"type": "spc_t"}})
    with pytest.raises(AssertionError, match="does not encode"):
        evaluate(spec, "baseline", (1, 35))
