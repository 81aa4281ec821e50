"""Every shared flag, declared once: its names, type, default, help and help group.

The commands take them in sets (:mod:`kubectl_userns.cli.flagsets`), which also parse them into
the frozen values of :mod:`kubectl_userns.options`. The help groups follow kubectl's layout: a
command's own flags first, kubectl's global API flags last.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from kubectl_userns.access.probe_pod import DEFAULT_IMAGE, DEFAULT_NAMESPACE
from kubectl_userns.options import (
    SSH_CLIENT_ENV,
    SSH_CONFIG_ENV,
    AddressType,
    SSHClientKind,
)

OUTPUT_PANEL = "Output flags"
NODE_PANEL = "Node access flags"
SSH_PANEL = "SSH flags (--via ssh, the default)"
POD_PANEL = "Probe pod flags (--via pod)"
KUBE_PANEL = "Kubernetes API flags (as in kubectl)"
# the order of the help's sections after the command's own flags: kubectl's last
PANELS = (OUTPUT_PANEL, NODE_PANEL, SSH_PANEL, POD_PANEL, KUBE_PANEL)

DURATION_HELP = " A duration as kubectl takes it (30, 5s, 2m, 1h30m); 0 for none."


@dataclass(frozen=True)
class Flag:
    """One flag: the command's parameter ``name``, its Typer annotation and its default."""

    name: str
    annotation: Any
    default: Any


def flag(
    name: str,
    kind: Any,
    default: Any,
    *names: str,
    panel: str,
    help: str,
    metavar: str | None = None,
    show_default: bool = False,
    **extra: Any,
) -> Flag:
    option = typer.Option(
        *names,
        help=help,
        metavar=metavar,
        rich_help_panel=panel,
        show_default=show_default,
        **extra,
    )
    return Flag(name, Annotated[kind, option], default)


# --- output ------------------------------------------------------------------------------------


def output_flag(help: str) -> Flag:
    """-o/--output with a command's own list of formats in its help."""
    return flag(
        "output",
        str,
        "table",
        "--output",
        "-o",
        metavar="FORMAT",
        panel=OUTPUT_PANEL,
        show_default=True,
        help=help,
    )


OUTPUT = output_flag(
    "Output format: table, wide (more columns), json, yaml, name, jsonpath=TEMPLATE, "
    "custom-columns=SPEC, jsonpath-file=PATH or custom-columns-file=PATH (kubectl's "
    "template formats, over the objects -o json prints)."
)

# --- which pods: the commands' own flags, as kubectl names them --------------------------------

AllNamespaces = Annotated[
    bool,
    typer.Option(
        "--all-namespaces",
        "-A",
        help="Every namespace (-n is then ignored, as kubectl does).",
        show_default=False,
    ),
]
Selector = Annotated[
    str | None,
    typer.Option(
        "--selector",
        "-l",
        metavar="SELECTOR",
        help="Only pods matching this label selector (e.g. app=web,tier!=db).",
        show_default=False,
    ),
]
NO_HEADERS = flag(
    "no_headers",
    bool,
    False,
    "--no-headers",
    panel=OUTPUT_PANEL,
    help="Print only the rows of the main table, one record a line (the summary goes to "
    "stderr); also for -o custom-columns.",
)
COLOR = flag(
    "color",
    str,
    "auto",
    "--color",
    metavar="auto|always|never",
    panel=OUTPUT_PANEL,
    show_default=True,
    help="Colour PASS, FAIL and WARN: auto = on a terminal unless NO_COLOR is set.",
)

# --- node access: how, and where the kubelet keeps its state ------------------------------------

LOCAL = flag(
    "local",
    bool,
    False,
    "--local",
    panel=NODE_PANEL,
    help="Run the probe on this machine instead of over SSH (when the plugin runs on the "
    "node itself).",
)
VIA = flag(
    "via",
    str,
    "ssh",
    "--via",
    metavar="ssh|pod",
    panel=NODE_PANEL,
    show_default=True,
    help="How to reach nodes: ssh (default) or pod (a short-lived probe pod on the node, "
    "through the Kubernetes API; for clusters without SSH to the nodes).",
)
NODE_KUBELET_ROOT = flag(
    "kubelet_root",
    str | None,
    None,
    "--kubelet-root",
    metavar="DIR",
    panel=NODE_PANEL,
    help="The kubelet's root directory on the node (default: the --root-dir of the kubelet "
    "running there, else /var/lib/kubelet).",
)

# --- SSH ---------------------------------------------------------------------------------------

SSH_USER = flag(
    "ssh_user",
    str | None,
    None,
    "--ssh-user",
    metavar="USER",
    panel=SSH_PANEL,
    help="SSH user (default: from the SSH config, else the current user). A user other "
    "than root needs passwordless 'sudo -n'.",
)
SSH_KEY = flag(
    "ssh_key",
    Path | None,
    None,
    "--ssh-key",
    metavar="PATH",
    panel=SSH_PANEL,
    help="Private key file for SSH (default: ssh-agent, the SSH config, ~/.ssh/id_*).",
)
SSH_PORT = flag(
    "ssh_port",
    int | None,
    None,
    "--ssh-port",
    metavar="PORT",
    panel=SSH_PANEL,
    help="SSH port (default: from the SSH config, else 22).",
    min=1,
    max=65535,
)
SSH_HOST = flag(
    "ssh_host",
    str | None,
    None,
    "--ssh-host",
    metavar="HOST",
    panel=SSH_PANEL,
    help="Connect to this host or address instead of the node's address from the API.",
)
SSH_ADDRESS_TYPE = flag(
    "ssh_address_type",
    AddressType,
    AddressType.InternalIP,
    "--ssh-address-type",
    metavar="TYPE",
    panel=SSH_PANEL,
    show_default=True,
    help="Which node address to connect to.",
)
SSH_CONFIG = flag(
    "ssh_config",
    Path | None,
    None,
    "--ssh-config",
    metavar="PATH",
    panel=SSH_PANEL,
    help=f"OpenSSH client config file (default: ${SSH_CONFIG_ENV}, else ~/.ssh/config).",
)
SSH_ACCEPT_NEW = flag(
    "ssh_accept_new",
    bool,
    False,
    "--ssh-accept-new",
    panel=SSH_PANEL,
    help="Trust a node's host key on first contact and record it in known_hosts "
    "(default: unknown host keys are refused).",
)
SSH_TIMEOUT = flag(
    "ssh_timeout",
    str | None,
    None,
    "--ssh-timeout",
    metavar="DURATION",
    panel=SSH_PANEL,
    help="How long to wait for the SSH connection (default: ConnectTimeout from the SSH "
    "config, else 10s)." + DURATION_HELP,
)
SSH_CLIENT = flag(
    "ssh_client",
    SSHClientKind | None,
    None,
    "--ssh-client",
    metavar="paramiko|openssh",
    panel=SSH_PANEL,
    help="SSH client that runs the probe: paramiko (built in) or openssh (the system's "
    "ssh: ControlMaster/ControlPersist, FIDO keys, certificates, GSSAPI, Match exec) "
    f"(default: ${SSH_CLIENT_ENV}, else paramiko).",
    case_sensitive=False,
)

# --- probe pods --------------------------------------------------------------------------------

IMAGE = flag(
    "image",
    str | None,
    None,
    "--image",
    metavar="IMAGE",
    panel=POD_PANEL,
    help=f"Image of the probe pod with --via pod; needs a POSIX sh, ls, head, readlink, sed, "
    f"tr, cat, chroot and nsenter (default {DEFAULT_IMAGE}; point it at a mirror for "
    "air-gapped registries).",
)
PROBE_NAMESPACE = flag(
    "probe_namespace",
    str | None,
    None,
    "--probe-namespace",
    metavar="NAMESPACE",
    panel=POD_PANEL,
    help=f"Namespace for probe pods with --via pod (default {DEFAULT_NAMESPACE}); it must "
    "allow hostPID and hostPath pods.",
)
PROBE_TIMEOUT = flag(
    "probe_timeout",
    str | None,
    None,
    "--probe-timeout",
    metavar="DURATION",
    panel=NODE_PANEL,
    help="Deadline for one node's whole probe, once connected (--via pod: from creating the "
    "probe pod to reading its log, image pull included; default 2m). When it passes the probe "
    "is ended on the node and that node's pods are reported as unknown (exit 3)." + DURATION_HELP,
)

# --- kubectl's global API flags (its genericclioptions), in kubectl's help order ---------------

NAMESPACE = flag(
    "namespace",
    str | None,
    None,
    "--namespace",
    "-n",
    metavar="NAMESPACE",
    panel=KUBE_PANEL,
    help="Namespace of the pods (default: the context's namespace, else 'default').",
)
_API = [
    ("kubeconfig", str | None, ("--kubeconfig",), "PATH", "Path to the kubeconfig file "
     "(default: $KUBECONFIG, several paths joined with ':', else ~/.kube/config)."),
    ("context", str | None, ("--context",), "NAME", "The kubeconfig context to use."),
    ("cluster", str | None, ("--cluster",), "NAME", "The kubeconfig cluster to use (not the "
     "context's)."),
    ("user", str | None, ("--user",), "NAME", "The kubeconfig user to use (not the context's)."),
    ("server", str | None, ("--server", "-s"), "URL", "The address and port of the Kubernetes "
     "API server."),
    ("token", str | None, ("--token",), "TOKEN", "Bearer token for authentication to the API."),
    ("impersonate", str | None, ("--as",), "USER", "Username to impersonate for the operation "
     "(user or service account); also for the probe pods of --via pod."),
    ("impersonate_groups", list[str] | None, ("--as-group",), "GROUP", "Group to impersonate "
     "for the operation (repeat for several)."),
    ("impersonate_uid", str | None, ("--as-uid",), "UID", "UID to impersonate for the "
     "operation."),
    ("certificate_authority", str | None, ("--certificate-authority",), "PATH", "Path to a "
     "cert file for the certificate authority."),
    ("client_certificate", str | None, ("--client-certificate",), "PATH", "Path to a client "
     "certificate file."),
    ("client_key", str | None, ("--client-key",), "PATH", "Path to a client key file."),
    ("insecure_skip_tls_verify", bool, ("--insecure-skip-tls-verify",), None, "Do not check "
     "the server's certificate (insecure)."),
    ("tls_server_name", str | None, ("--tls-server-name",), "NAME", "Server name for the "
     "server's certificate check and SNI (default: the server's host name)."),
    ("request_timeout", str, ("--request-timeout",), "DURATION", "How long to wait for one API "
     "request (default 30s)." + DURATION_HELP),
]  # fmt: skip
API = (
    *(
        flag(
            name,
            kind,
            False if kind is bool else "30s" if name == "request_timeout" else None,
            *names,
            metavar=metavar,
            panel=KUBE_PANEL,
            help=text,
        )
        for name, kind, names, metavar, text in _API
    ),
    flag(
        "verbosity",
        int,
        0,
        "--v",
        "-v",
        metavar="LEVEL",
        panel=KUBE_PANEL,
        help="Log level: 6 or more logs every API request (method, URL, status, time) on stderr.",
        min=0,
    ),
)
API_NAMES = frozenset(f.name for f in API) | {NAMESPACE.name}
