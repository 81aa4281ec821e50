"""The commands' shared flags (Typer annotations), grouped in help panels as kubectl groups
its own; each command parses them into the frozen values of ``kubectl_userns.options``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kubectl_userns.access.via_pod import DEFAULT_IMAGE, DEFAULT_NAMESPACE
from kubectl_userns.options import (
    SSH_CLIENT_ENV,
    SSH_CONFIG_ENV,
    AddressType,
    SSHClientKind,
)

KUBE_PANEL = "Cluster flags (as in kubectl)"
NODE_PANEL = "Node access flags"
OUTPUT_PANEL = "Output flags"

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
    str,
    typer.Option(
        "--output",
        "-o",
        metavar="FORMAT",
        help="Output format: table, wide (more columns), json, yaml, name, jsonpath=TEMPLATE, "
        "custom-columns=SPEC, jsonpath-file=PATH or custom-columns-file=PATH (kubectl's "
        "template formats, over the objects -o json prints).",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
NoHeadersFlag = Annotated[
    bool,
    typer.Option(
        "--no-headers",
        help="Print only the rows of the main table, one record a line (the summary goes to "
        "stderr); also for -o custom-columns.",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
ColorFlag = Annotated[
    str,
    typer.Option(
        "--color",
        metavar="auto|always|never",
        help="Colour PASS, FAIL and WARN: auto = on a terminal unless NO_COLOR is set.",
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
    float | None,
    typer.Option(
        "--ssh-timeout",
        metavar="SECONDS",
        help="Seconds to wait for the SSH connection (default: ConnectTimeout from the SSH "
        "config, else 10).",
        show_default=False,
        rich_help_panel=NODE_PANEL,
        min=0.1,
    ),
]
SshClientFlag = Annotated[
    SSHClientKind | None,
    typer.Option(
        "--ssh-client",
        metavar="paramiko|openssh",
        help=f"SSH client that runs the probe: paramiko (built in) or openssh (the system's "
        "ssh: ControlMaster/ControlPersist, FIDO keys, certificates, GSSAPI, Match exec) "
        f"(default: ${SSH_CLIENT_ENV}, else paramiko).",
        rich_help_panel=NODE_PANEL,
        show_default=False,
        case_sensitive=False,
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
NodeKubeletRootFlag = Annotated[
    str | None,
    typer.Option(
        "--kubelet-root",
        metavar="DIR",
        help="The kubelet's root directory on the node (default: the --root-dir of the kubelet "
        "running there, else /var/lib/kubelet).",
        rich_help_panel=NODE_PANEL,
        show_default=False,
    ),
]


ViaFlag = Annotated[
    str,
    typer.Option(
        "--via",
        metavar="ssh|pod",
        help="How to reach nodes: ssh (default) or pod (a short-lived probe pod on the node, "
        "through the Kubernetes API; for clusters without SSH to the nodes).",
        rich_help_panel=NODE_PANEL,
    ),
]
ImageFlag = Annotated[
    str | None,
    typer.Option(
        "--image",
        metavar="IMAGE",
        help=f"Image of the probe pod with --via pod; needs a POSIX sh, ls, head, readlink, sed, "
        f"tr, cat, chroot and nsenter (default {DEFAULT_IMAGE}; point it at a mirror for "
        "air-gapped registries).",
        rich_help_panel=NODE_PANEL,
        show_default=False,
    ),
]
ProbeTimeoutFlag = Annotated[
    float,
    typer.Option(
        "--probe-timeout",
        metavar="SECONDS",
        help="Deadline in seconds for one node's whole probe, once connected (--via pod: from "
        "creating the probe pod to reading its log, image pull included). When it passes the "
        "probe is ended on the node and that node's pods are reported as unknown (exit 3).",
        rich_help_panel=NODE_PANEL,
        min=1.0,
    ),
]
ProbeNamespaceFlag = Annotated[
    str | None,
    typer.Option(
        "--probe-namespace",
        metavar="NAMESPACE",
        help=f"Namespace for probe pods with --via pod (default {DEFAULT_NAMESPACE}); it must "
        "allow hostPID and hostPath pods.",
        rich_help_panel=NODE_PANEL,
        show_default=False,
    ),
]
