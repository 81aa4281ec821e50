"""``kubectl userns inspect POD``: prove on the node that a pod is isolated."""

from __future__ import annotations

from typing import Annotated

import typer

from kubectl_userns.errors import ProbeError
from kubectl_userns.options import (
    AddressType,
    ClusterOptions,
    ContextFlag,
    KubeconfigFlag,
    KubeletRootFlag,
    LocalFlag,
    NamespaceFlag,
    NodeAccessOptions,
    NoHeadersFlag,
    OutputFlag,
    OutputFormat,
    OutputOptions,
    RequestTimeoutFlag,
    SshAcceptNewFlag,
    SshAddressTypeFlag,
    SshConfigFlag,
    SshHostFlag,
    SshKeyFlag,
    SshPortFlag,
    SshTimeoutFlag,
    SshUserFlag,
)

HELP = """Prove on the node that a pod is isolated by its user namespace.

Reads the pod from the API, reaches its node (SSH by default, one connection and one
read-only script), finds the pod's cgroup, and for every container process reads the host
UID/GID, uid_map, gid_map and user namespace. Then checks what a user namespace promises:
a private, non-root, non-overlapping ID range, shared by the pod's containers, matching what
the kubelet allocated. Exit 0 when every check holds, 1 when one fails."""

EPILOG = """Examples:
  kubectl userns inspect testpod
  kubectl userns inspect web -n shop -c nginx -o wide
  kubectl userns inspect testpod -o json
  kubectl userns inspect testpod --ssh-user admin --ssh-key ~/.ssh/nodes
  kubectl userns inspect testpod --local   # on the node itself"""


def inspect(
    pod: Annotated[str, typer.Argument(metavar="POD", help="Name of the pod.", show_default=False)],
    container: Annotated[
        str | None,
        typer.Option(
            "--container", "-c", metavar="NAME", help="Only this container.", show_default=False
        ),
    ] = None,
    output: OutputFlag = OutputFormat.table,
    no_headers: NoHeadersFlag = False,
    namespace: NamespaceFlag = None,
    kubeconfig: KubeconfigFlag = None,
    context: ContextFlag = None,
    request_timeout: RequestTimeoutFlag = 30.0,
    local: LocalFlag = False,
    ssh_user: SshUserFlag = None,
    ssh_key: SshKeyFlag = None,
    ssh_port: SshPortFlag = None,
    ssh_host: SshHostFlag = None,
    ssh_address_type: SshAddressTypeFlag = AddressType.InternalIP,
    ssh_config: SshConfigFlag = None,
    ssh_accept_new: SshAcceptNewFlag = False,
    ssh_timeout: SshTimeoutFlag = 10.0,
    kubelet_root: KubeletRootFlag = "/var/lib/kubelet",
) -> None:
    out = OutputOptions.from_flags(output, no_headers)
    access = NodeAccessOptions.from_flags(
        local=local,
        ssh_user=ssh_user,
        ssh_key=ssh_key,
        ssh_port=ssh_port,
        ssh_host=ssh_host,
        ssh_address_type=ssh_address_type,
        ssh_config=ssh_config,
        ssh_accept_new=ssh_accept_new,
        ssh_timeout=ssh_timeout,
        kubelet_root=kubelet_root,
    )
    cluster = ClusterOptions(kubeconfig, context, namespace, request_timeout)
    del out, access, cluster, container, pod
    raise ProbeError("inspect is not implemented yet.")
