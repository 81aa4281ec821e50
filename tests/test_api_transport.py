"""The API layer through the real CLI against real loopback servers (no mocks).

Each test asserts stdout, stderr (one printable ``error:`` line, no traceback, no secret) and
the exit code: deadlines (dripping server, hanging credential plugin), proxies (Go's rules),
TLS failures, the User-Agent, credential plugins, masked userinfo.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubectl_userns.access.http import user_agent
from kubectl_userns.sandbox.certs import make_ca_and_server_cert
from tests.cli import run_cli
from tests.conftest import leftovers
from tests.loopback import (
    closing_server,
    dripping_server,
    fake_api,
    kubeconfig,
    one_error_line,
    proxy,
)

POD_PATH = "/api/v1/namespaces/default/pods/testpod"
PENDING = {
    "kind": "Pod",
    "metadata": {"name": "testpod", "namespace": "default"},
    "status": {"phase": "Pending"},
}
PENDING_ERROR = 'error: pod "testpod" in namespace "default" is not scheduled to a node yet'


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Two unrelated CAs, each with a server certificate for 127.0.0.1."""
    one = tmp_path_factory.mktemp("ca-one")
    other = tmp_path_factory.mktemp("ca-other")
    ca, cert, key = make_ca_and_server_cert(one)
    other_ca, _, _ = make_ca_and_server_cert(other)
    yield {"ca": ca, "cert": cert, "key": key, "other_ca": other_ca}


def _inspect(config: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[str, str, int]:
    run = run_cli(["inspect", "testpod", "--kubeconfig", str(config), *extra], env=env)
    return run.stdout, run.stderr, run.exit_code


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


# --- deadlines -----------------------------------------------------------------------------


def test_a_server_dripping_headers_is_cut_at_the_request_timeout(tmp_path: Path) -> None:
    with dripping_server(0.2) as url:
        config = kubeconfig(tmp_path / "kc", url)
        run = run_cli(["inspect", "testpod", "--kubeconfig", str(config), "--request-timeout", "1"])
    assert run.stdout == ""
    line = one_error_line(run.stderr)
    assert f"the Kubernetes API at {url} did not answer (no answer within 1 s)" in line
    assert run.exit_code == 3


def test_a_failed_request_is_not_retried(tmp_path: Path) -> None:
    """kubectl's deadline is the user's: no hidden retries (the old client made 5 s into 21 s)."""
    with closing_server() as (url, accepted):
        config = kubeconfig(tmp_path / "kc", url)
        stdout, stderr, code = _inspect(config, "--request-timeout", "5")
        assert len(accepted) == 1
    line = one_error_line(stderr)
    assert "did not answer (the server closed the connection without an answer)" in line
    assert (stdout, code) == ("", 3)


def test_a_hanging_credential_plugin_is_killed_at_the_request_timeout(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    pidfile = tmp_path / "plugin.pid"
    plugin.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 600\n")
    plugin.chmod(0o755)
    with fake_api({POD_PATH: (200, PENDING)}) as api:
        config = kubeconfig(tmp_path / "kc", api.url, user=_exec_user(str(plugin)))
        run = run_cli(["inspect", "testpod", "--kubeconfig", str(config), "--request-timeout", "1"])
        assert api.requests == []
    assert run.stdout == ""
    line = one_error_line(run.stderr)
    assert f'the credential plugin of user "u" ({plugin}) did not answer within 1 s' in line
    assert run.exit_code == 3
    pid = int(pidfile.read_text())
    assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "zombie"


def _exec_user(command: str, *args: str) -> dict[str, object]:
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": command,
            "args": list(args),
            "interactiveMode": "Never",
        }
    }


# --- credential plugins --------------------------------------------------------------------


def test_a_failing_credential_plugin_is_one_line_without_its_stderr(tmp_path: Path) -> None:
    plugin = tmp_path / "get-token"
    plugin.write_text("#!/bin/sh\necho 'token sup3r-secret-t0ken expired' >&2\nexit 1\n")
    plugin.chmod(0o755)
    with fake_api({POD_PATH: (200, PENDING)}) as api:
        config = kubeconfig(
            tmp_path / "kc", api.url, user=_exec_user(str(plugin), "--cluster", "x")
        )
        stdout, stderr, code = _inspect(config)
    assert stdout == ""
    line = one_error_line(stderr)
    assert "sup3r-secret-t0ken" not in stderr
    assert f'the credential plugin of user "u" ({plugin}) failed (exit status 1)' in line
    assert f"run {plugin} --cluster x by hand" in line
    assert code == 3


def test_a_credential_plugin_token_reaches_the_api(tmp_path: Path) -> None:
    plugin = tmp_path / "get-token"
    plugin.write_text(
        "#!/bin/sh\n"
        'echo \'{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",'
        ' "status": {"token": "from-plugin"}}\'\n'
    )
    plugin.chmod(0o755)
    with fake_api({POD_PATH: (200, PENDING)}) as api:
        config = kubeconfig(tmp_path / "kc", api.url, user=_exec_user(str(plugin)))
        stdout, stderr, code = _inspect(config)
        headers = api.requests[0][2]
    assert stdout == ""
    assert one_error_line(stderr).startswith(PENDING_ERROR)
    assert code == 2
    assert headers["Authorization"] == "Bearer from-plugin"


def test_a_missing_credential_plugin_names_its_install_hint(tmp_path: Path) -> None:
    user = _exec_user(str(tmp_path / "absent-plugin"))
    user["exec"]["installHint"] = "install it with: apt install absent-plugin\nmore text"  # type: ignore[index]
    config = kubeconfig(tmp_path / "kc", "http://127.0.0.1:1", user=user)
    stdout, stderr, code = _inspect(config)
    line = one_error_line(stderr)
    assert "is not installed" in line and "(install it with: apt install absent-plugin)" in line
    assert (stdout, code) == ("", 3)


# --- secrets in messages -------------------------------------------------------------------


def test_userinfo_in_the_server_url_is_masked(tmp_path: Path) -> None:
    with dripping_server(10) as url:
        port = url.rsplit(":", 1)[1]
    server = f"http://admin:hunter2@127.0.0.1:{port}"
    config = kubeconfig(tmp_path / "kc", server)
    stdout, stderr, code = _inspect(config)
    line = one_error_line(stderr)
    assert "hunter2" not in stderr and "admin" not in stderr
    assert f"the Kubernetes API at http://127.0.0.1:{port} did not answer" in line
    assert "connection refused" in line
    assert (stdout, code) == ("", 3)


def test_an_anonymous_request_is_named_as_such_whether_refused_or_forbidden(
    tmp_path: Path,
) -> None:
    """A kubeconfig user with nothing in it sends anonymous requests: an API server with
    anonymous authentication on (the default) takes them as system:anonymous and RBAC answers
    403 (its Status as kube-apiserver words it); with it off, 401. Either way the error says the
    request had no credentials, not that RBAC or a token is to blame."""
    forbidden = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "testpod" is forbidden: User "system:anonymous" cannot get resource '
        '"pods" in API group "" in the namespace "default"',
        "reason": "Forbidden",
        "details": {"name": "testpod", "kind": "pods"},
        "code": 403,
    }
    hint = (
        ': the user "u" has no credentials; give a token or a client certificate and key '
        "(--token, --client-certificate and --client-key), or use a kubeconfig user that has "
        "them.\n"
    )
    what = 'pod "testpod" in namespace "default"'
    with fake_api({POD_PATH: (403, forbidden)}) as api:
        stdout, stderr, code = _inspect(kubeconfig(tmp_path / "kc", api.url, user={}))
        sent = api.requests[0][2]
    assert "Authorization" not in sent
    assert (stdout, code) == ("", 3)
    assert stderr == (
        f"error: the Kubernetes API forbids an anonymous request to read {what} (403 "
        f"Forbidden: {forbidden['message']}){hint}"
    )
    unauthorized = {**forbidden, "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    with fake_api({POD_PATH: (401, unauthorized)}) as api:
        stdout, stderr, code = _inspect(kubeconfig(tmp_path / "kc", api.url, user={}))
    assert (stdout, code) == ("", 3)
    assert stderr == (
        "error: the Kubernetes API refused an anonymous request (401 Unauthorized) while "
        f"reading {what}{hint}"
    )
    # with a token, the same answers blame the token and RBAC
    with fake_api({POD_PATH: (403, forbidden)}) as api:
        _, stderr, _ = _inspect(kubeconfig(tmp_path / "kc", api.url))
    assert stderr.endswith("; ask for RBAC permission to get it.\n"), stderr


# --- User-Agent ----------------------------------------------------------------------------


def test_the_user_agent_names_the_tool_version_os_and_arch(tmp_path: Path) -> None:
    from kubectl_userns import __version__

    with fake_api({POD_PATH: (200, PENDING)}) as api:
        stdout, stderr, code = _inspect(kubeconfig(tmp_path / "kc", api.url))
        agent = api.requests[0][2]["User-Agent"]
    assert one_error_line(stderr).startswith(PENDING_ERROR)
    assert (stdout, code) == ("", 2)
    assert agent == user_agent()
    assert agent.startswith(f"kubectl-userns/{__version__} ({os.uname().sysname.lower()}/")


# --- TLS -----------------------------------------------------------------------------------


def test_a_server_certificate_from_another_ca_is_named_as_such(
    tmp_path: Path, certs: dict[str, Path]
) -> None:
    with fake_api({POD_PATH: (200, PENDING)}, tls=(certs["cert"], certs["key"])) as api:
        config = kubeconfig(
            tmp_path / "kc", api.url, cluster={"certificate-authority": str(certs["other_ca"])}
        )
        stdout, stderr, code = _inspect(config)
    line = one_error_line(stderr)
    assert f"the TLS certificate of the Kubernetes API at {api.url} did not verify" in line
    assert f"for the server name 127.0.0.1 against the CA file {certs['other_ca']}" in line
    assert (stdout, code) == ("", 3)


def test_ca_data_and_tls_server_name_are_named_when_verification_fails(
    tmp_path: Path, certs: dict[str, Path]
) -> None:
    import base64

    data = base64.b64encode(certs["ca"].read_bytes()).decode()
    with fake_api({POD_PATH: (200, PENDING)}, tls=(certs["cert"], certs["key"])) as api:
        config = kubeconfig(
            tmp_path / "kc",
            api.url,
            cluster={"certificate-authority-data": data, "tls-server-name": "api.elsewhere"},
        )
        stdout, stderr, code = _inspect(config)
    line = one_error_line(stderr)
    assert "for the server name api.elsewhere against the certificate-authority-data of" in line
    assert (stdout, code) == ("", 3)


def test_the_right_ca_verifies_and_insecure_skip_prints_no_warning(
    tmp_path: Path, certs: dict[str, Path]
) -> None:
    with fake_api({POD_PATH: (200, PENDING)}, tls=(certs["cert"], certs["key"])) as api:
        good = kubeconfig(
            tmp_path / "good", api.url, cluster={"certificate-authority": str(certs["ca"])}
        )
        insecure = kubeconfig(
            tmp_path / "insecure", api.url, cluster={"insecure-skip-tls-verify": True}
        )
        for config in (good, insecure):
            stdout, stderr, code = _inspect(config)
            assert one_error_line(stderr).startswith(PENDING_ERROR)
            assert (stdout, code) == ("", 2)


# --- proxies (Go's rules) ------------------------------------------------------------------


def test_https_proxy_is_not_used_for_a_loopback_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, certs: dict[str, Path]
) -> None:
    with (
        fake_api({POD_PATH: (200, PENDING)}, tls=(certs["cert"], certs["key"])) as api,
        proxy(api.port) as middle,
    ):
        monkeypatch.setenv("HTTPS_PROXY", middle.url)
        config = kubeconfig(
            tmp_path / "kc", api.url, cluster={"certificate-authority": str(certs["ca"])}
        )
        stdout, stderr, code = _inspect(config)
        assert middle.seen == []
    assert one_error_line(stderr).startswith(PENDING_ERROR)
    assert (stdout, code) == ("", 2)


def test_https_proxy_carries_a_named_server_and_no_proxy_suffix_bypasses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, certs: dict[str, Path]
) -> None:
    with (
        fake_api({POD_PATH: (200, PENDING)}, tls=(certs["cert"], certs["key"])) as api,
        proxy(api.port) as middle,
    ):
        # the name does not resolve: only the proxy (which sends everything to the fake API)
        # can reach it; tls-server-name keeps the certificate check meaningful
        server = f"https://api.cluster.invalid:{api.port}"
        cluster = {"certificate-authority": str(certs["ca"]), "tls-server-name": "127.0.0.1"}
        config = kubeconfig(tmp_path / "kc", server, cluster=cluster)
        monkeypatch.setenv(
            "HTTPS_PROXY", middle.url.removeprefix("http://")
        )  # Go: no scheme = http
        monkeypatch.setenv("NO_PROXY", "10.0.0.0/8,.other.invalid")
        stdout, stderr, code = _inspect(config)
        assert middle.seen == [f"CONNECT api.cluster.invalid:{api.port} HTTP/1.1"]
        assert one_error_line(stderr).startswith(PENDING_ERROR)
        assert (stdout, code) == ("", 2)

        monkeypatch.setenv("NO_PROXY", "10.0.0.0/8, cluster.invalid")
        stdout, stderr, code = _inspect(config)
        assert len(middle.seen) == 1  # not through the proxy this time: the name fails
    line = one_error_line(stderr)
    assert f"the Kubernetes API at {server} did not answer (cannot resolve the host name" in line
    assert (stdout, code) == ("", 3)


def test_kubeconfig_proxy_url_is_used_even_for_loopback(tmp_path: Path) -> None:
    with fake_api({POD_PATH: (200, PENDING)}) as api, proxy(api.port) as middle:
        config = kubeconfig(tmp_path / "kc", api.url, cluster={"proxy-url": middle.url})
        stdout, stderr, code = _inspect(config)
        assert middle.seen == [f"GET {api.url}{POD_PATH} HTTP/1.1"]
    assert one_error_line(stderr).startswith(PENDING_ERROR)
    assert (stdout, code) == ("", 2)


def test_a_socks_proxy_is_named_as_unsupported(tmp_path: Path) -> None:
    config = kubeconfig(
        tmp_path / "kc", "http://127.0.0.1:1", cluster={"proxy-url": "socks5://u:pw@127.0.0.1:1080"}
    )
    stdout, stderr, code = _inspect(config)
    line = one_error_line(stderr)
    assert "the proxy socks5://***@127.0.0.1:1080" in line and "only http://" in line
    assert "pw" not in line.replace("proxy", "")
    assert (stdout, code) == ("", 3)


# --- wrongly typed API answers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"kind": "Pod", "metadata": "x"}, "metadata is a string, not an object"),
        ({"kind": "Pod", "spec": {"nodeName": 5}}, "spec.nodeName is a number, not a string"),
        (
            {
                "kind": "Pod",
                "status": {"containerStatuses": [{"state": {"terminated": {"exitCode": 1e400}}}]},
            },
            "status.containerStatuses[0].state.terminated.exitCode is a number, not an integer",
        ),
        ([1, 2], "the answer is"),
    ],
)
def test_a_pod_with_wrongly_typed_fields_is_one_error(
    tmp_path: Path, answer: object, problem: str
) -> None:
    raw = answer if not isinstance(answer, list) else b"[1, 2]"
    with fake_api({POD_PATH: (200, raw)}) as api:
        stdout, stderr, code = _inspect(kubeconfig(tmp_path / "kc", api.url))
    line = one_error_line(stderr)
    if isinstance(answer, list):  # not an object: not a Pod answer at all
        assert "the Kubernetes API answered 200 for pod" in line
    else:
        assert (
            f'the Kubernetes API answered pod "testpod" in namespace "default" where {problem}'
            in line
        )
    assert (stdout, code) == ("", 3)


def test_wrongly_typed_items_and_addresses_are_one_error(tmp_path: Path) -> None:
    running = {
        "metadata": {"name": "testpod", "namespace": "default", "uid": "u1"},
        "spec": {"nodeName": "n1"},
        "status": {"phase": "Running"},
    }
    routes = {
        "/api/v1/pods": (200, {"kind": "PodList", "items": {"a": 1}}),
        POD_PATH: (200, running),
        "/api/v1/nodes/n1": (200, {"metadata": {"name": "n1"}, "status": {"addresses": "zzz"}}),
    }
    with fake_api(routes) as api:
        config = kubeconfig(tmp_path / "kc", api.url)
        audit = run_cli(["audit", "-A", "--kubeconfig", str(config)])
        stdout, stderr, code = _inspect(config)
    line = one_error_line(audit.stderr)
    assert (
        "answered the list of pods in all namespaces where items is an object, not a list" in line
    )
    assert (audit.stdout, audit.exit_code) == ("", 3)
    line = one_error_line(stderr)
    assert 'answered node "n1" where status.addresses is a string, not a list' in line
    assert (stdout, code) == ("", 3)


# --- broken kubeconfigs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("clusters: [\n  {name: a\n", "line 3: not valid YAML"),
        ("- a\n- b\n", "line 1: the kubeconfig must be a mapping, not a list"),
        ("just a string\n", "line 1: the kubeconfig must be a mapping, not a string"),
        (
            "clusters:\n- name: c\n  cluster:\n    server: 5\n",
            'line 4: cluster "c" server must be a string',
        ),
        ("clusters: {a: 1}\n", "line 1: clusters must be a list, not a mapping"),
        (
            "clusters:\n- name: c\n  cluster: {server: !!python/name:os.system x}\n",
            "line 3: the YAML tag",
        ),
        ("a: b\n\x01\n", "line 2: not valid YAML"),
        ("[" * 100000, "nesting depth"),
    ],
)
def test_a_broken_kubeconfig_is_one_error_with_file_and_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    stdout, stderr, code = _inspect(path)
    line = one_error_line(stderr)
    assert line.startswith(f"error: kubeconfig {path}")
    assert problem in line
    assert (stdout, code) == ("", 2)


def test_kubeconfig_errors_name_the_file_of_a_kubeconfig_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = kubeconfig(tmp_path / "good", "http://127.0.0.1:1")
    bad = tmp_path / "bad"
    bad.write_text("users:\n- name: u\n  user:\n    token: [1]\n")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'absent'}:{good}:{bad}")
    run = run_cli(["inspect", "testpod"])
    line = one_error_line(run.stderr)
    assert f'error: kubeconfig {bad} line 4: user "u" token must be a string, not a list' in line
    assert (run.stdout, run.exit_code) == ("", 2)


def test_an_unreadable_kubeconfig_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "dir"
    path.mkdir()
    stdout, stderr, code = _inspect(path)
    assert one_error_line(stderr) == (
        f"error: kubeconfig {path} is a directory; point --kubeconfig or KUBECONFIG at a file."
    )
    assert (stdout, code) == ("", 2)


def test_plugin_scripts_are_not_left_running(tmp_path: Path) -> None:
    """The kill reaches the plugin's children too (its process group)."""
    plugin = tmp_path / "plugin"
    marker = f"kubectl-userns-test-{os.getpid()}-{tmp_path.name}"
    plugin.write_text(f"#!/bin/sh\nsh -c 'sleep 600; : {marker}' &\nwait\n")
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    config = kubeconfig(tmp_path / "kc", "http://127.0.0.1:1", user=_exec_user(str(plugin)))
    run = run_cli(["inspect", "testpod", "--kubeconfig", str(config), "--request-timeout", "1"])
    assert "did not answer within 1 s" in one_error_line(run.stderr)
    assert run.exit_code == 3
    # SIGKILL reached the group before the program returned; on a loaded machine the killed
    # shell may not have run since, and is still listed for a moment (a bounded wait, not a
    # timing: one that was never killed lives for 600 s)
    deadline = time.monotonic() + 10
    while leftovers(marker, []) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert leftovers(marker, []) == []
