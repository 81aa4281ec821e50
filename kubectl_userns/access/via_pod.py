"""Node access through Kubernetes itself (``--via pod``): a short-lived probe pod per node.

For clusters without SSH to the nodes (EKS, GKE, AKS): the probe script runs in a pod pinned to
the node with ``nodeName``, and its output comes back through the pod's log. The pod is created,
waited for, read and deleted - deleted always, also when the probe fails, the wait times out or
the user presses Ctrl-C.

The pod itself, and why it gets what it gets: :mod:`.probe_pod`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from kubectl_userns.access.node import ProbeOutput
from kubectl_userns.access.probe_pod import (
    CONTAINER,
    PodAccessOptions,
    probe_pod_manifest,
    split_log,
)
from kubectl_userns.errors import (
    APIRefusedError,
    NodeUnreachableError,
    ProbeError,
    UsernsError,
)

# container waiting reasons after which the probe pod will never run (kubelet's image and
# container-creation errors)
_STUCK = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
}


def _seg(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


class PodRunner:
    """Runs a probe script on a node in a probe pod (a :class:`NodeRunner`)."""

    def __init__(
        self,
        client: Any,
        node: str,
        options: PodAccessOptions,
        *,
        kubelet_root: str,
        cancel: threading.Event | None = None,
        host_root: bool = False,
        privileged: bool = False,
    ) -> None:
        self.node = node
        self._host_root = host_root
        self._privileged = privileged
        self._client = client
        self._options = options
        self._kubelet_root = kubelet_root
        self._cancel = cancel or threading.Event()

    def _pods(self, name: str = "") -> str:
        base = f"/api/v1/namespaces/{_seg(self._options.namespace)}/pods"
        return f"{base}/{_seg(name)}" if name else base

    def _refused(self, verb: str, resource: str, status: int, raw: bytes) -> UsernsError:
        ns = self._options.namespace
        if status == 403:
            return APIRefusedError(
                f"the Kubernetes API forbids {verb} {resource} in namespace {ns} (403), which "
                f"--via pod needs; ask for RBAC permission to {verb} {resource} there, or pick "
                "another --probe-namespace."
            )
        if status == 401:
            return APIRefusedError(
                "the Kubernetes API refused the credentials (401 Unauthorized); renew them."
            )
        text = raw.decode(errors="replace")
        try:
            import json

            text = str(json.loads(text).get("message") or text)
        except ValueError:
            pass
        return ProbeError(
            f"the Kubernetes API answered {status} to {verb} {resource} in namespace {ns} for "
            f"the probe of node {self.node}: {text.strip()[:300]}."
        )

    def run(self, script: str, args: Sequence[str]) -> ProbeOutput:
        name = f"kubectl-userns-probe-{os.urandom(4).hex()}"
        manifest = probe_pod_manifest(
            name,
            self.node,
            script,
            args,
            kubelet_root=self._kubelet_root,
            image=self._options.image,
            namespace=self._options.namespace,
            deadline=int(self._options.timeout) + 30,
            host_root=self._host_root,
            privileged=self._privileged,
        )
        may_exist = True  # until the API says it stored nothing
        failure: BaseException | None = None
        try:
            status, raw = self._client.call("POST", self._pods(), body=manifest)
            if status not in (200, 201):
                may_exist = False  # refused (403, 409, ...): nothing of ours to delete
                raise self._refused("create", "pods", status, raw)
            pod = self._wait(name)
            state = _terminated(pod)
            status, raw = self._client.call(
                "GET", self._pods(name) + "/log", {"container": CONTAINER}, accept="text/plain"
            )
            if status != 200:
                raise self._refused("get", "pods/log", status, raw)
            stdout, stderr = split_log(raw.decode(errors="replace"))
            return ProbeOutput(stdout, stderr, int(state.get("exitCode", 1)))
        except BaseException as exc:
            failure = exc
            raise
        finally:
            # always, also on errors and Ctrl-C; a pod whose POST was cut short may exist too.
            # A failure to delete never hides the failure that came first: it is added to it.
            if may_exist:
                try:
                    self._delete(name)
                except UsernsError as cleanup:
                    if failure is None:
                        raise
                    if isinstance(failure, UsernsError):
                        failure.message = f"{failure.message.rstrip('.')}; also {cleanup.message}"

    def _wait(self, name: str) -> dict[str, Any]:

        deadline = time.monotonic() + self._options.timeout
        pause = 0.02
        started = time.monotonic()
        while True:
            status, raw = self._client.call("GET", self._pods(name))
            if status != 200:
                raise self._refused("get", "pods", status, raw)
            pod = _pod_answer(raw, name, self.node)
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed") and _terminated(pod):
                return pod
            for entry in (pod.get("status") or {}).get("containerStatuses") or []:
                waiting = (entry.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in _STUCK:
                    raise ProbeError(
                        f"the probe pod {name} on node {self.node} cannot start "
                        f"({waiting['reason']}: {waiting.get('message', '')[:200]}); check "
                        f"--image {self._options.image} (it must be pullable from the node)."
                    )
            if time.monotonic() > deadline:
                raise NodeUnreachableError(
                    f"the probe pod {name} on node {self.node} did not finish within "
                    f"{self._options.timeout:g} s (phase {phase or 'unknown'}); check that the "
                    "node is Ready and has /etc/subuid and /etc/subgid, or raise --probe-timeout."
                )
            if self._cancel.wait(pause):
                raise KeyboardInterrupt
            # a probe usually ends within seconds: poll often then, seldom while an image pulls
            waited = time.monotonic() - started
            pause = min(pause * 1.5, 0.2 if waited < 5 else 1.0)

    def _delete(self, name: str) -> None:
        query = {"gracePeriodSeconds": "0"}
        try:
            status, _ = self._client.call("DELETE", self._pods(name), query)
        except UsernsError:
            status = 0
        if status in (200, 202, 404):
            return  # 404: never stored (POST cut short) or deleted already
        ns = self._options.namespace
        why = "403: RBAC does not allow delete on pods" if status == 403 else f"HTTP {status}"
        raise APIRefusedError(
            f"could not delete the probe pod {name} in namespace {ns} ({why or 'no answer'}); "
            f"delete it with 'kubectl delete pod -n {ns} {name}'."
        )

    def close(self) -> None:
        return None


def _pod_answer(raw: bytes, name: str, node: str) -> dict[str, Any]:
    """The probe pod as the API answered it, checked like every pod the tool reads."""
    import json

    from kubectl_userns.access.objects import POD, checked

    try:
        pod = json.loads(raw)
    except (ValueError, RecursionError):
        raise ProbeError(
            f"the Kubernetes API answered the probe pod {name} of node {node} with something "
            "that is not JSON; the API server, or a proxy in front of it, is broken."
        ) from None
    return checked(pod, POD, f"the probe pod {name} of node {node}")


def _terminated(pod: dict[str, Any]) -> dict[str, Any]:
    for entry in (pod.get("status") or {}).get("containerStatuses") or []:
        if entry.get("name") == CONTAINER:
            state = (entry.get("state") or {}).get("terminated")
            if isinstance(state, dict):
                return state
    return {}
