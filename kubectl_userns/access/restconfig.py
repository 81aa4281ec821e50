"""What the API layer needs to talk to one API server as one user: :class:`RestConfig` (as
client-go's rest.Config), read from kubeconfig files by :mod:`.kubeconfig` or, in a pod, from the
service account (kubernetes/kubernetes staging/src/k8s.io/client-go/rest/config.go
``InClusterConfig``: ``KUBERNETES_SERVICE_HOST``/``_PORT`` and the service account's token and
CA).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass(frozen=True)
class ExecPlugin:
    """A ``users[].user.exec`` credential plugin."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = "client.authentication.k8s.io/v1"
    install_hint: str = ""
    provide_cluster_info: bool = False
    interactive_mode: str = "IfAvailable"


@dataclass(frozen=True)
class RestConfig:
    """Everything needed to talk to one API server as one user (no secret in ``repr``)."""

    server: str
    """The API's base URL, without userinfo (that is in ``server_userinfo``)."""
    namespace: str = "default"
    context: str = ""
    cluster: str = ""
    user: str = ""
    source: str = ""
    """Where the settings came from (file names, or 'in-cluster'), for messages."""
    ca_file: str | None = None
    ca_data: bytes | None = field(default=None, repr=False)
    insecure: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    client_cert_data: bytes | None = field(default=None, repr=False)
    client_key_data: bytes | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    server_userinfo: str | None = field(default=None, repr=False)
    exec_plugin: ExecPlugin | None = None
    impersonate_user: str | None = None
    impersonate_uid: str | None = None
    impersonate_groups: tuple[str, ...] = ()
    impersonate_extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def has_credentials(self) -> bool:
        """Whether any request carries something to authenticate with (else it is anonymous)."""
        return any(
            (
                self.token,
                self.token_file,
                self.client_cert_file,
                self.client_cert_data,
                self.username,
                self.server_userinfo,
                self.exec_plugin,
            )
        )

    @property
    def server_display(self) -> str:
        """The server URL as messages show it: userinfo masked, printable."""
        return mask_url(self.server)


def mask_url(url: str) -> str:
    """``url`` with everything before the authority's last ``@`` shown as ``***`` (messages)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" not in rest:
        return url
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}"


def load_in_cluster(namespace: str | None) -> RestConfig | None:
    """The service account's config when running in a pod (client-go's InClusterConfig)."""
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT")
    token_file = f"{SERVICE_ACCOUNT_DIR}/token"
    if not host or not port or not os.path.exists(token_file):
        return None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if namespace is None:
        try:
            with open(f"{SERVICE_ACCOUNT_DIR}/namespace") as handle:
                namespace = handle.read().strip()
        except OSError:
            namespace = None
    ca = f"{SERVICE_ACCOUNT_DIR}/ca.crt"
    return RestConfig(
        server=f"https://{host}:{port}",
        namespace=namespace or "default",
        source="in-cluster service account",
        ca_file=ca if os.path.exists(ca) else None,
        token_file=token_file,
    )
