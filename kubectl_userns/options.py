"""Flags shared by the commands, and the frozen values they are parsed into.

Every command parses its flags into these values (``*.from_flags``) before the first network
call, so a bad combination is reported by flag name and nothing has been contacted yet.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from kubectl_userns.errors import UsageError

KUBE_PANEL = "Cluster flags (as in kubectl)"
NODE_PANEL = "Node access flags"
OUTPUT_PANEL = "Output flags"

SSH_CONFIG_ENV = "KUBECTL_USERNS_SSH_CONFIG"


class OutputFormat(str, Enum):
    """The ``-o/--output`` values of the report commands."""

    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"


class AddressType(str, Enum):
    """Which of the Node's ``status.addresses`` the SSH connection goes to."""

    InternalIP = "InternalIP"
    ExternalIP = "ExternalIP"
    Hostname = "Hostname"


# --- kubectl's cluster flags -----------------------------------------------------------------

KubeconfigFlag = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig",
        metavar="PATH",
        help="Path to the kubeconfig file (default: $KUBECONFIG, several paths joined with ':', "
        "else ~/.kube/config).",
        rich_help_panel=KUBE_PANEL,
        show_default=False,
    ),
]
ContextFlag = Annotated[
    str | None,
    typer.Option(
        "--context",
        metavar="NAME",
        help="The kubeconfig context to use.",
        rich_help_panel=KUBE_PANEL,
        show_default=False,
    ),
]
NamespaceFlag = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        "-n",
        metavar="NAMESPACE",
        help="Namespace of the pod (default: the context's namespace, else 'default').",
        rich_help_panel=KUBE_PANEL,
        show_default=False,
    ),
]
RequestTimeoutFlag = Annotated[
    float,
    typer.Option(
        "--request-timeout",
        metavar="SECONDS",
        help="Seconds to wait for one Kubernetes API request before giving up.",
        rich_help_panel=KUBE_PANEL,
        min=0.1,
    ),
]

# --- output ------------------------------------------------------------------------------------

OutputFlag = Annotated[
    OutputFormat,
    typer.Option(
        "--output",
        "-o",
        metavar="FORMAT",
        help="Output format: table, wide (more columns), json or yaml.",
        rich_help_panel=OUTPUT_PANEL,
        case_sensitive=False,
    ),
]
NoHeadersFlag = Annotated[
    bool,
    typer.Option(
        "--no-headers",
        help="Print tables without their header row.",
        rich_help_panel=OUTPUT_PANEL,
    ),
]

# --- node access -------------------------------------------------------------------------------

LocalFlag = Annotated[
    bool,
    typer.Option(
        "--local",
        help="Run the probe on this machine instead of over SSH (when the plugin runs on the "
        "node itself).",
        rich_help_panel=NODE_PANEL,
    ),
]
SshUserFlag = Annotated[
    str | None,
    typer.Option(
        "--ssh-user",
        metavar="USER",
        help="SSH user (default: from the SSH config, else the current user). A user other "
        "than root needs passwordless 'sudo -n'.",
        rich_help_panel=NODE_PANEL,
        show_default=False,
    ),
]
SshKeyFlag = Annotated[
    Path | None,
    typer.Option(
        "--ssh-key",
        metavar="PATH",
        help="Private key file for SSH (default: ssh-agent, the SSH config, ~/.ssh/id_*).",
        rich_help_panel=NODE_PANEL,
        show_default=False,
    ),
]
SshPortFlag = Annotated[
    int | None,
    typer.Option(
        "--ssh-port",
        metavar="PORT",
        help="SSH port (default: from the SSH config, else 22).",
        rich_help_panel=NODE_PANEL,
        show_default=False,
        min=1,
        max=65535,
    ),
]
SshHostFlag = Annotated[
    str | None,
    typer.Option(
        "--ssh-host",
        metavar="HOST",
        help="Connect to this host or address instead of the node's address from the API.",
        rich_help_panel=NODE_PANEL,
        show_default=False,
    ),
]
SshAddressTypeFlag = Annotated[
    AddressType,
    typer.Option(
        "--ssh-address-type",
        metavar="TYPE",
        help="Which node address to connect to.",
        rich_help_panel=NODE_PANEL,
    ),
]
SshConfigFlag = Annotated[
    Path | None,
    typer.Option(
        "--ssh-config",
        metavar="PATH",
        help=f"OpenSSH client config file (default: ${SSH_CONFIG_ENV}, else ~/.ssh/config).",
        rich_help_panel=NODE_PANEL,
        show_default=False,
    ),
]
SshAcceptNewFlag = Annotated[
    bool,
    typer.Option(
        "--ssh-accept-new",
        help="Trust a node's host key on first contact and record it in known_hosts "
        "(default: unknown host keys are refused).",
        rich_help_panel=NODE_PANEL,
    ),
]
SshTimeoutFlag = Annotated[
    float,
    typer.Option(
        "--ssh-timeout",
        metavar="SECONDS",
        help="Seconds to wait for the SSH connection.",
        rich_help_panel=NODE_PANEL,
        min=0.1,
    ),
]
KubeletRootFlag = Annotated[
    str,
    typer.Option(
        "--kubelet-root",
        metavar="DIR",
        help="The kubelet's root directory on the node.",
        rich_help_panel=NODE_PANEL,
    ),
]


@dataclass(frozen=True)
class ClusterOptions:
    """Where the Kubernetes API is and how to talk to it."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    request_timeout: float = 30.0


@dataclass(frozen=True)
class OutputOptions:
    """How a report is printed."""

    format: OutputFormat = OutputFormat.table
    no_headers: bool = False

    @classmethod
    def from_flags(cls, output: OutputFormat | str, no_headers: bool) -> OutputOptions:
        fmt = OutputFormat(output)
        if no_headers and fmt in (OutputFormat.json, OutputFormat.yaml):
            raise UsageError(
                f"--no-headers only applies to table output; drop it or use -o table (got -o "
                f"{fmt.value})."
            )
        return cls(format=fmt, no_headers=no_headers)


def ssh_flags_given(
    ssh_user: str | None,
    ssh_key: Path | None,
    ssh_port: int | None,
    ssh_host: str | None,
    ssh_config: Path | None,
    ssh_accept_new: bool,
) -> list[str]:
    """The SSH flags given on the command line, by name (for conflicts with --local, --via pod)."""
    return [
        name
        for name, value in (
            ("--ssh-user", ssh_user),
            ("--ssh-key", ssh_key),
            ("--ssh-port", ssh_port),
            ("--ssh-host", ssh_host),
            ("--ssh-config", ssh_config),
            ("--ssh-accept-new", ssh_accept_new or None),
        )
        if value is not None
    ]


@dataclass(frozen=True)
class NodeAccessOptions:
    """How to reach a node and where its kubelet keeps its state."""

    local: bool = False
    ssh_user: str | None = None
    ssh_key: Path | None = None
    ssh_port: int | None = None
    ssh_host: str | None = None
    ssh_address_type: AddressType = AddressType.InternalIP
    ssh_config: Path | None = None
    ssh_accept_new: bool = False
    ssh_timeout: float = 10.0
    kubelet_root: str = "/var/lib/kubelet"

    @classmethod
    def from_flags(
        cls,
        *,
        local: bool,
        ssh_user: str | None,
        ssh_key: Path | None,
        ssh_port: int | None,
        ssh_host: str | None,
        ssh_address_type: AddressType | str,
        ssh_config: Path | None,
        ssh_accept_new: bool,
        ssh_timeout: float,
        kubelet_root: str,
    ) -> NodeAccessOptions:
        if local:
            given = ssh_flags_given(
                ssh_user, ssh_key, ssh_port, ssh_host, ssh_config, ssh_accept_new
            )
            if given:
                raise UsageError(
                    f"--local cannot be used with {', '.join(given)}: --local reads this "
                    "machine directly, without SSH."
                )
        if ssh_key is not None and not ssh_key.is_file():
            raise UsageError(f"--ssh-key {ssh_key}: no such file; give the path of a private key.")
        if not kubelet_root.startswith("/"):
            raise UsageError(
                f"--kubelet-root must be an absolute path on the node (got {kubelet_root!r})."
            )
        if ssh_config is None:
            env = os.environ.get(SSH_CONFIG_ENV)
            if env:
                ssh_config = Path(env)
        if ssh_config is not None and not ssh_config.is_file():
            raise UsageError(
                f"SSH config {ssh_config} does not exist; fix --ssh-config or ${SSH_CONFIG_ENV}."
            )
        return cls(
            local=local,
            ssh_user=ssh_user,
            ssh_key=ssh_key,
            ssh_port=ssh_port,
            ssh_host=ssh_host,
            ssh_address_type=AddressType(ssh_address_type),
            ssh_config=ssh_config,
            ssh_accept_new=ssh_accept_new,
            ssh_timeout=ssh_timeout,
            kubelet_root=kubelet_root.rstrip("/") or "/",
        )
