"""The Kubernetes API layer: KubeClient, read-only JSON access to the objects the tool needs.

The kubeconfig is read by :mod:`kubectl_userns.access.kubeconfig` (client-go's rules), requests
go through :mod:`kubectl_userns.access.http` (one deadline per request, Go's proxy rules, the
tool's User-Agent) and credentials come from :mod:`kubectl_userns.access.credentials`. Answers
are checked against :mod:`kubectl_userns.access.objects` before anything reads them. Every
failure is a domain error whose message is one printable line without secrets: the server is
shown with its userinfo masked, tokens and plugin output never appear.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlencode

from kubectl_userns.access import kubeconfig as kubeconfig_files
from kubectl_userns.access.api_errors import answer_error, status_message
from kubectl_userns.access.credentials import CredentialCache
from kubectl_userns.access.http import Deadline, TLSVerifyError, Transport
from kubectl_userns.access.objects import NAMESPACE, NODE, POD, checked, checked_items
from kubectl_userns.access.restconfig import RestConfig
from kubectl_userns.errors import (
    APIError,
    APIUnreachableError,
    KubeconfigError,
    NotFoundError,
    UsageError,
)
from kubectl_userns.options import ClusterOptions
from kubectl_userns.text import quoted

JSON = dict[str, Any]

kubeconfig_path = kubeconfig_files.kubeconfig_path


@dataclass(frozen=True)
class ApiAnswer:
    """One response of the API: status code and decoded body (a dict, or None if not JSON)."""

    status: int
    body: JSON | None


def apply_overrides(config: RestConfig, options: ClusterOptions) -> RestConfig:
    """``config`` with kubectl's global flags of ``options`` applied: the flags win, as
    client-go's DirectClientConfig merges its ConfigOverrides (kubernetes/kubernetes
    staging/src/k8s.io/client-go/tools/clientcmd/client_config.go getCluster, getAuthInfo)."""
    o = options
    changes: dict[str, Any] = {}
    if o.namespace:
        changes["namespace"] = o.namespace
    if o.insecure_skip_tls_verify or o.certificate_authority:
        # either flag replaces every CA setting of the kubeconfig (getCluster)
        changes.update(
            insecure=o.insecure_skip_tls_verify,
            ca_file=_path(o.certificate_authority),
            ca_data=None,
        )
    if o.tls_server_name or o.server:  # --server clears the kubeconfig's tls-server-name
        changes["tls_server_name"] = o.tls_server_name or None
    if o.token:
        changes.update(token=o.token, token_file=None)
    if o.client_certificate:  # the file replaces the kubeconfig's file and data (getAuthInfo)
        changes.update(client_cert_file=_path(o.client_certificate), client_cert_data=None)
    if o.client_key:
        changes.update(client_key_file=_path(o.client_key), client_key_data=None)
    if o.impersonate:
        changes["impersonate_user"] = o.impersonate
    if o.impersonate_groups:
        changes["impersonate_groups"] = o.impersonate_groups
    if o.impersonate_uid:
        changes["impersonate_uid"] = o.impersonate_uid
    config = replace(config, **changes)
    if o.server:
        tls = bool(
            config.ca_file
            or config.ca_data
            or config.insecure
            or config.client_cert_file
            or config.client_cert_data
        )
        url, userinfo = kubeconfig_files.parse_server(
            o.server, tls=tls, fail=lambda problem: UsageError(f"--server: {problem}.")
        )
        config = replace(config, server=url, server_userinfo=userinfo)
    return config


def _path(value: str | None) -> str | None:
    return os.path.expanduser(value) if value else None


def _bare_config(options: ClusterOptions) -> RestConfig:
    """What ``-s URL`` stands on without a kubeconfig (kubectl -s URL --token T needs none)."""
    return RestConfig(server="", namespace=options.namespace or "default", source="--server")


class KubeClient:
    """Read-only access to the objects kubectl-userns needs (thread-safe)."""

    def __init__(
        self, config: RestConfig, timeout: float | None = None, *, verbosity: int = 0
    ) -> None:
        self.config = config
        self.verbosity = verbosity  # -v: 6 and more log each request on stderr, as kubectl
        self.namespace = config.namespace
        self.server = config.server_display
        self._timeout = timeout if timeout else None
        self._transport = Transport(config)
        self._credentials = CredentialCache()
        self._cert_from_plugin: bytes | None = None
        self._lock = threading.Lock()
        self._file_token: str | None = None

    @classmethod
    def from_options(cls, options: ClusterOptions) -> KubeClient:
        """Load the kubeconfig (or the in-cluster config) the way kubectl does, then apply
        kubectl's global flags over it."""
        try:
            config = kubeconfig_files.load(
                options.kubeconfig,
                options.context,
                options.namespace,
                cluster=options.cluster,
                user=options.user,
            )
        except KubeconfigError:
            # kubectl -s URL needs no kubeconfig: none at all, or one without a current context
            if not options.server or options.kubeconfig or options.context:
                raise
            config = _bare_config(options)
        return cls(
            apply_overrides(config, options),
            options.request_timeout,
            verbosity=options.verbosity,
        )

    # --- credentials -------------------------------------------------------------------------

    def _auth_headers(self, deadline: Deadline) -> list[tuple[str, str]]:
        c = self.config
        headers: list[tuple[str, str]] = []
        token = c.token
        if c.exec_plugin is not None and not token:
            credential = self._credentials.get(c, deadline)
            token = credential.token
            if (
                credential.client_cert_data
                and credential.client_cert_data != self._cert_from_plugin
            ):
                with self._lock:
                    self._cert_from_plugin = credential.client_cert_data
                    self._transport = Transport(
                        replace(
                            c,
                            client_cert_file=None,
                            client_key_file=None,
                            client_cert_data=credential.client_cert_data,
                            client_key_data=credential.client_key_data,
                        )
                    )
        if not token and c.token_file:
            token = self._read_token_file(c.token_file)
        if token:
            headers.append(("Authorization", f"Bearer {token}"))
        elif c.username is not None or c.server_userinfo is not None:
            pair = (
                f"{c.username}:{c.password or ''}"
                if c.username is not None
                else _unquote_userinfo(c.server_userinfo or "")
            )
            headers.append(("Authorization", "Basic " + base64.b64encode(pair.encode()).decode()))
        if c.impersonate_user:
            headers.append(("Impersonate-User", c.impersonate_user))
        if c.impersonate_uid:
            headers.append(("Impersonate-Uid", c.impersonate_uid))
        for group in c.impersonate_groups:
            headers.append(("Impersonate-Group", group))
        for key, values in c.impersonate_extra:
            for value in values:
                headers.append((f"Impersonate-Extra-{quote(key, safe='')}", value))
        for name, value in headers:
            if any(ch in value for ch in "\r\n\0"):
                raise KubeconfigError(
                    f'the {name} header for user "{c.user}" would contain a line break; fix the '
                    "user's credentials in the kubeconfig."
                )
        return headers

    def _read_token_file(self, path: str) -> str:
        if self._file_token is None:
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    self._file_token = handle.read().strip()
            except OSError as exc:
                raise KubeconfigError(
                    f'cannot read the token file {path} of user "{self.config.user}" '
                    f"({exc.strerror or exc}); fix tokenFile in the kubeconfig."
                ) from None
        return self._file_token

    # --- raw access ------------------------------------------------------------------------

    def request(self, path: str, query: dict[str, str] | None = None) -> ApiAnswer:
        """GET ``path`` and return status and JSON body; connection failures raise."""
        status, raw = self.call("GET", path, query)
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            body = None
        return ApiAnswer(status, body if isinstance(body, dict) else None)

    def call(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        *,
        body: JSON | None = None,
        accept: str = "application/json",
    ) -> tuple[int, bytes]:
        """Send one request and return its status and raw body; connection failures raise."""
        deadline = Deadline(self._timeout)
        params = [(k, v) for k, v in (query or {}).items() if v]
        target = path + ("?" + urlencode(params) if params else "")
        headers = [("Accept", accept), *self._auth_headers(deadline)]
        data = None
        if body is not None:
            headers.append(("Content-Type", "application/json"))
            data = json.dumps(body).encode()
        transport = self._transport
        started = time.monotonic()
        try:
            answer = transport.send(method, target, headers, data, deadline, self._unreachable)
        except TLSVerifyError as exc:
            raise APIUnreachableError(
                f"the TLS certificate of the Kubernetes API at {self.server} did not verify for "
                f"the server name {exc.server_name} against {transport.ca_description()} "
                f"({quoted(exc.detail, 300)}); fix the cluster's certificate-authority, "
                "certificate-authority-data or tls-server-name in the kubeconfig."
            ) from None
        if self.verbosity >= 6:  # as kubectl -v=6 logs its round trips (no headers, no body)
            took = round((time.monotonic() - started) * 1000)
            url = quoted(f"{self.server}{target}", 2000)
            print(f"{method} {url} {answer[0]} in {took} milliseconds", file=sys.stderr)
        return answer

    def _unreachable(self, reason: str) -> APIUnreachableError:
        return APIUnreachableError(
            f"the Kubernetes API at {self.server} did not answer ({reason}); check that the "
            "cluster is up and the kubeconfig points at it."
        )

    def get(self, path: str, what: str, query: dict[str, str] | None = None) -> JSON:
        """GET ``path`` (described as ``what`` in errors) and insist on a 200 JSON object."""
        answer = self.request(path, query)
        if answer.status == 200 and answer.body is not None:
            return answer.body
        raise self._error(answer, what)

    def _error(self, answer: ApiAnswer, what: str) -> Exception:
        return answer_error(answer.status, answer.body, what, self.config)

    # --- objects ----------------------------------------------------------------------------

    def get_pod(self, name: str, namespace: str | None = None) -> JSON:
        ns = namespace or self.namespace
        what = f'pod "{name}" in namespace "{ns}"'
        answer = self.request(f"/api/v1/namespaces/{_seg(ns)}/pods/{_seg(name)}")
        if answer.status == 404:
            raise NotFoundError(
                f'pod "{name}" not found in namespace "{ns}"; list the pods with '
                f"'kubectl get pods -n {ns}' or pass -n NAMESPACE."
            )
        if answer.status == 200 and answer.body is not None:
            return checked(answer.body, POD, what)
        raise self._error(answer, what)

    def list_pods(
        self,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[JSON]:
        """Pods of ``namespace``, or of every namespace when it is None."""
        path = "/api/v1/pods" if namespace is None else f"/api/v1/namespaces/{_seg(namespace)}/pods"
        what = "pods in all namespaces" if namespace is None else f'pods in namespace "{namespace}"'
        body = self.get(
            path,
            what,
            {"labelSelector": label_selector or "", "fieldSelector": field_selector or ""},
        )
        return checked_items(body, POD, f"the list of {what}")

    def list_all(
        self, path: str, what: str, query: dict[str, str] | None = None, *, page: int = 500
    ) -> list[JSON]:
        """Every item of the list at ``path``, fetched ``page`` at a time with ``limit`` and
        ``continue`` as kubectl does (a 1,000-node cluster's pods in a few requests, none of
        them a timeout-prone giant answer)."""
        items: list[JSON] = []
        token = ""
        while True:
            body = self.get(path, what, {**(query or {}), "limit": str(page), "continue": token})
            found = body.get("items")
            if not isinstance(found, list):
                raise APIError(f"the Kubernetes API answered {what} without a list of items.")
            items += [item for item in found if isinstance(item, dict)]
            meta = body.get("metadata")
            token = str((meta or {}).get("continue") or "") if isinstance(meta, dict) else ""
            if not token:
                return items

    def get_node(self, name: str) -> JSON:
        answer = self.request(f"/api/v1/nodes/{_seg(name)}")
        if answer.status == 404:
            raise NotFoundError(
                f"node \"{name}\" not found; list the nodes with 'kubectl get nodes'."
            )
        if answer.status == 200 and answer.body is not None:
            return checked(answer.body, NODE, f'node "{name}"')
        raise self._error(answer, f'node "{name}"')

    def list_nodes(self, label_selector: str | None = None) -> list[JSON]:
        body = self.get("/api/v1/nodes", "nodes", {"labelSelector": label_selector or ""})
        return checked_items(body, NODE, "the list of nodes")

    def list_namespaces(self) -> list[JSON]:
        body = self.get("/api/v1/namespaces", "namespaces")
        return checked_items(body, NAMESPACE, "the list of namespaces")

    def get_configz(self, node: str) -> tuple[JSON | None, str]:
        """The kubelet's live configuration through the API server's node proxy.

        Returns ``(kubeletconfig, "")`` or ``(None, reason)``: an old kubelet, missing RBAC
        (``nodes/proxy``) or a proxy error is not fatal, the caller falls back to the node.
        """
        answer = self.request(f"/api/v1/nodes/{_seg(node)}/proxy/configz")
        if answer.status == 200 and answer.body is not None:
            inner = answer.body.get("kubeletconfig")
            if isinstance(inner, dict):
                return inner, ""
            return None, "the kubelet's /configz answer has no 'kubeletconfig' object"
        if answer.status == 403:
            return None, "403 Forbidden: RBAC does not allow get on nodes/proxy"
        message = status_message(answer.body)
        return None, f"HTTP {answer.status}{': ' + message if message else ''}"


def _seg(value: str) -> str:
    """One URL path segment, quoted so a name can never change the path."""
    return quote(value, safe="")


def _unquote_userinfo(userinfo: str) -> str:
    from urllib.parse import unquote

    user, _, password = userinfo.partition(":")
    return f"{unquote(user)}:{unquote(password)}"
