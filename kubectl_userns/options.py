"""The frozen values that the commands' flags are parsed into (the flags: ``cli/flags.py``).

Every command parses its flags into these values (``*.from_flags``) before the first network
call, so a bad combination is reported by flag name and nothing has been contacted yet.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from kubectl_userns.errors import UsageError

DEFAULT_KUBELET_ROOT = "/var/lib/kubelet"  # the kubelet's --root-dir default
# seconds for one node's whole probe once connected (--probe-timeout; --via pod: the probe pod)
DEFAULT_PROBE_TIMEOUT = 120.0

SSH_CONFIG_ENV = "KUBECTL_USERNS_SSH_CONFIG"
SSH_CLIENT_ENV = "KUBECTL_USERNS_SSH_CLIENT"


class OutputFormat(str, Enum):
    """The ``-o/--output`` formats of the report commands (kubectl's names)."""

    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"
    name = "name"
    jsonpath = "jsonpath"
    custom_columns = "custom-columns"


# what -o takes: a format, or FORMAT=TEMPLATE for the template formats (as kubectl)
OUTPUT_CHOICES = (
    "table",
    "wide",
    "json",
    "yaml",
    "name",
    "jsonpath=",
    "jsonpath-file=",
    "custom-columns=",
    "custom-columns-file=",
)
COLOR_MODES = ("auto", "always", "never")


class AddressType(str, Enum):
    """Which of the Node's ``status.addresses`` the SSH connection goes to."""

    InternalIP = "InternalIP"
    ExternalIP = "ExternalIP"
    Hostname = "Hostname"


class SSHClientKind(str, Enum):
    """Which SSH client runs the probe: paramiko (in-process) or the system's OpenSSH ``ssh``."""

    paramiko = "paramiko"
    openssh = "openssh"


# --- durations, as kubectl reads them -----------------------------------------------------------

# A bare integer is seconds, anything else is Go's time.ParseDuration: client-go's
# tools/clientcmd/helpers.go ParseTimeout, which kubectl's --request-timeout goes through.
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
NO_TIMEOUT = 365 * 24 * 3600.0  # what 0 ("no timeout") stands for: a year


def parse_duration(text: str, flag: str) -> float:
    """Seconds in kubectl's duration ``text`` (``30``, ``5s``, ``1m30s``, ``1.5h``); ``0`` means
    no timeout (NO_TIMEOUT). Bad text raises UsageError naming ``flag``."""
    value = text.strip()
    seconds = 0.0
    if value.isascii() and value.isdigit():
        seconds = float(int(value))
    else:
        pos = 0
        for match in _DURATION_PART.finditer(value):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if not value or pos != len(value):
            raise UsageError(
                f"{flag} {text}: not a duration; give seconds or a number with a unit, as "
                "kubectl does (e.g. 30, 5s, 2m, 1h30m; 0 for no timeout)."
            )
    if seconds == 0 or seconds >= NO_TIMEOUT:
        return NO_TIMEOUT
    return seconds


@dataclass(frozen=True)
class ClusterOptions:
    """Where the Kubernetes API is and how to talk to it: kubectl's global flags (its
    genericclioptions), applied over the kubeconfig by ``access.api.apply_overrides``."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    request_timeout: float | None = 30.0  # None or 0: no deadline
    cluster: str | None = None  # a cluster of the kubeconfig instead of the context's
    user: str | None = None  # a user of the kubeconfig instead of the context's
    server: str | None = None
    token: str | None = field(default=None, repr=False)
    certificate_authority: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    impersonate: str | None = None  # --as
    impersonate_groups: tuple[str, ...] = ()  # --as-group
    impersonate_uid: str | None = None  # --as-uid
    verbosity: int = 0  # -v: 6 and more log every API request on stderr

    def check(self) -> ClusterOptions:
        """These options, or a UsageError naming the flags that do not go together."""
        if (self.impersonate_groups or self.impersonate_uid) and not self.impersonate:
            raise UsageError(
                "--as-group and --as-uid need --as USER: Kubernetes impersonates groups and a "
                "UID only together with a user."
            )
        if self.insecure_skip_tls_verify and self.certificate_authority:
            raise UsageError(
                "--insecure-skip-tls-verify cannot be used with --certificate-authority: the "
                "first checks no certificate, the second names what to check against."
            )
        for flag, path in (
            ("--certificate-authority", self.certificate_authority),
            ("--client-certificate", self.client_certificate),
            ("--client-key", self.client_key),
        ):
            if path is not None and not os.path.isfile(os.path.expanduser(path)):
                raise UsageError(f"{flag} {path}: no such file.")
        if bool(self.client_certificate) != bool(self.client_key):
            raise UsageError("--client-certificate and --client-key go together; give both.")
        return self


@dataclass(frozen=True)
class OutputOptions:
    """How a report is printed."""

    format: OutputFormat = OutputFormat.table
    no_headers: bool = False
    template: str = ""  # the JSONPath template, or the custom-columns spec
    color: str = "auto"  # --color: resolved against the output stream when printing

    @classmethod
    def from_flags(
        cls, output: OutputFormat | str, no_headers: bool, color: str = "auto"
    ) -> OutputOptions:
        text = output.value if isinstance(output, OutputFormat) else str(output)
        name, eq, template = text.partition("=")
        name = name.strip().lower()
        if name in ("jsonpath-file", "custom-columns-file"):
            if not template:
                raise UsageError(f"-o {name} needs a file: -o {name}=PATH.")
            try:
                with open(os.path.expanduser(template), encoding="utf-8") as handle:
                    template = handle.read()
            except OSError as exc:
                raise UsageError(f"-o {name}={template}: {exc.strerror or exc}.") from None
            name = name.removesuffix("-file")
            if name == "custom-columns":  # kubectl's file: a header line, an expression line
                lines = [line.split() for line in template.splitlines() if line.strip()]
                if len(lines) != 2 or len(lines[0]) != len(lines[1]):
                    raise UsageError(
                        "-o custom-columns-file: expected two lines, the headers and as many "
                        "expressions."
                    )
                template = ",".join(f"{h}:{e}" for h, e in zip(lines[0], lines[1], strict=True))
            eq = "="
        try:
            fmt = OutputFormat(name)
        except ValueError:
            raise UsageError(
                f"-o {text}: unknown output format; use one of table, wide, json, yaml, name, "
                "jsonpath=TEMPLATE, custom-columns=SPEC (or their -file= forms)."
            ) from None
        if fmt in (OutputFormat.jsonpath, OutputFormat.custom_columns):
            if not template:
                raise UsageError(
                    f"-o {fmt.value} needs a template: -o {fmt.value}="
                    + ("'{.pod.name}'" if fmt is OutputFormat.jsonpath else "HEADER:.path,...")
                    + "."
                )
        elif eq:
            raise UsageError(f"-o {fmt.value} takes no template (got -o {text}).")
        if no_headers and fmt not in (
            OutputFormat.table,
            OutputFormat.wide,
            OutputFormat.custom_columns,
        ):
            raise UsageError(
                f"--no-headers only applies to table output; drop it or use -o table (got -o "
                f"{fmt.value})."
            )
        if color not in COLOR_MODES:
            raise UsageError(f"--color {color}: use auto, always or never.")
        return cls(format=fmt, no_headers=no_headers, template=template, color=color)


def ssh_flags_given(
    ssh_user: str | None,
    ssh_key: Path | None,
    ssh_port: int | None,
    ssh_host: str | None,
    ssh_config: Path | None,
    ssh_accept_new: bool,
    ssh_client: str | None = None,
    ssh_timeout: float | None = None,
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
            ("--ssh-client", ssh_client),
            ("--ssh-timeout", ssh_timeout),
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
    ssh_timeout: float | None = None  # None: ConnectTimeout from the SSH config, else 10 s
    ssh_client: SSHClientKind = SSHClientKind.paramiko
    # effective options from `ssh -G` when the OpenSSH client is installed (False: paramiko's
    # parser, which is also what is used without it)
    openssh_config: bool = True
    kubelet_root: str = DEFAULT_KUBELET_ROOT
    # False: no --kubelet-root given; the node probe takes the running kubelet's --root-dir
    kubelet_root_given: bool = True
    # what one run has looked up in the SSH config (access.ssh_target keeps it here, so that an
    # audit of N nodes asks ssh -G once per name, and the next run reads the files anew)
    lookups: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # the deadline of one node's whole probe once connected (--probe-timeout)
    probe_timeout: float = DEFAULT_PROBE_TIMEOUT

    def probe_root(self, *, sees_node: bool = True) -> str:
        """The probes' KUBELET_ROOT argument (probe/common.sh kubelet_root_of): --kubelet-root
        when given, else ``-`` (the running kubelet's --root-dir, else the default), or
        ``@DEFAULT`` where the probe cannot see the node's own files (an inspect probe pod)."""
        if self.kubelet_root_given:
            return self.kubelet_root
        return "-" if sees_node else f"@{self.kubelet_root}"

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
        ssh_timeout: float | None,
        kubelet_root: str | None,
        ssh_client: SSHClientKind | str | None = None,
        probe_timeout: float = DEFAULT_PROBE_TIMEOUT,
    ) -> NodeAccessOptions:
        if local:
            given = ssh_flags_given(
                ssh_user,
                ssh_key,
                ssh_port,
                ssh_host,
                ssh_config,
                ssh_accept_new,
                None if ssh_client is None else str(getattr(ssh_client, "value", ssh_client)),
                ssh_timeout,
            )
            if given:
                raise UsageError(
                    f"--local cannot be used with {', '.join(given)}: --local reads this "
                    "machine directly, without SSH."
                )
        if ssh_key is not None and not ssh_key.is_file():
            raise UsageError(f"--ssh-key {ssh_key}: no such file; give the path of a private key.")
        root_given = kubelet_root is not None
        kubelet_root = kubelet_root if kubelet_root is not None else DEFAULT_KUBELET_ROOT
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
        client = _ssh_client(ssh_client)
        if client is SSHClientKind.openssh and not local and shutil.which("ssh") is None:
            raise UsageError(
                "--ssh-client openssh needs the OpenSSH client (ssh) on PATH; install it "
                "(Debian: openssh-client) or use --ssh-client paramiko."
            )
        return cls(
            local=local,
            ssh_client=client,
            ssh_user=ssh_user,
            ssh_key=ssh_key,
            ssh_port=ssh_port,
            ssh_host=ssh_host,
            ssh_address_type=AddressType(ssh_address_type),
            ssh_config=ssh_config,
            ssh_accept_new=ssh_accept_new,
            ssh_timeout=ssh_timeout,
            kubelet_root=kubelet_root.rstrip("/") or "/",
            kubelet_root_given=root_given,
            probe_timeout=probe_timeout,
        )


def _ssh_client(value: SSHClientKind | str | None) -> SSHClientKind:
    """--ssh-client, else $KUBECTL_USERNS_SSH_CLIENT, else paramiko."""
    source = "--ssh-client"
    if value is None:
        value = os.environ.get(SSH_CLIENT_ENV) or SSHClientKind.paramiko
        source = f"${SSH_CLIENT_ENV}"
    try:
        return SSHClientKind(value)
    except ValueError:
        raise UsageError(
            f"{source} {value!r} is not an SSH client; use paramiko or openssh."
        ) from None
