"""From pods to a migration plan (``kubectl userns plan``): which workloads can move to
``hostUsers: false``.

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

from kubectl_userns.checks.plan.blockers import kernel_version, node_problems, spec_blockers
from kubectl_userns.checks.plan.objects import workload_of
from kubectl_userns.checks.plan.report import (
    PLAN_VERSION,
    build_plan,
    id_space,
    summary_line,
)

__all__ = [
    "PLAN_VERSION",
    "build_plan",
    "id_space",
    "kernel_version",
    "node_problems",
    "spec_blockers",
    "summary_line",
    "workload_of",
]
