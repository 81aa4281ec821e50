"""Credentials for a request: token, token file, basic auth, or an exec credential plugin.

The exec protocol is client-go's (kubernetes/kubernetes
staging/src/k8s.io/client-go/plugin/pkg/client/auth/exec/exec.go): the plugin gets
``KUBERNETES_EXEC_INFO`` (an ``ExecCredential`` with ``spec.interactive`` and, with
``provideClusterInfo``, ``spec.cluster``), prints an ``ExecCredential`` whose ``status`` holds a
``token`` or ``clientCertificateData``/``clientKeyData``, and its answer is kept until
``expirationTimestamp``. Interactive plugins (a terminal on stdin and ``interactiveMode`` not
``Never``) get the terminal, as with kubectl.

Unlike client-go, a non-interactive plugin's stderr is never shown: a failing plugin may print
the token it could not use. Its failure is one sentence that names the plugin and how to run
it by hand. The plugin runs within the request's deadline and is killed (its whole process
group) when the deadline passes.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

from kubectl_userns.access.http import Deadline
from kubectl_userns.access.restconfig import ExecPlugin, RestConfig
from kubectl_userns.errors import CredentialError
from kubectl_userns.text import quoted


@dataclass(frozen=True)
class Credential:
    """What an exec plugin returned."""

    token: str | None = None
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None
    expires: datetime | None = None

    def expired(self) -> bool:
        return self.expires is not None and datetime.now(timezone.utc) >= self.expires


def _by_hand(plugin: ExecPlugin) -> str:
    return shlex.join([plugin.command, *plugin.args])


def _who(config: RestConfig) -> str:
    return f'the credential plugin of user "{config.user}" ({quoted(plugin_name(config), 300)})'


def plugin_name(config: RestConfig) -> str:
    return config.exec_plugin.command if config.exec_plugin else ""


def _exec_info(config: RestConfig, plugin: ExecPlugin, interactive: bool) -> str:
    spec: dict[str, object] = {"interactive": interactive}
    if plugin.provide_cluster_info:
        cluster: dict[str, object] = {"server": config.server}
        if config.tls_server_name:
            cluster["tls-server-name"] = config.tls_server_name
        if config.insecure:
            cluster["insecure-skip-tls-verify"] = True
        if config.ca_data:
            cluster["certificate-authority-data"] = base64.b64encode(config.ca_data).decode()
        elif config.ca_file:
            try:
                with open(config.ca_file, "rb") as handle:
                    cluster["certificate-authority-data"] = base64.b64encode(handle.read()).decode()
            except OSError:
                pass
        if config.proxy_url:
            cluster["proxy-url"] = config.proxy_url
        spec["cluster"] = cluster
    return json.dumps({"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec})


def run_plugin(config: RestConfig, deadline: Deadline) -> Credential:
    """Run the exec plugin of ``config`` and return its credential (or CredentialError)."""
    plugin = config.exec_plugin
    assert plugin is not None
    terminal = sys.stdin is not None and sys.stdin.isatty()
    interactive = terminal and plugin.interactive_mode != "Never"
    if plugin.interactive_mode == "Always" and not terminal:
        raise CredentialError(
            f"{_who(config)} needs a terminal (interactiveMode: Always) and stdin is not one; "
            f"run {_by_hand(plugin)} in a terminal, or run kubectl-userns from one."
        )
    env = dict(os.environ)
    env.update(plugin.env)
    env["KUBERNETES_EXEC_INFO"] = _exec_info(config, plugin, interactive)
    try:
        proc = subprocess.Popen(
            [plugin.command, *plugin.args],
            stdin=None if interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None if interactive else subprocess.PIPE,
            env=env,
            start_new_session=not interactive,
        )
    except FileNotFoundError:
        hint = (
            f" ({quoted(plugin.install_hint.splitlines()[0], 300)})" if plugin.install_hint else ""
        )
        raise CredentialError(
            f"{_who(config)} is not installed: {quoted(plugin.command, 300)} was not found"
            f"{hint}; install it or fix users[].user.exec.command in the kubeconfig."
        ) from None
    except OSError as exc:
        raise CredentialError(
            f"{_who(config)} cannot be started ({quoted(exc.strerror or exc, 300)}); run "
            f"{_by_hand(plugin)} by hand to see why."
        ) from None
    try:
        stdout, _stderr = proc.communicate(timeout=deadline.remaining())
    except subprocess.TimeoutExpired:
        _kill(proc, interactive)
        raise CredentialError(
            f"{_who(config)} did not answer within {deadline.seconds:g} s (--request-timeout); "
            f"run {_by_hand(plugin)} by hand to see what it waits for."
        ) from None
    except BaseException:
        _kill(proc, interactive)
        raise
    if proc.returncode != 0:
        raise CredentialError(
            f"{_who(config)} failed (exit status {proc.returncode}); run {_by_hand(plugin)} by "
            "hand to see its message (kubectl-userns does not print it: it may hold a token)."
        )
    return _parse_answer(config, plugin, stdout)


def _kill(proc: subprocess.Popen[bytes], interactive: bool) -> None:
    try:
        if interactive:
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()


def _parse_answer(config: RestConfig, plugin: ExecPlugin, stdout: bytes) -> Credential:
    def bad(why: str) -> CredentialError:
        return CredentialError(
            f"{_who(config)} printed no valid ExecCredential ({why}); run {_by_hand(plugin)} "
            "by hand to see its answer."
        )

    try:
        data = json.loads(stdout)
    except (ValueError, RecursionError):
        raise bad("not JSON") from None
    if not isinstance(data, dict):
        raise bad("not a JSON object")
    if data.get("kind") != "ExecCredential":
        raise bad("kind is not ExecCredential")
    if data.get("apiVersion") != plugin.api_version:
        raise bad(f"its apiVersion is not {plugin.api_version}, the one the kubeconfig asks for")
    status = data.get("status")
    if not isinstance(status, dict):
        raise bad("no status object")
    token = status.get("token")
    cert = status.get("clientCertificateData")
    key = status.get("clientKeyData")
    if token is not None and not isinstance(token, str):
        raise bad("status.token is not a string")
    if not isinstance(cert, (str, type(None))) or not isinstance(key, (str, type(None))):
        raise bad("status.clientCertificateData or clientKeyData is not a string")
    if bool(cert) != bool(key):
        raise bad("a client certificate without its key, or a key without its certificate")
    if not token and not cert:
        raise bad("status has neither a token nor a client certificate")
    if token is not None and any(c in token for c in "\r\n\0"):
        raise bad("status.token contains line breaks")
    expires = None
    stamp = status.get("expirationTimestamp")
    if stamp is not None:
        if not isinstance(stamp, str):
            raise bad("status.expirationTimestamp is not a string")
        try:
            expires = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise bad("status.expirationTimestamp is not an RFC 3339 time") from None
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=timezone.utc)
    return Credential(
        token=token or None,
        client_cert_data=cert.encode() if cert else None,
        client_key_data=key.encode() if key else None,
        expires=expires,
    )


class CredentialCache:
    """One plugin answer per process, re-run when it has expired (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credential: Credential | None = None

    def get(self, config: RestConfig, deadline: Deadline) -> Credential:
        with self._lock:
            if self._credential is None or self._credential.expired():
                self._credential = run_plugin(config, deadline)
            return self._credential
