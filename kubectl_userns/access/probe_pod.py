"""The probe pod of ``--via pod``: its manifest, the options it is made with and how its log
holds the probe's stdout and stderr - pure data; :mod:`.via_pod` runs it through the API.

What the probe pod gets, and why (the least that lets the probe see what SSH would):

* ``hostPID: true`` - the node's process table in ``/proc``: the pods' processes, their
  ``status``, ``uid_map``, ``gid_map``, ``cgroup`` and ``ns/user`` link.
* ``capabilities: drop ALL, add SYS_PTRACE`` - reading another user's ``/proc/PID/ns/user``
  needs ``PTRACE_MODE_READ``, which root gets only with ``CAP_SYS_PTRACE``. Nothing else: the
  container is not privileged, ``allowPrivilegeEscalation: false``, read-only root filesystem,
  ``seccompProfile: RuntimeDefault``, no service-account token.
* read-only ``hostPath`` mounts at the node's own paths: ``/sys/fs/cgroup`` (the pods' cgroup
  directories; type Directory), the kubelet root (``pods/UID/userns`` records; Directory),
  ``/etc/subuid``, ``/etc/subgid`` (the kubelet's ID pool; type File: no empty directory is made
  in their place), ``/etc/passwd`` (is there a ``kubelet`` user?); an ``emptyDir`` ``/tmp``.
* ``restartPolicy: Never``, ``activeDeadlineSeconds``, ``terminationGracePeriodSeconds: 0``,
  a toleration of every taint (the probe must reach every node), and the labels
  ``app.kubernetes.io/managed-by=kubectl-userns`` and ``kubectl-userns/run=<id of this run>``,
  so leftovers are easy to find:
  ``kubectl get pods -A -l app.kubernetes.io/managed-by=kubectl-userns``.

``verify-node`` reads files anywhere on the node and runs the node's own binaries: its pod
instead mounts the node's ``/`` read-only at ``/host`` (the only hostPath) and runs the probe
with ``chroot /host`` (``capabilities: add SYS_CHROOT``, and ``SYS_PTRACE`` to read which
binary a process named kubelet runs: only a real kubelet's command line is believed).
``verify-node --probe`` creates a user namespace and mounts, which the kernel refuses in a
chroot and without ``CAP_SYS_ADMIN``: only then is the pod privileged, entering the mount
namespace of the node's PID 1.

RBAC needed in the probe namespace: ``create``, ``get`` and ``delete`` on ``pods`` and ``get``
on ``pods/log``; Pod Security admission must allow hostPID and hostPath there (the
``privileged`` level).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubectl_userns.errors import UsageError
from kubectl_userns.options import DEFAULT_PROBE_TIMEOUT

DEFAULT_IMAGE = "busybox:1.36"
DEFAULT_NAMESPACE = "default"
DEFAULT_TIMEOUT = DEFAULT_PROBE_TIMEOUT
CONTAINER = "probe"
MANAGED_BY = "kubectl-userns"
STDERR_MARKER = "--- kubectl-userns probe stderr ---"
RUN_ID = os.urandom(4).hex()  # one per process: labels every probe pod of this run


# The container's command: run the probe (its text is $0, its arguments "$@") with stderr to a
# file, then print the marker and that file, and exit with the probe's status. Constant text.
def _wrapper(prefix: str = "") -> str:
    return (
        f'{prefix}sh -c "$0" probe "$@" 2>/tmp/probe-stderr; s=$?; '
        f"printf '\\n%s\\n' '{STDERR_MARKER}'; cat /tmp/probe-stderr; exit $s"
    )


_WRAPPER = _wrapper()
# verify-node's probe reads the node's own /etc, binaries and configuration: it runs in the
# node's root filesystem (mounted read-only at /host) with the node's own sh, as over SSH.
HOST_ROOT = "/host"
_NODE_WRAPPER = _wrapper(f"chroot {HOST_ROOT} ")
# verify-node --probe creates a user namespace, which the kernel refuses inside a chroot: the
# privileged probe pod enters the mount namespace of the node's PID 1 instead.
_NODE_PROBE_WRAPPER = _wrapper("nsenter -t 1 -m -- ")


@dataclass(frozen=True)
class PodAccessOptions:
    """How probe pods are made (``--via pod``)."""

    image: str = DEFAULT_IMAGE
    namespace: str = DEFAULT_NAMESPACE
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_flags(
        cls,
        via: str,
        image: str | None,
        probe_namespace: str | None,
        *,
        ssh_flags: Sequence[str],
        local: bool,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> PodAccessOptions | None:
        """None for ``--via ssh``; conflicts are named by flag."""
        if via not in ("ssh", "pod"):
            raise UsageError(f"--via must be ssh or pod (got {via!r}).")
        if via == "ssh":
            given = [
                f for f, v in (("--image", image), ("--probe-namespace", probe_namespace)) if v
            ]
            if given:
                raise UsageError(f"{', '.join(given)} only apply with --via pod; add --via pod.")
            return None
        if local:
            raise UsageError(
                "--local cannot be used with --via pod: --local reads this machine, --via pod "
                "reaches the node through the cluster; choose one."
            )
        ssh = list(ssh_flags)
        if ssh:
            raise UsageError(
                f"--via pod cannot be used with {', '.join(ssh)}: probe pods need no SSH; drop "
                f"{'it' if len(ssh) == 1 else 'them'}."
            )
        if image is not None and not image.strip():
            raise UsageError("--image must name an image, e.g. busybox:1.36.")
        return cls(
            image=image or DEFAULT_IMAGE,
            namespace=probe_namespace or DEFAULT_NAMESPACE,
            timeout=timeout,
        )


def probe_pod_manifest(
    name: str,
    node: str,
    script: str,
    args: Sequence[str],
    *,
    kubelet_root: str,
    image: str,
    namespace: str,
    deadline: int,
    host_root: bool = False,
    privileged: bool = False,
) -> dict[str, Any]:
    """The probe pod for ``node`` (pure; see the module docstring for each choice).

    ``host_root``: the node's root filesystem read-only at :data:`HOST_ROOT` and the probe run
    chrooted there (verify-node); ``privileged``: for ``verify-node --probe``, which mounts.
    """

    def host(volume: str, path: str, kind: str) -> dict[str, Any]:
        return {"name": volume, "hostPath": {"path": path, "type": kind}}

    scratch = {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}
    if host_root:
        volumes = [host("host-root", "/", "Directory"), scratch]
        mounts = [
            {"name": "host-root", "mountPath": HOST_ROOT, "readOnly": True},
            {"name": "scratch", "mountPath": "/tmp"},
        ]
    else:
        volumes = [
            host("cgroup", "/sys/fs/cgroup", "Directory"),
            host("kubelet-root", kubelet_root, "Directory"),
            host("subuid", "/etc/subuid", "File"),
            host("subgid", "/etc/subgid", "File"),
            host("passwd", "/etc/passwd", "File"),
            scratch,
        ]
        mounts = [
            {"name": "cgroup", "mountPath": "/sys/fs/cgroup", "readOnly": True},
            {"name": "kubelet-root", "mountPath": kubelet_root, "readOnly": True},
            {"name": "subuid", "mountPath": "/etc/subuid", "readOnly": True},
            {"name": "subgid", "mountPath": "/etc/subgid", "readOnly": True},
            {"name": "passwd", "mountPath": "/etc/passwd", "readOnly": True},
            {"name": "scratch", "mountPath": "/tmp"},
        ]
    context: dict[str, Any]
    if privileged:
        context = {
            "runAsUser": 0,
            "privileged": True,
            "readOnlyRootFilesystem": True,
            "seccompProfile": {"type": "Unconfined"},
        }
    else:
        context = {
            "runAsUser": 0,
            "privileged": False,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {
                "drop": ["ALL"],
                "add": ["SYS_CHROOT", "SYS_PTRACE"] if host_root else ["SYS_PTRACE"],
            },
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/managed-by": MANAGED_BY,
                "app.kubernetes.io/name": "kubectl-userns-probe",
                "kubectl-userns/run": RUN_ID,
            },
            "annotations": {"kubectl-userns/node": node},
        },
        "spec": {
            "nodeName": node,
            "hostPID": True,
            "restartPolicy": "Never",
            "activeDeadlineSeconds": deadline,
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "tolerations": [{"operator": "Exists"}],
            "volumes": volumes,
            "containers": [
                {
                    "name": CONTAINER,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": [
                        "sh",
                        "-c",
                        _wrapper_for(host_root, privileged),
                        script,
                        *args,
                    ],
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"memory": "64Mi"},
                    },
                    "securityContext": context,
                    "volumeMounts": mounts,
                }
            ],
        },
    }


def _wrapper_for(host_root: bool, privileged: bool) -> str:
    if not host_root:
        return _WRAPPER
    return _NODE_PROBE_WRAPPER if privileged else _NODE_WRAPPER


def split_log(log: str) -> tuple[str, str]:
    """The probe's stdout and stderr from the pod's log (see the wrapper).

    Without the marker the wrapper never ran to its end (the container failed to start the
    shell, or was killed): the whole log is then an error message, not probe output.
    """
    out, found, err = log.rpartition(f"\n{STDERR_MARKER}\n")
    if not found:
        return "", log
    return out, err
