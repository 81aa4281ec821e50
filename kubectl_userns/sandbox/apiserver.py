"""An HTTPS Kubernetes API emulator serving the sandbox's object store.

It speaks the real API's JSON shapes for what kubectl-userns and plain kubectl read: version,
discovery, namespaces, pods and nodes (get, list, label and field selectors, server-side
tables), the kubelet's /configz through the node proxy, and Status errors. Pods can be created
(POST) and deleted (DELETE); a created pod with the ``nodeName`` of a sandbox node is run there
by a minimal kubelet (:mod:`kubectl_userns.sandbox.kubelet`) and its output is served at
``pods/NAME/log``. It is not a kube-apiserver: there is no admission, no watch and no other
write path.

Run: ``python -m kubectl_userns.sandbox.apiserver --store DIR --cert F --key F --token-file F
--ready-file F``; it writes its URL to the ready file once it listens.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kubectl_userns.sandbox.store import ObjectStore

JSON = dict[str, Any]
SERVER_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.1",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2025-05-15T00:00:00Z",
    "goVersion": "go1.24.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _resource(name: str, kind: str, namespaced: bool, verbs: list[str], short: list[str]) -> JSON:
    entry: JSON = {
        "name": name,
        "singularName": kind.lower(),
        "namespaced": namespaced,
        "kind": kind,
        "verbs": verbs,
    }
    if short:
        entry["shortNames"] = short
    return entry


READ = ["get", "list"]
WRITE = ["create", "delete", "get", "list", "patch", "update", "watch"]
CORE_RESOURCES = [
    _resource("namespaces", "Namespace", False, READ, ["ns"]),
    _resource("nodes", "Node", False, READ, ["no"]),
    _resource("nodes/proxy", "NodeProxyOptions", False, ["get"], []),
    _resource("pods", "Pod", True, WRITE, ["po"]),
    _resource("pods/log", "Pod", True, ["get"], []),
    _resource("services", "Service", True, WRITE, ["svc"]),
    _resource("configmaps", "ConfigMap", True, WRITE, ["cm"]),
    _resource("secrets", "Secret", True, WRITE, []),
    _resource("serviceaccounts", "ServiceAccount", True, WRITE, ["sa"]),
]
GROUPS: dict[str, list[JSON]] = {
    "apps": [
        _resource("deployments", "Deployment", True, WRITE, ["deploy"]),
        _resource("statefulsets", "StatefulSet", True, WRITE, ["sts"]),
        _resource("daemonsets", "DaemonSet", True, WRITE, ["ds"]),
        _resource("replicasets", "ReplicaSet", True, WRITE, ["rs"]),
    ],
    "batch": [
        _resource("jobs", "Job", True, WRITE, []),
        _resource("cronjobs", "CronJob", True, WRITE, ["cj"]),
    ],
}


# --- selectors -------------------------------------------------------------------------------

_SET_TERM = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split at commas that are not inside a ``(...)`` value set."""
    terms, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t.strip() for t in terms if t.strip()]


def label_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in _split_terms(selector):
        match = _SET_TERM.match(term)
        if match:
            key, op, values = match.groups()
            wanted = {v.strip() for v in values.split(",")}
            present = labels.get(key) in wanted
            if (op == "in" and not present) or (op == "notin" and present):
                return False
            continue
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field(obj: JSON, path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def field_matches(selector: str, obj: JSON) -> bool:
    for term in _split_terms(selector):
        if "!=" in term:
            path, value = term.split("!=", 1)
            if _field(obj, path.strip()) == value.strip():
                return False
        elif "=" in term:
            path, value = term.replace("==", "=").split("=", 1)
            if _field(obj, path.strip()) != value.strip():
                return False
    return True


# --- tables ----------------------------------------------------------------------------------


def _age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    seconds = max(0, int((datetime.now(timezone.utc) - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _column(name: str, kind: str = "string", priority: int = 0, fmt: str = "") -> JSON:
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


def _pod_cells(pod: JSON) -> list[Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    status = pod.get("status") or {}
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        status.get("phase", "Unknown"),
        restarts,
        _age(pod["metadata"].get("creationTimestamp")),
        status.get("podIP") or "<none>",
        (pod.get("spec") or {}).get("nodeName") or "<none>",
        "<none>",
        "<none>",
    ]


POD_COLUMNS = [
    _column("Name", fmt="name"),
    _column("Ready"),
    _column("Status"),
    _column("Restarts", "string"),
    _column("Age"),
    _column("IP", priority=1),
    _column("Node", priority=1),
    _column("Nominated Node", priority=1),
    _column("Readiness Gates", priority=1),
]


def _node_cells(node: JSON) -> list[Any]:
    status = node.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    labels = (node.get("metadata") or {}).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    info = status.get("nodeInfo") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    return [
        node["metadata"]["name"],
        "Ready" if ready else "NotReady",
        ",".join(roles) or "<none>",
        _age(node["metadata"].get("creationTimestamp")),
        info.get("kubeletVersion", ""),
        addresses.get("InternalIP") or "<none>",
        addresses.get("ExternalIP") or "<none>",
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


NODE_COLUMNS = [
    _column("Name", fmt="name"),
    _column("Status"),
    _column("Roles"),
    _column("Age"),
    _column("Version"),
    _column("Internal-IP", priority=1),
    _column("External-IP", priority=1),
    _column("OS-Image", priority=1),
    _column("Kernel-Version", priority=1),
    _column("Container-Runtime", priority=1),
]


def to_table(kind: str, items: list[JSON], include_object: str) -> JSON:
    columns, cells = (POD_COLUMNS, _pod_cells) if kind == "pods" else (NODE_COLUMNS, _node_cells)
    rows = []
    for item in items:
        if include_object == "Object":
            embedded = item
        else:
            embedded = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": item.get("metadata") or {},
            }
        rows.append({"cells": cells(item), "object": embedded})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "1"},
        "columnDefinitions": columns,
        "rows": rows,
    }


# --- the server ------------------------------------------------------------------------------


def status_error(code: int, reason: str, message: str, details: JSON | None = None) -> JSON:
    body: JSON = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class Handler(BaseHTTPRequestHandler):
    server_version = "kube-apiserver-emulator"
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without TCP_NODELAY the body waits for the
    # client's delayed ACK (~40 ms per request)
    disable_nagle_algorithm = True
    store: ObjectStore
    token: str
    payload: JSON | None = None

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}\n")

    def _send(self, code: int, body: JSON | str, content_type: str = "application/json") -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {self.token}"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if path in ("/healthz", "/livez", "/readyz"):
            self._send(200, "ok", "text/plain")
            return
        if not self._authorized():
            self._send(401, status_error(401, "Unauthorized", "Unauthorized"))
            return
        if self._forbidden(path):
            return
        parts = path.split("/")
        if (
            len(parts) == 8
            and parts[1:4] == ["api", "v1", "namespaces"]
            and parts[5:8:2]
            == [
                "pods",
                "log",
            ]
        ):
            self._send_log(unquote(parts[4]), unquote(parts[6]))
            return
        try:
            code, body = self.route(path, query)
        except Exception as exc:  # a bug here must show as a 500, like a real server would
            code, body = 500, status_error(500, "InternalError", f"emulator error: {exc}")
        if (
            code == 200
            and "as=Table" in self.headers.get("Accept", "")
            and body.get("kind")
            in (
                "PodList",
                "NodeList",
                "Pod",
                "Node",
            )
        ):
            kind = "pods" if body["kind"].startswith("Pod") else "nodes"
            items = body.get("items", [body])
            body = to_table(kind, items, query.get("includeObject", "PartialObjectMetadata"))
        self._send(code, body)

    def route(self, path: str, query: dict[str, str]) -> tuple[int, JSON]:
        parts = [unquote(p) for p in path.split("/") if p]
        if path == "/version":
            return 200, dict(SERVER_VERSION)
        if path == "/api":
            return 200, {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}
                ],
            }
        if path == "/apis":
            return 200, {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": group,
                        "versions": [{"groupVersion": f"{group}/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": f"{group}/v1", "version": "v1"},
                    }
                    for group in GROUPS
                ],
            }
        if path == "/api/v1":
            return 200, {
                "kind": "APIResourceList",
                "groupVersion": "v1",
                "resources": CORE_RESOURCES,
            }
        if len(parts) == 3 and parts[0] == "apis" and parts[1] in GROUPS and parts[2] == "v1":
            return 200, {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{parts[1]}/v1",
                "resources": GROUPS[parts[1]],
            }
        if parts[:2] == ["api", "v1"]:
            return self.core(parts[2:], query)
        if len(parts) >= 6 and parts[0] == "apis" and parts[3] == "namespaces":
            # workloads: the sandbox has none; a GET of one is a NotFound, as on an empty cluster
            resource, name = parts[5], parts[6] if len(parts) > 6 else None
            if name is None:
                kind = resource[:-1].capitalize() + "List"
                return 200, {
                    "kind": kind,
                    "apiVersion": f"{parts[1]}/{parts[2]}",
                    "metadata": {"resourceVersion": "1"},
                    "items": [],
                }
            return 404, _not_found(resource, name, parts[1])
        return 404, status_error(
            404, "NotFound", "the server could not find the requested resource"
        )

    def core(self, parts: list[str], query: dict[str, str]) -> tuple[int, JSON]:
        if parts == ["pods"]:
            return 200, self.pod_list(None, query)
        if parts == ["nodes"]:
            nodes = [
                n
                for n in self.store.list("nodes")
                if label_matches(query.get("labelSelector", ""), n["metadata"].get("labels") or {})
                and field_matches(query.get("fieldSelector", ""), n)
            ]
            return 200, _list("NodeList", nodes)
        if len(parts) == 2 and parts[0] == "nodes":
            node = self.store.get("nodes", parts[1])
            return (200, node) if node else (404, _not_found("nodes", parts[1]))
        if len(parts) == 4 and parts[0] == "nodes" and parts[2:] == ["proxy", "configz"]:
            if self.store.get("nodes", parts[1]) is None:
                return 404, _not_found("nodes", parts[1])
            configz = self.store.get_configz(parts[1])
            if configz is None:
                return 503, status_error(
                    503, "ServiceUnavailable", f"error trying to reach service: node {parts[1]}"
                )
            return 200, configz
        if parts == ["namespaces"]:
            return 200, _list("NamespaceList", [_namespace(n) for n in self.namespaces()])
        if len(parts) == 2 and parts[0] == "namespaces":
            if parts[1] in self.namespaces():
                return 200, _namespace(parts[1])
            return 404, _not_found("namespaces", parts[1])
        if len(parts) == 3 and parts[0] == "namespaces" and parts[2] == "pods":
            return 200, self.pod_list(parts[1], query)
        if len(parts) == 4 and parts[0] == "namespaces" and parts[2] == "pods":
            pod = self.store.get("pods", parts[3], parts[1])
            return (200, pod) if pod else (404, _not_found("pods", parts[3]))
        if len(parts) >= 3 and parts[0] == "namespaces":
            if len(parts) == 3:
                return 200, _list(parts[2].capitalize()[:-1] + "List", [])
            return 404, _not_found(parts[2], parts[3])
        return 404, status_error(
            404, "NotFound", "the server could not find the requested resource"
        )

    def namespaces(self) -> list[str]:
        found = {"default", "kube-system", "kube-public", "kube-node-lease"}
        root = self.store.root / "pods"
        if root.is_dir():
            found.update(p.name for p in root.iterdir() if p.is_dir())
        return sorted(found)

    def pod_list(self, namespace: str | None, query: dict[str, str]) -> JSON:
        pods = [
            p
            for p in self.store.list("pods", namespace)
            if label_matches(query.get("labelSelector", ""), p["metadata"].get("labels") or {})
            and field_matches(query.get("fieldSelector", ""), p)
        ]
        return _list("PodList", pods)

    def _forbidden(self, path: str) -> bool:
        """Answer 403 when a line of the store's ``forbidden`` file matches the request.

        A line is a path prefix (every method) or ``METHOD PREFIX`` (that method only).
        """
        verbs = {"GET": "get", "POST": "create", "DELETE": "delete"}
        for line in self.store.forbidden_prefixes():
            method, _, prefix = line.rpartition(" ")
            if path.startswith(prefix) and method in ("", self.command):
                verb = verbs.get(self.command, self.command.lower())
                self._send(
                    403,
                    status_error(
                        403,
                        "Forbidden",
                        f'{path} is forbidden: User "sandbox-admin" cannot {verb} this resource',
                    ),
                )
                return True
        return False

    def _send_log(self, namespace: str, name: str) -> None:
        from kubectl_userns.sandbox.kubelet import log_path

        pod = self.store.get("pods", name, namespace)
        if pod is None:
            self._send(404, _not_found("pods", name))
            return
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        path = log_path(self.store, namespace, name)
        if not statuses or not path.exists():
            container = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("name", "")
            self._send(
                400,
                status_error(
                    400,
                    "BadRequest",
                    f'container "{container}" in pod "{name}" is waiting to start: '
                    "ContainerCreating",
                ),
            )
            return
        self._send(200, path.read_text(errors="replace"), "text/plain")

    def _body(self) -> JSON | None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length)) if length else None
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _write_target(self) -> list[str] | None:
        """``[namespace]`` or ``[namespace, name]`` of a pods write request, else None.

        The request body is read first (into ``self.payload``): a body left unread would be
        taken for the next request on this keep-alive connection.
        """
        self.payload = self._body()
        if not self._authorized():
            self._send(401, status_error(401, "Unauthorized", "Unauthorized"))
            return None
        path = urlsplit(self.path).path.rstrip("/")
        if self._forbidden(path):
            return None
        parts = [unquote(p) for p in path.split("/") if p]
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) in (5, 6) and parts[4] == "pods":
            return [parts[3], *parts[5:]]
        self._send(
            405, status_error(405, "MethodNotAllowed", "the server does not allow this method")
        )
        return None

    def do_POST(self) -> None:
        from kubectl_userns.sandbox import kubelet

        target = self._write_target()
        if target is None:
            return
        body = self.payload
        if len(target) != 1 or body is None or body.get("kind", "Pod") != "Pod":
            self._send(400, status_error(400, "BadRequest", "the body must be one Pod object"))
            return
        namespace = target[0]
        meta = body.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + os.urandom(3).hex()[:5]
        name = meta.get("name")
        if not name:
            self._send(
                422,
                status_error(422, "Invalid", "Pod is invalid: metadata.name: Required value"),
            )
            return
        if meta.get("namespace", namespace) != namespace:
            self._send(
                400,
                status_error(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                ),
            )
            return
        if self.store.get("pods", name, namespace) is not None:
            self._send(
                409,
                status_error(
                    409,
                    "AlreadyExists",
                    f'pods "{name}" already exists',
                    {"name": name, "kind": "pods"},
                ),
            )
            return
        meta["namespace"] = namespace
        meta.pop("uid", None)
        meta.pop("resourceVersion", None)
        body.update({"kind": "Pod", "apiVersion": "v1"})
        body["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        created = self.store.put("pods", body)
        kubelet.start(self.store, created)
        self._send(201, created)

    def do_DELETE(self) -> None:
        from kubectl_userns.sandbox import kubelet

        target = self._write_target()
        if target is None:
            return
        if len(target) != 2:
            self._send(
                405, status_error(405, "MethodNotAllowed", "the server does not allow this method")
            )
            return
        deleted = kubelet.delete(self.store, target[0], target[1])
        if deleted is None:
            self._send(404, _not_found("pods", target[1]))
            return
        self._send(200, deleted)

    def _refuse(self) -> None:
        self._body()
        if not self._authorized():
            self._send(401, status_error(401, "Unauthorized", "Unauthorized"))
            return
        self._send(
            405, status_error(405, "MethodNotAllowed", "the server does not allow this method")
        )

    do_PUT = do_PATCH = _refuse


def _list(kind: str, items: list[JSON]) -> JSON:
    return {
        "kind": kind,
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(int(time.time()))},
        "items": items,
    }


def _namespace(name: str) -> JSON:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _not_found(resource: str, name: str, group: str = "") -> JSON:
    kind = resource if not group else f"{resource}.{group}"
    return status_error(
        404, "NotFound", f'{kind} "{name}" not found', {"name": name, "kind": resource}
    )


def serve(
    store: Path, cert: Path, key: Path, token: str, ready: Path, host: str, port: int
) -> None:
    class BoundHandler(Handler):
        pass

    BoundHandler.store = ObjectStore(store)
    BoundHandler.token = token
    server = ThreadingHTTPServer((host, port), BoundHandler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))
    url = f"https://{host}:{server.server_address[1]}"
    tmp = ready.with_name(ready.name + ".tmp")
    tmp.write_text(url)
    os.replace(tmp, ready)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


@dataclass(frozen=True)
class ApiServer:
    url: str
    ca_path: Path
    token: str
    pid: int
    log_path: Path


def start_apiserver(state_dir: Path, store_root: Path) -> ApiServer:
    """Start the emulator as a detached process (it outlives its parent) and wait for it."""
    from kubectl_userns.sandbox.certs import make_ca_and_server_cert

    state_dir.mkdir(parents=True, exist_ok=True)
    store_root.mkdir(parents=True, exist_ok=True)
    ca, cert, key = make_ca_and_server_cert(state_dir / "pki")
    token = os.urandom(24).hex()
    token_file = state_dir / "pki" / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    ready = state_dir / "apiserver.url"
    ready.unlink(missing_ok=True)
    log_path = state_dir / "apiserver.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubectl_userns.sandbox.apiserver",
                "--store",
                str(store_root),
                "--cert",
                str(cert),
                "--key",
                str(key),
                "--token-file",
                str(token_file),
                "--ready-file",
                str(ready),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    deadline = time.monotonic() + 10
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the API emulator did not start; see {log_path}")
        time.sleep(0.01)
    return ApiServer(ready.read_text().strip(), ca, token, proc.pid, log_path)


def stop_apiserver(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(200):
        try:
            os.kill(pid, 0)
            done, _status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        except ChildProcessError:
            pass  # not our child: poll with kill(0) only
        except ProcessLookupError:
            return
        time.sleep(0.01)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="kubectl-userns sandbox API emulator")
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--token-file", type=Path, required=True)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve(
        args.store,
        args.cert,
        args.key,
        args.token_file.read_text().strip(),
        args.ready_file,
        args.host,
        args.port,
    )


if __name__ == "__main__":
    main()
