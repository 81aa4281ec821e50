"""Kubeconfig files read the way kubectl (client-go) reads them, into one frozen RestConfig.

Rules followed, from kubernetes/kubernetes staging/src/k8s.io/client-go/tools/clientcmd:

* ``loader.go``: ``--kubeconfig`` must exist; otherwise the files of ``$KUBECONFIG`` (joined
  with ``os.pathsep``; missing ones skipped) or ``~/.kube/config`` are merged, the first file
  that names a cluster, user or context wins it whole, and the first ``current-context`` wins.
  Relative ``certificate-authority``, ``client-certificate``, ``client-key`` and ``tokenFile``
  paths, and an exec ``command`` containing a ``/``, are relative to the file that holds them
  (``ResolveLocalPaths``).
* ``validation.go``: a CA file and CA data together, client certificate file and data together,
  or a CA with ``insecure-skip-tls-verify`` are errors, not silent choices.
* ``client_config.go``: the context's namespace, else ``default``; a server without a scheme is
  ``https://`` when TLS settings are present (``DefaultServerURL``).
* ``rest/config.go`` ``InClusterConfig`` when no kubeconfig exists (:mod:`.restconfig`).

Every file is untrusted text: YAML that does not parse, a document that is not a mapping, or a
field of the wrong type is one :class:`KubeconfigError` naming the file and the line. The walk
reads only the fields it knows, so anchors and aliases cannot make it expand anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from kubectl_userns.access.kubeconfig_yaml import YamlFile as _File
from kubectl_userns.access.kubeconfig_yaml import is_null as _is_null
from kubectl_userns.access.kubeconfig_yaml import read_file as _read_file
from kubectl_userns.access.restconfig import ExecPlugin, RestConfig, load_in_cluster, mask_url
from kubectl_userns.errors import KubeconfigError
from kubectl_userns.text import quoted

EXEC_API_VERSIONS = (
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
)


def kubeconfig_path(explicit: str | None) -> str:
    """The kubeconfig kubectl would read: --kubeconfig, else $KUBECONFIG, else ~/.kube/config.

    $KUBECONFIG is read at call time; it may list several files joined with ``os.pathsep``.
    """
    return explicit or os.environ.get("KUBECONFIG") or "~/.kube/config"


# --- merging and choosing ------------------------------------------------------------------


@dataclass
class _Merged:
    current_context: str | None = None
    clusters: dict[str, tuple[_File, yaml.Node]] = field(default_factory=dict)
    users: dict[str, tuple[_File, yaml.Node]] = field(default_factory=dict)
    contexts: dict[str, tuple[_File, yaml.Node]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def load_merged(explicit: str | None) -> _Merged:
    """Read and merge the kubeconfig files (see the module docstring for the rules)."""
    merged = _Merged()
    if explicit is not None:
        paths = [Path(explicit).expanduser()]
    else:
        listed = kubeconfig_path(None)
        paths = [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    for path in paths:
        read = _read_file(path)
        if read is None:
            if explicit is not None:
                raise KubeconfigError(
                    f"kubeconfig {path} does not exist; point --kubeconfig at an existing file."
                )
            continue
        merged.files.append(str(path))
        if read.root is None:
            continue  # an empty file is an empty config (client-go's Load)
        top = read.mapping(read.root, "the kubeconfig")
        current = read.string(top.get("current-context"), "current-context")
        if current and not merged.current_context:
            merged.current_context = current
        for key, inner, target in (
            ("clusters", "cluster", merged.clusters),
            ("users", "user", merged.users),
            ("contexts", "context", merged.contexts),
        ):
            for name, body, _item in read.named(key, inner):
                _check_entry(read, key, body, name)  # a wrong type anywhere fails, as in kubectl
                target.setdefault(name, (read, body))
    return merged


def _check_entry(f: _File, key: str, body: yaml.Node, name: str) -> None:
    if key == "clusters":
        _cluster_settings(f, body, name)
    elif key == "users":
        _user_settings(f, body, name)
    else:
        ctx = f.mapping(body, f'context "{name}"')
        for field_name in ("cluster", "user", "namespace"):
            f.string(ctx.get(field_name), f'context "{quoted(name)}" {field_name}')


def entry_names(explicit: str | None, kind: str) -> list[str]:
    """The merged kubeconfig's ``contexts``, ``clusters`` or ``users`` by name (completion)."""
    merged = load_merged(explicit)
    entries = {"contexts": merged.contexts, "clusters": merged.clusters, "users": merged.users}
    return sorted(entries[kind])


def load(
    explicit: str | None,
    context: str | None = None,
    namespace: str | None = None,
    *,
    cluster: str | None = None,
    user: str | None = None,
) -> RestConfig:
    """The RestConfig of ``context`` (else the current context), or the in-cluster one;
    ``cluster`` and ``user`` (kubectl's --cluster, --user) replace the context's."""
    merged = load_merged(explicit)
    where = ", ".join(merged.files) or kubeconfig_path(explicit)
    if context is not None and context not in merged.contexts:
        names = ", ".join(sorted(merged.contexts)) or "none"
        raise KubeconfigError(
            f'context "{quoted(context)}" is not in the kubeconfig (contexts: '
            f"{quoted(names)}); pick one with --context."
        )
    chosen = context or merged.current_context
    if not chosen:
        if explicit is None and not merged.contexts:
            in_cluster = load_in_cluster(namespace)
            if in_cluster is not None:
                return in_cluster
        raise KubeconfigError(
            f"no current context in the kubeconfig ({quoted(where)}); pick one with "
            "--context, or point --kubeconfig or KUBECONFIG at a kubeconfig."
        )
    if chosen not in merged.contexts:
        raise KubeconfigError(
            f'the current context "{quoted(chosen)}" of the kubeconfig ({quoted(where)}) '
            "is not defined in it; pick one with --context or fix current-context."
        )
    cfile, cnode = merged.contexts[chosen]
    ctx = cfile.mapping(cnode, f'context "{chosen}"')
    cluster_name = cfile.string(ctx.get("cluster"), f'context "{chosen}" cluster') or ""
    user_name = cfile.string(ctx.get("user"), f'context "{chosen}" user') or ""
    # client-go's getClusterName/getAuthInfoName: the overrides' names win over the context's
    for kind, flag, entries in (
        ("cluster", cluster, merged.clusters),
        ("user", user, merged.users),
    ):
        if flag is not None and flag not in entries:
            raise KubeconfigError(
                f'{kind} "{quoted(flag)}" is not in the kubeconfig; pick one of its {kind}s '
                f"with --{kind}."
            )
    cluster_name = cluster or cluster_name
    user_name = user or user_name
    ns = namespace or cfile.string(ctx.get("namespace"), f'context "{chosen}" namespace')
    if cluster_name not in merged.clusters:
        raise cfile.fail(
            cnode,
            f'context "{quoted(chosen)}" names cluster "{quoted(cluster_name)}", which '
            "is not defined",
        )
    kwargs: dict[str, Any] = _cluster_settings(*merged.clusters[cluster_name], cluster_name)
    if user_name:
        if user_name not in merged.users:
            raise cfile.fail(
                cnode,
                f'context "{quoted(chosen)}" names user "{quoted(user_name)}", which '
                "is not defined",
            )
        kwargs.update(_user_settings(*merged.users[user_name], user_name))
    return RestConfig(
        namespace=ns or "default",
        context=chosen,
        cluster=cluster_name,
        user=user_name,
        source=where,
        **kwargs,
    )


def _cluster_settings(f: _File, node: yaml.Node, name: str) -> dict[str, Any]:
    where = f'cluster "{quoted(name)}"'
    c = f.mapping(node, where)
    server = f.string(c.get("server"), f"{where} server")
    if not server:
        raise f.fail(node, f"{where} has no server")
    ca_file = f.path_value(c.get("certificate-authority"), f"{where} certificate-authority")
    ca_data = f.data(c.get("certificate-authority-data"), f"{where} certificate-authority-data")
    insecure = f.boolean(c.get("insecure-skip-tls-verify"), f"{where} insecure-skip-tls-verify")
    if ca_file and ca_data:
        raise f.fail(node, f"{where} has both certificate-authority and certificate-authority-data")
    if insecure and (ca_file or ca_data):
        raise f.fail(
            node,
            f"{where} sets insecure-skip-tls-verify together with a certificate authority "
            "(kubectl refuses that too)",
        )
    proxy = f.string(c.get("proxy-url"), f"{where} proxy-url") or None
    if proxy is not None:
        proxy = check_proxy_url(proxy, lambda p: f.fail(c.get("proxy-url"), p), f"{where} ")
    url, userinfo = parse_server(
        server, tls=bool(ca_file or ca_data or insecure), fail=lambda p: f.fail(node, p)
    )
    return {
        "server": url,
        "server_userinfo": userinfo,
        "ca_file": ca_file,
        "ca_data": ca_data,
        "insecure": insecure,
        "tls_server_name": f.string(c.get("tls-server-name"), f"{where} tls-server-name") or None,
        "proxy_url": proxy,
    }


def _user_settings(f: _File, node: yaml.Node, name: str) -> dict[str, Any]:
    where = f'user "{quoted(name)}"'
    u = f.mapping(node, where)
    cert_file = f.path_value(u.get("client-certificate"), f"{where} client-certificate")
    cert_data = f.data(u.get("client-certificate-data"), f"{where} client-certificate-data")
    key_file = f.path_value(u.get("client-key"), f"{where} client-key")
    key_data = f.data(u.get("client-key-data"), f"{where} client-key-data")
    if cert_file and cert_data:
        raise f.fail(node, f"{where} has both client-certificate and client-certificate-data")
    if key_file and key_data:
        raise f.fail(node, f"{where} has both client-key and client-key-data")
    exec_node = u.get("exec")
    provider = u.get("auth-provider")
    settings: dict[str, Any] = {
        "token": f.string(u.get("token"), f"{where} token") or None,
        "token_file": f.path_value(u.get("tokenFile"), f"{where} tokenFile"),
        "client_cert_file": cert_file,
        "client_cert_data": cert_data,
        "client_key_file": key_file,
        "client_key_data": key_data,
        "username": f.string(u.get("username"), f"{where} username") or None,
        "password": f.string(u.get("password"), f"{where} password") or None,
        "impersonate_user": f.string(u.get("as"), f"{where} as") or None,
        "impersonate_uid": f.string(u.get("as-uid"), f"{where} as-uid") or None,
        "impersonate_groups": f.strings(u.get("as-groups"), f"{where} as-groups"),
    }
    extra = []
    for key, value in f.mapping(u.get("as-user-extra"), f"{where} as-user-extra").items():
        extra.append((key, f.strings(value, f"{where} as-user-extra {key}")))
    settings["impersonate_extra"] = tuple(extra)
    if exec_node is not None and not _is_null(exec_node):
        if provider is not None and not _is_null(provider):
            raise f.fail(node, f"{where} sets both exec and auth-provider")
        settings["exec_plugin"] = _exec_plugin(f, exec_node, where)
    elif provider is not None and not _is_null(provider):
        settings.update(_auth_provider(f, provider, where))
    return settings


def _exec_plugin(f: _File, node: yaml.Node, where: str) -> ExecPlugin:
    e = f.mapping(node, f"{where} exec")
    command = f.string(e.get("command"), f"{where} exec command")
    if not command:
        raise f.fail(node, f"{where} exec has no command")
    if "/" in command and not os.path.isabs(command):
        command = str(f.base / command)  # client-go: only a command with a path is resolved
    api_version = f.string(e.get("apiVersion"), f"{where} exec apiVersion") or ""
    if api_version not in EXEC_API_VERSIONS:
        raise f.fail(
            node,
            f"{where} exec apiVersion must be one of {', '.join(EXEC_API_VERSIONS)} (got "
            f'"{quoted(api_version)}")',
        )
    mode = f.string(e.get("interactiveMode"), f"{where} exec interactiveMode")
    if mode is None:
        if api_version.endswith("/v1"):
            raise f.fail(node, f"{where} exec needs interactiveMode with {api_version}")
        mode = "IfAvailable"
    if mode not in ("Never", "IfAvailable", "Always"):
        raise f.fail(node, f"{where} exec interactiveMode must be Never, IfAvailable or Always")
    env = []
    for index, item in enumerate(f.sequence(e.get("env"), f"{where} exec env")):
        entry = f.mapping(item, f"{where} exec env[{index}]")
        env_name = f.string(entry.get("name"), f"{where} exec env[{index}].name")
        if not env_name:
            raise f.fail(item, f"{where} exec env[{index}] has no name")
        env.append(
            (env_name, f.string(entry.get("value"), f"{where} exec env[{index}].value") or "")
        )
    return ExecPlugin(
        command=command,
        args=f.strings(e.get("args"), f"{where} exec args"),
        env=tuple(env),
        api_version=api_version,
        install_hint=f.string(e.get("installHint"), f"{where} exec installHint") or "",
        provide_cluster_info=f.boolean(
            e.get("provideClusterInfo"), f"{where} exec provideClusterInfo"
        ),
        interactive_mode=mode,
    )


def _auth_provider(f: _File, node: yaml.Node, where: str) -> dict[str, Any]:
    """kubectl >= 1.26 keeps only the oidc provider; its current id-token is the credential."""
    p = f.mapping(node, f"{where} auth-provider")
    name = f.string(p.get("name"), f"{where} auth-provider name") or ""
    config = f.mapping(p.get("config"), f"{where} auth-provider config")
    token = f.string(config.get("id-token"), f"{where} auth-provider id-token")
    if name != "oidc" or not token:
        raise f.fail(
            node,
            f'{where} uses auth-provider "{quoted(name)}", which kubectl-userns does not '
            "run (kubectl 1.26+ removed the gcp and azure providers); use an exec credential "
            "plugin (e.g. gke-gcloud-auth-plugin, kubelogin)",
        )
    return {"token": token}


def parse_server(server: str, *, tls: bool, fail: Any) -> tuple[str, str | None]:
    """The server URL without userinfo, and the userinfo (client-go's DefaultServerURL)."""
    text = server.strip()
    if "://" not in text:
        text = ("https://" if tls else "http://") + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise fail(f'the server "{quoted(mask_url(server))}" is not a valid URL') from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(
            f'the server "{quoted(mask_url(server))}" must be an http:// or https:// URL '
            "with a host"
        )
    if any(not c.isprintable() or c.isspace() for c in text):
        raise fail(f'the server "{quoted(mask_url(server))}" contains control characters')
    userinfo = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
    del port
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), userinfo


def check_proxy_url(proxy: str, fail: Any, where: str = "") -> str:
    """A proxy URL as Go's http.ProxyURL takes it: http://, https:// or socks5:// with a host."""
    try:
        parts = urlsplit(proxy)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise fail(f"{where}proxy-url is not a valid URL") from None
    if parts.scheme not in ("http", "https", "socks5") or not parts.hostname:
        raise fail(f"{where}proxy-url must be an http://, https:// or socks5:// URL with a host")
    return proxy
