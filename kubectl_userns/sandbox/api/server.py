"""An HTTPS Kubernetes API emulator serving the sandbox's object store.

It speaks the real API's JSON shapes for what kubectl-userns and plain kubectl read: version
and discovery (:mod:`.discovery`), namespaces (:mod:`.namespaces`), pods (:mod:`.pods`) and
nodes with the kubelet's /configz through the node proxy (:mod:`.nodes`) - get, list, label and
field selectors (:mod:`.selectors`), server-side tables (:mod:`.tables`) - and Status errors
(:mod:`.status`). Pods can be created (POST) and deleted (DELETE); a created pod with the
``nodeName`` of a sandbox node is run there by a minimal kubelet
(:mod:`kubectl_userns.sandbox.kubelet`) and its output is served at ``pods/NAME/log``. It is
not a kube-apiserver: there is no admission, no watch and no other write path.

Run: ``python -m kubectl_userns.sandbox.api.server --store DIR --cert F --key F --token-file F
--ready-file F``; it writes its URL to the ready file once it listens. The sandbox starts and
stops it with :mod:`.launch`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kubectl_userns.sandbox.api import discovery, namespaces, nodes, openapi, pods, workloads
from kubectl_userns.sandbox.api.status import JSON, no_such_path, status_error
from kubectl_userns.sandbox.api.tables import to_table
from kubectl_userns.sandbox.store import ObjectStore

NOT_ALLOWED = (405, status_error(405, "MethodNotAllowed", "the server does not allow this method"))


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
        self._send_bytes(code, data, content_type)

    def _send_bytes(self, code: int, data: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        """A verified client certificate (its CN the user, its O the groups), else the bearer
        token: kube-apiserver's union authenticator tries x509 first (kubernetes/kubernetes
        pkg/kubeapiserver/authenticator/config.go)."""
        user = self._certificate_user()
        if user is None:
            if self.headers.get("Authorization", "") != f"Bearer {self.token}":
                return False
            user = {"username": "sandbox-admin", "groups": ["system:masters"]}
        self._audit(user)
        return True

    def _certificate_user(self) -> JSON | None:
        peer = getattr(self.connection, "getpeercert", lambda: None)()
        if not peer:  # no certificate, or none the CA signed (the handshake verified it)
            return None
        subject = [pair for rdn in peer.get("subject", ()) for pair in rdn]
        names = [value for key, value in subject if key == "commonName"]
        groups = [value for key, value in subject if key == "organizationName"]
        return {"username": names[0], "groups": groups} if names else None

    def _acting_as(self) -> JSON | None:
        """The user that Impersonate-* headers ask for (the token's user may impersonate
        anyone, as cluster-admin may), with the groups the apiserver's impersonation filter
        gives it (kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/endpoints/filters/
        impersonation.go): a service account without groups gets its default ones, and every
        user but system:anonymous also system:authenticated (anonymous: unauthenticated)."""
        name = self.headers.get("Impersonate-User")
        if not name:
            return None
        groups = list(self.headers.get_all("Impersonate-Group") or [])
        parts = name.split(":")
        if not groups and len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{parts[2]}"]
        if name != "system:anonymous":
            if not {"system:authenticated", "system:unauthenticated"} & set(groups):
                groups.append("system:authenticated")
        elif "system:unauthenticated" not in groups:
            groups.append("system:unauthenticated")
        user: JSON = {"username": name, "groups": groups}
        uid = self.headers.get("Impersonate-Uid")
        if uid:
            user["uid"] = uid
        return user

    def _audit(self, user: JSON) -> None:
        """One audit.k8s.io/v1 Event a request in the store's audit.log: who asked (``user``)
        and, when the request impersonates, ``impersonatedUser`` (the Event's field names)."""
        verbs = {"GET": "get", "POST": "create", "DELETE": "delete"}
        event: JSON = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "verb": verbs.get(self.command, self.command.lower()),
            "requestURI": self.path,
            "user": user,
        }
        acting = self._acting_as()
        if acting is not None:
            event["impersonatedUser"] = acting
        with open(self.store.root / "audit.log", "a", encoding="utf-8") as log:
            log.write(json.dumps(event) + "\n")

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
        if path == "/openapi/v3":
            self._send(200, openapi.index())
            return
        if path == "/openapi/v3/api/v1":
            self._send_bytes(200, openapi.group_document(), "application/json")
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
            code, text = pods.log(self.store, unquote(parts[4]), unquote(parts[6]))
            self._send(code, text, "text/plain" if isinstance(text, str) else "application/json")
            return
        try:
            code, body = self.route(path, query)
        except Exception as exc:  # a bug here must show as a 500, like a real server would
            code, body = 500, status_error(500, "InternalError", f"emulator error: {exc}")
        if (
            code == 200
            and "as=Table" in self.headers.get("Accept", "")
            and body.get("kind") in ("PodList", "NodeList", "Pod", "Node")
        ):
            kind = "pods" if body["kind"].startswith("Pod") else "nodes"
            items = body.get("items", [body])
            body = to_table(kind, items, query.get("includeObject", "PartialObjectMetadata"))
        self._send(code, body)

    def route(self, path: str, query: dict[str, str]) -> tuple[int, JSON]:
        parts = [unquote(p) for p in path.split("/") if p]
        found = discovery.get(path, parts) or workloads.get(self.store, parts, query)
        if found is None and parts[:2] == ["api", "v1"]:
            core = parts[2:]
            found = (
                pods.get(self.store, core, query)
                or nodes.get(self.store, core, query)
                or namespaces.get(self.store, core)
            )
        return found or (404, no_such_path())

    def _forbidden(self, path: str) -> bool:
        """Answer 403 when a line of the store's ``forbidden`` file matches the request.

        A line is a path prefix (every method) or ``METHOD PREFIX`` (that method only).
        """
        verbs = {"GET": "get", "POST": "create", "DELETE": "delete"}
        user = (self._acting_as() or {}).get("username", "sandbox-admin")
        for line in self.store.forbidden_prefixes():
            method, _, prefix = line.rpartition(" ")
            if path.startswith(prefix) and method in ("", self.command):
                verb = verbs.get(self.command, self.command.lower())
                self._send(
                    403,
                    status_error(
                        403,
                        "Forbidden",
                        f'{path} is forbidden: User "{user}" cannot {verb} this resource',
                    ),
                )
                return True
        return False

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
        target = self._write_target()
        if target is None:
            return
        if len(target) != 1:
            self._send(400, status_error(400, "BadRequest", "the body must be one Pod object"))
            return
        query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
        strict = query.get("fieldValidation") == "Strict"
        self._send(*pods.create(self.store, target[0], self.payload, strict=strict))

    def do_DELETE(self) -> None:
        target = self._write_target()
        if target is None:
            return
        if len(target) != 2:
            self._send(*NOT_ALLOWED)
            return
        self._send(*pods.delete(self.store, target[0], target[1]))

    def _refuse(self) -> None:
        self._body()
        if not self._authorized():
            self._send(401, status_error(401, "Unauthorized", "Unauthorized"))
            return
        self._send(*NOT_ALLOWED)

    do_PUT = do_PATCH = _refuse


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
    # client certificates are asked for, not required (kube-apiserver --client-ca-file)
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cert.parent / "ca.crt")
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
