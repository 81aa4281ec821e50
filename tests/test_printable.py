"""Strings from a node or the API never reach a terminal raw (issue 14, class 5), and no
address from the API is used before it is checked (class 2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kubectl_userns.access.api_values import is_host
from kubectl_userns.cli.render import render_table
from kubectl_userns.sandbox.cluster import Sandbox
from kubectl_userns.sandbox.pods import spawn
from kubectl_userns.text import printable
from tests.cli import Run, run_cli
from tests.conftest import needs_root

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[32mFAKE: all pods isolated\x1b[0m\u202e\u2028\r"
HOSTILE_IP = "10.0.0.5:22 -oProxyCommand=touch${IFS}/tmp/x"


def _terminal_safe(text: str) -> None:
    assert all(line.isprintable() for line in text.split("\n")), ascii(text)


@given(st.text())
@example(ESCAPES)
def test_printable_leaves_nothing_a_terminal_acts_on(text: str) -> None:
    shown = printable(text)
    assert shown.isprintable()
    assert printable(shown) == shown
    if text.isprintable():
        assert shown == text
    _terminal_safe(render_table(["a", "b"], [[text, 1]]))


@given(st.text(max_size=300))
@example(HOSTILE_IP)
@example("fe80::1%eth0")
@example("-oProxyCommand=x")
def test_addresses_are_ip_literals_or_host_names(value: str) -> None:
    if is_host(value):  # nothing a shell, ssh or an ssh config's %h could take for more
        assert value.isascii() and value.isprintable() and not value.startswith("-")
        assert not set(value) & set(" %$;|&'\"\\`/=(){}<>*?[]!#~,@")


def test_known_addresses() -> None:
    good = ["10.0.0.5", "::1", "2001:db8::1", "wk1", "ip-10-0-0-5.eu-west-1.compute.internal"]
    bad = [
        HOSTILE_IP,
        "",
        "-oProxyCommand=x",
        "a b",
        "fe80::1%eth0",
        "x" * 254,
        "a..b",
        "é.example",
    ]
    assert [is_host(v) for v in good] == [True] * len(good)
    assert [is_host(v) for v in bad] == [False] * len(bad)


@pytest.fixture(scope="module")
def cluster(make_sandbox: Callable[[], Sandbox]) -> Sandbox:
    cluster = make_sandbox()
    cluster.add_node("p1")
    cluster.add_pod("loud", node="p1")
    pod = cluster.pod("loud")
    container = pod.containers[0]
    script = "while :; do sleep 3600; done"
    pid = spawn(
        cluster.nodes["p1"],
        ["sh", "-c", script, ESCAPES],
        cgroup=container.cgroup,
        join_userns_of=container.pids[0],
    )
    pod.extra_pids.append(pid)
    cluster.add_node("p2")
    cluster.add_pod("lying", node="p2")
    lying = cluster.store.get("pods", "lying", "default")
    assert lying is not None
    lying["status"]["hostIP"] = HOSTILE_IP
    cluster.store.put("pods", lying)
    cluster.add_node("p3")  # a node whose own status names a hostile address
    node = cluster.store.get("nodes", "p3")
    assert node is not None
    node["status"]["addresses"] = [{"type": "InternalIP", "address": HOSTILE_IP}]
    cluster.store.put("nodes", node)
    return cluster


def _one_error_line(run: Run) -> None:
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1, run.stderr
    _terminal_safe(run.stderr)


@needs_root
@pytest.mark.parametrize("output", ["table", "wide"])
def test_a_containers_escape_sequences_are_shown_not_obeyed(cluster: Sandbox, output: str) -> None:
    run = run_cli(["inspect", "loud", "-o", output], cluster.env())
    assert (run.exit_code, run.stderr) == (0, "")
    _terminal_safe(run.stdout)
    assert printable(ESCAPES) in run.stdout
    assert "\\x1b]0;owned\\x07\\x1b[2J\\x1b[32mFAKE" in run.stdout
    data = run_cli(["inspect", "loud", "-o", "json"], cluster.env())
    commands = [p["command"] for p in json.loads(data.stdout)["processes"]]
    # JSON keeps the text as it is: its escapes are JSON's
    assert f"sh -c while :; do sleep 3600; done {ESCAPES}" in commands


@needs_root
def test_a_host_ip_that_is_not_an_address_is_refused(cluster: Sandbox, tmp_path: Path) -> None:
    marker = tmp_path / "proxy-command-ran"
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host *\n  ProxyCommand sh -c 'touch {marker}'\n\n" + cluster.ssh_config.read_text()
    )
    env = {**cluster.env(), "KUBECTL_USERNS_SSH_CONFIG": str(config)}
    refused = (
        "the API gave node p2 the status.hostIP '10.0.0.5:22 -oProxyCommand=touch${IFS}/tmp/x', "
        "which is neither an IP address nor a host name; refusing to connect to it (check the "
        "Node object, or use --ssh-host)."
    )
    inspect = run_cli(["inspect", "lying"], env)
    assert (inspect.exit_code, inspect.stdout, inspect.stderr) == (3, "", f"error: {refused}\n")
    audit = run_cli(["audit", "-A", "-o", "json", "--node", "p2"], env)
    assert (audit.exit_code, audit.stderr) == (3, "")
    (row,) = json.loads(audit.stdout)["pods"]
    assert (row["verdict"], row["reason"]) == ("UNKNOWN", refused.rstrip("."))
    assert not marker.exists()
    _one_error_line(inspect)


@needs_root
def test_a_node_address_that_is_not_one_is_refused(cluster: Sandbox, tmp_path: Path) -> None:
    # verify-node takes the node's InternalIP from status.addresses: refused before SSH, the
    # API's checks still reported, exit 3
    marker = tmp_path / "proxy-command-ran"
    config = tmp_path / "ssh_config"
    config.write_text(f"Host *\n  ProxyCommand sh -c 'touch {marker}'\n")
    env = {**cluster.env(), "KUBECTL_USERNS_SSH_CONFIG": str(config)}
    run = run_cli(["verify-node", "p3", "-o", "json"], env)
    assert run.exit_code == 3, run.stdout + run.stderr
    refused = (
        "the API gave node p3 the InternalIP address '10.0.0.5:22 -oProxyCommand=touch${IFS}/tmp/x'"
        ", which is neither an IP address nor a host name; refusing to connect to it"
    )
    assert run.stderr.startswith(f"error: {refused}")
    _one_error_line(run)
    assert json.loads(run.stdout)["checks"]  # the API's part of the report is there
    assert not marker.exists()
