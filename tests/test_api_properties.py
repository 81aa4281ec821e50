"""Property tests for the readers of untrusted API-layer input: kubeconfig files, API objects,
proxy rules. Any input gives a value or the one named domain error, never another exception."""

from __future__ import annotations

import contextlib
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kubectl_userns.access import kubeconfig
from kubectl_userns.access.objects import NODE, POD, checked, checked_items
from kubectl_userns.access.proxy import bypasses_proxy
from kubectl_userns.access.restconfig import mask_url
from kubectl_userns.errors import APIError, KubeconfigError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = [
    "metadata",
    "spec",
    "status",
    "name",
    "namespace",
    "uid",
    "labels",
    "nodeName",
    "hostUsers",
    "containerStatuses",
    "state",
    "terminated",
    "exitCode",
    "addresses",
    "type",
    "address",
    "nodeInfo",
    "items",
    "runtimeHandlers",
    "features",
]
api_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=5)
    ),
    max_leaves=30,
)


def _reads_like_the_checks(pod: dict[str, Any]) -> None:
    """What the checks do with a pod once it passed: must not raise."""
    from kubectl_userns.checks.cluster import is_audited
    from kubectl_userns.checks.pod import pod_facts

    pod_facts(pod)
    is_audited(pod)


@FAST
@given(api_like)
@example({"metadata": "x"})
@example({"status": {"containerStatuses": [{"state": {"terminated": {"exitCode": 1e400}}}]}})
def test_api_pods_are_checked_or_refused(value: Any) -> None:
    try:
        pod = checked(value, POD, "pod")
    except APIError as exc:
        assert exc.message.isprintable() and "\n" not in exc.message
        return
    _reads_like_the_checks(pod)


@FAST
@given(api_like)
@example({"items": {"a": 1}})
@example({"items": [{"status": {"addresses": "zzz"}}]})
def test_api_node_lists_are_checked_or_refused(value: Any) -> None:
    from kubectl_userns.access.node import node_address
    from kubectl_userns.checks.node.facts import node_info
    from kubectl_userns.options import AddressType

    try:
        nodes = checked_items(value, NODE, "the list of nodes")
    except APIError:
        return
    for node in nodes:
        node_info(node)
        node_address(node, AddressType.InternalIP)


KEYS = [
    "apiVersion",
    "kind",
    "current-context",
    "clusters",
    "users",
    "contexts",
    "name",
    "cluster",
    "user",
    "context",
    "server",
    "certificate-authority-data",
    "token",
    "insecure-skip-tls-verify",
    "exec",
    "command",
    "apiVersion",
    "interactiveMode",
    "env",
    "args",
    "namespace",
    "proxy-url",
    "as-groups",
    "tls-server-name",
    "auth-provider",
]
yaml_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)
    ),
    max_leaves=30,
)


def _load(tmp: Path, text: str) -> None:
    path = tmp / "config"
    path.write_text(text)
    try:
        config = kubeconfig.load(str(path))
    except KubeconfigError as exc:
        assert exc.message.isprintable() and "\n" not in exc.message
        assert exc.message.startswith(("kubeconfig ", "context ", "no current context", "the "))
        return
    assert config.server.startswith(("http://", "https://"))
    assert "@" not in config.server_display.split("//", 1)[1].split("/", 1)[0] or (
        "***@" in config.server_display
    )


@FAST
@given(yaml_like)
@example(
    {
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k"}}],
        "clusters": [{"name": "k", "cluster": {"server": "http://u:p@h:1"}}],
    }
)
def test_kubeconfig_structures_load_or_fail_with_a_named_error(
    tmp_path_factory: pytest.TempPathFactory, value: Any
) -> None:
    _load(tmp_path_factory.mktemp("kc"), json.dumps(value))


@FAST
@given(st.text(max_size=200))
@example("clusters: [\n  {name: a\n")
@example("- a\n")
@example("just a string")
@example("a: !!python/object/apply:os.system [x]")
def test_kubeconfig_text_loads_or_fails_with_a_named_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    with contextlib.suppress(UnicodeEncodeError):  # surrogates cannot be written to a file
        _load(tmp_path_factory.mktemp("kc"), text)


@FAST
@given(st.text(max_size=60))
def test_mask_url_never_shows_a_password(url: str) -> None:
    masked = mask_url(f"https://user:{url}@host:6443/x" if "@" not in url else url)
    if "@" not in url and url:
        assert f":{url}@" not in masked


# Go's documented NO_PROXY semantics (golang.org/x/net/http/httpproxy, Config.NoProxy)
@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "bypass"),
    [
        ("localhost", "443", "", True),
        ("127.0.0.1", "443", "", True),
        ("127.8.9.1", "443", "", True),
        ("::1", "443", "", True),
        ("::ffff:127.0.0.1", "443", "", True),
        ("localhost.example", "443", "", False),
        ("10.1.2.3", "443", "10.0.0.0/8", True),
        ("11.1.2.3", "443", "10.0.0.0/8", False),
        ("fd00::5", "443", "fd00::/16", True),
        ("foo.com", "443", "foo.com", True),
        ("bar.foo.com", "443", "foo.com", True),
        ("barfoo.com", "443", "foo.com", False),
        ("y.com", "443", ".y.com", False),
        ("x.y.com", "443", ".y.com", True),
        ("x.y.com", "443", "*.y.com", True),
        ("y.com", "443", "*.y.com", False),
        ("foo.com", "443", "foo.com:80", False),
        ("foo.com", "80", "foo.com:80", True),
        ("1.2.3.4", "443", "1.2.3.4", True),
        ("1.2.3.4", "443", "1.2.3.4:80", False),
        ("anything", "443", "*", True),
        ("anything", "443", " , ,FOO.com", False),
        ("foo.com", "443", " , ,FOO.com", True),
    ],
)
def test_no_proxy_follows_go(host: str, port: str, no_proxy: str, bypass: bool) -> None:
    assert bypasses_proxy(host, port, no_proxy) is bypass


@FAST
@given(st.text(max_size=40), st.text(max_size=80))
def test_no_proxy_never_raises(host: str, no_proxy: str) -> None:
    bypasses_proxy(host, "443", no_proxy)


@FAST
@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=32))
def test_no_proxy_cidr_matches_exactly_its_network(ip: ipaddress.IPv4Address, bits: int) -> None:
    network = ipaddress.ip_network(f"{ip}/{bits}", strict=False)
    assert bypasses_proxy(str(ip), "443", str(network)) or ip.is_loopback is False
    if not ip.is_loopback:
        assert bypasses_proxy(str(ip), "443", str(network))


def test_yaml_anchors_cannot_expand(tmp_path: Path) -> None:
    """A billion-laughs kubeconfig is read field by field, not expanded."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 30)]
    lines.append("current-context: c")
    path = tmp_path / "config"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(KubeconfigError, match='current context "c"'):
        kubeconfig.load(str(path))
    assert yaml  # the file is valid YAML: only its expansion would be huge


@FAST
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
@example(
    b'{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", '
    b'"status": {"token": "a\\nb"}}'
)
@example(
    b'{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", '
    b'"status": {"token": "t", "expirationTimestamp": "soon"}}'
)
def test_exec_plugin_answers_give_a_credential_or_the_named_error(raw: bytes) -> None:
    from kubectl_userns.access.credentials import _parse_answer
    from kubectl_userns.access.restconfig import ExecPlugin, RestConfig
    from kubectl_userns.errors import CredentialError

    plugin = ExecPlugin(command="get-token")
    config = RestConfig(server="https://h", user="u", exec_plugin=plugin)
    try:
        credential = _parse_answer(config, plugin, raw)
    except CredentialError as exc:
        assert exc.message.isprintable() and "\n" not in exc.message
        return
    assert credential.token or credential.client_cert_data
    assert "\n" not in (credential.token or "")
