"""The Kubernetes API layer: kubeconfig loading and raw JSON reads.

The ``kubernetes`` package does the hard parts (kubeconfig merging, certificates, tokens, exec
credential plugins); this module makes plain GET requests through its ``ApiClient`` and returns
plain dicts. The generated ``CoreV1Api`` is deliberately not imported: it alone costs about half
a second of start-up and gives nothing a raw JSON read does not.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kubectl_userns.errors import (
    APIError,
    APIRefusedError,
    APIUnreachableError,
    KubeconfigError,
    NotFoundError,
)
from kubectl_userns.options import ClusterOptions

JSON = dict[str, Any]


@dataclass(frozen=True)
class ApiAnswer:
    """One response of the API: status code and decoded body (a dict, or None if not JSON)."""

    status: int
    body: JSON | None


def kubeconfig_path(explicit: str | None) -> str:
    """The kubeconfig kubectl would read: --kubeconfig, else $KUBECONFIG, else ~/.kube/config.

    $KUBECONFIG is read at call time, not when the kubernetes package was imported.
    """
    return explicit or os.environ.get("KUBECONFIG") or "~/.kube/config"


class KubeClient:
    """Read-only access to the objects kubectl-userns needs."""

    def __init__(self, api_client: Any, namespace: str, server: str, timeout: float) -> None:
        self._api = api_client
        self.namespace = namespace
        self.server = server
        self._timeout = timeout

    @classmethod
    def from_options(cls, options: ClusterOptions) -> KubeClient:
        """Load the kubeconfig (or the in-cluster config) the way kubectl does."""
        from kubernetes import config  # heavy: only on paths that talk to a cluster
        from kubernetes.config.config_exception import ConfigException

        path = kubeconfig_path(options.kubeconfig)
        try:
            contexts, active = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
                config_file=path
            )
            chosen = active
            if options.context is not None:
                matches = [c for c in contexts if c.get("name") == options.context]
                if not matches:
                    names = ", ".join(sorted(str(c.get("name")) for c in contexts)) or "none"
                    raise KubeconfigError(
                        f'context "{options.context}" is not in the kubeconfig '
                        f"(contexts: {names}); pick one with --context."
                    )
                chosen = matches[0]
            api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=path, context=options.context
            )
            namespace = options.namespace or (chosen or {}).get("context", {}).get("namespace")
        except ConfigException as exc:
            if options.kubeconfig is None and not options.context:
                api_client = _in_cluster_client()
                if api_client is not None:
                    return cls(
                        api_client,
                        options.namespace or _in_cluster_namespace(),
                        api_client.configuration.host,
                        options.request_timeout,
                    )
            raise KubeconfigError(
                f"cannot load the kubeconfig ({_first_line(exc)}); point --kubeconfig or "
                "KUBECONFIG at a valid file."
            ) from None
        except OSError as exc:
            raise KubeconfigError(
                f"cannot read the kubeconfig: {exc.strerror or exc}; point --kubeconfig or "
                "KUBECONFIG at a readable file."
            ) from None
        return cls(
            api_client,
            namespace or "default",
            api_client.configuration.host,
            options.request_timeout,
        )

    # --- raw access ------------------------------------------------------------------------

    def request(self, path: str, query: dict[str, str] | None = None) -> ApiAnswer:
        """GET ``path`` and return status and JSON body; connection failures raise."""
        status, raw = self.call("GET", path, query)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
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
        import urllib3

        params = [(k, v) for k, v in (query or {}).items() if v]
        headers_in = {"Accept": accept}
        if body is not None:
            headers_in["Content-Type"] = "application/json"
        method, url, headers, data, _post = self._api.param_serialize(
            method,
            path,
            query_params=params,
            header_params=headers_in,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self._api.call_api(
                method, url, header_params=headers, body=data, _request_timeout=self._timeout
            )
            raw = response.read()
        except urllib3.exceptions.MaxRetryError as exc:
            raise APIUnreachableError(
                f"the Kubernetes API at {self.server} did not answer ({_reason(exc.reason)}); "
                "check that the cluster is up and the kubeconfig points at it."
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise APIUnreachableError(
                f"the Kubernetes API at {self.server} did not answer ({_reason(exc)}); "
                "check that the cluster is up and the kubeconfig points at it."
            ) from None
        except Exception as exc:  # the client wraps TLS failures in ApiException(status=0)
            if getattr(exc, "status", None) == 0:
                raise APIUnreachableError(
                    f"cannot talk to the Kubernetes API at {self.server} "
                    f"({_first_line(getattr(exc, 'reason', exc))}); check the kubeconfig's "
                    "server address and certificate authority."
                ) from None
            raise
        return int(response.status), bytes(raw or b"")

    def get(self, path: str, what: str, query: dict[str, str] | None = None) -> JSON:
        """GET ``path`` (described as ``what`` in errors) and insist on a 200 JSON object."""
        answer = self.request(path, query)
        if answer.status == 200 and answer.body is not None:
            return answer.body
        raise self._error(answer, what)

    def _error(self, answer: ApiAnswer, what: str) -> Exception:
        message = (answer.body or {}).get("message") or f"HTTP {answer.status}"
        if answer.status == 401:
            return APIRefusedError(
                f"the Kubernetes API refused the credentials (401 Unauthorized) while reading "
                f"{what}; renew them, e.g. log in again or fix the token in the kubeconfig."
            )
        if answer.status == 403:
            return APIRefusedError(
                f"the Kubernetes API forbids reading {what} (403 Forbidden: {message}); ask for "
                "RBAC permission to get it."
            )
        if answer.status == 404:
            return NotFoundError(f"{what} not found.")
        return APIError(f"the Kubernetes API answered {answer.status} for {what}: {message}.")

    # --- objects ----------------------------------------------------------------------------

    def get_pod(self, name: str, namespace: str | None = None) -> JSON:
        ns = namespace or self.namespace
        answer = self.request(f"/api/v1/namespaces/{_seg(ns)}/pods/{_seg(name)}")
        if answer.status == 404:
            raise NotFoundError(
                f'pod "{name}" not found in namespace "{ns}"; list the pods with '
                f"'kubectl get pods -n {ns}' or pass -n NAMESPACE."
            )
        if answer.status == 200 and answer.body is not None:
            return answer.body
        raise self._error(answer, f'pod "{name}" in namespace "{ns}"')

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
        return list(body.get("items") or [])

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
            return answer.body
        raise self._error(answer, f'node "{name}"')

    def list_nodes(self, label_selector: str | None = None) -> list[JSON]:
        body = self.get("/api/v1/nodes", "nodes", {"labelSelector": label_selector or ""})
        return list(body.get("items") or [])

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
        message = (answer.body or {}).get("message") or ""
        return None, f"HTTP {answer.status}{': ' + message if message else ''}"


def _seg(value: str) -> str:
    """One URL path segment, quoted so a name can never change the path."""
    return quote(value, safe="")


def _reason(exc: object) -> str:
    text = _first_line(exc)
    for marker in (
        "Connection refused",
        "timed out",
        "Name or service not known",
        "No route to host",
        "certificate verify failed",
    ):
        if marker.lower() in text.lower():
            return marker.lower()
    return text


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


def _in_cluster_client() -> Any:
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except ConfigException:
        return None
    return client.ApiClient()


def _in_cluster_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as handle:
            return handle.read().strip() or "default"
    except OSError:
        return "default"
