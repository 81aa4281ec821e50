"""What verify-node believes about a node, and what the node commands leave on it, through the
real CLI against sandbox nodes: the kubelet is the process a tenant cannot impersonate, the
kubelet root comes from that kubelet's command line, and inspect, audit and verify-node (without
--probe) change nothing on the node."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubectl_userns.sandbox.cluster import Sandbox
from kubectl_userns.sandbox.node import node_exec
from kubectl_userns.sandbox.pods import spawn
from tests.cli import Run, run_cli

K0S_ROOT = "/var/lib/k0s/kubelet"
KUBELET = "/usr/local/bin/kubelet"  # the sandbox node's kubelet binary


@pytest.fixture(scope="module")
def cluster(make_sandbox: Callable[[], Sandbox]) -> Iterator[Sandbox]:
    sandbox = make_sandbox()
    sandbox.add_node("tr-default")
    sandbox.add_pod("quiet", node="tr-default", host_id=65536 * 70)
    sandbox.add_node("tr-k0s", kubelet_root=K0S_ROOT)
    sandbox.add_pod("onk0s", node="tr-k0s", host_id=65536 * 80)
    # no real kubelet: only tenants' processes that call themselves kubelet
    sandbox.add_node("tr-fakes", kubelet_process=False)
    tenant = sandbox.add_pod("tenant", node="tr-fakes", host_id=65536 * 90)
    node = sandbox.nodes["tr-fakes"]
    lure = ["--config=/etc/shadow", "--root-dir=/etc"]
    # 1. inside a hostUsers: false pod, running the node's very kubelet binary
    spawn(
        node,
        [KUBELET, *lure],
        cgroup=tenant.containers[0].cgroup,
        join_userns_of=tenant.containers[0].pids[0],
    )
    # 2. a host process of another user
    spawn(
        node,
        ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "--", KUBELET, *lure],
        cgroup="user.slice",
    )
    # 3. root on the host, outside kubepods, but a binary anyone may replace
    planted = Path(node.dir) / "kubelet" / "tenant" / "kubelet"
    planted.parent.mkdir()
    shutil.copy(Path(node.dir) / "bin" / "kubelet", planted)
    planted.chmod(0o777)
    spawn(node, ["/var/lib/kubelet/tenant/kubelet", *lure], cgroup="system.slice/evil.service")
    # a real kubelet beside a fake one: the real one is found
    sandbox.add_node("tr-both")
    spawn(
        sandbox.nodes["tr-both"],
        ["setpriv", "--reuid=1000", "--", KUBELET, "--root-dir=/etc"],
        cgroup="user.slice",
    )
    yield sandbox


def verify(cluster: Sandbox, *args: str) -> Run:
    return run_cli(["verify-node", *args], env=cluster.env())


def report(run: Run) -> dict[str, Any]:
    return json.loads(run.stdout)  # type: ignore[no-any-return]


def checks(run: Run) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in report(run)["checks"]}


# --- the kubelet root: from the running kubelet's --root-dir ------------------------------------


def test_kubelet_root_comes_from_the_kubelets_command_line(cluster: Sandbox) -> None:
    run = verify(cluster, "tr-k0s", "-o", "json")
    assert run.exit_code == 0, run.stdout
    assert run.stderr == ""
    rep = report(run)
    assert rep["kubelet"]["root"] == K0S_ROOT
    found = checks(run)
    assert found["userns-records"]["observed"] == "1 record(s), all inside the pool"
    assert found["kubelet-root-fs"]["observed"].startswith(f"ext4 ({K0S_ROOT})") or (
        K0S_ROOT in found["kubelet-root-fs"]["observed"]
    )


# --- the kubelet is what a tenant cannot fake ----------------------------------------------------


def test_processes_named_kubelet_are_not_believed(cluster: Sandbox) -> None:
    run = verify(cluster, "tr-fakes", "-o", "json")
    assert run.stderr == ""
    rep = report(run)
    # none of the lures' flags were followed: no /etc/shadow read as a config, no /etc as root
    assert rep["kubelet"]["root"] == "/var/lib/kubelet"
    assert rep["kubelet"]["configSource"] == "configz"
    assert "/etc/shadow" not in run.stdout or "not believed" in run.stdout


def test_a_real_kubelet_beside_a_fake_one_is_found(cluster: Sandbox) -> None:
    run = verify(cluster, "tr-both", "-o", "json")
    assert run.exit_code == 0, run.stdout
    assert report(run)["kubelet"]["root"] == "/var/lib/kubelet"


# --- nothing written on the node --------------------------------------------------------------

# The node's writable places that are its own (the rest of its filesystem is the host's, shared
# with every other process on this machine): /etc and /var/lib (overlays), the kubelet root,
# /run and /root (tmpfs), and its cgroup tree. Directory mtimes are listed too, so
# a file created and removed again shows.
LISTING = (
    "find /etc /var/lib /run /root -xdev -printf '%p %y %s %T@ %m %u %g\\n' | sort; "
    "find /sys/fs/cgroup -type d | sort"
)


def node_listing(cluster: Sandbox, node: str) -> list[str]:
    return node_exec(cluster.nodes[node], ["sh", "-c", LISTING]).splitlines()


def test_inspect_audit_and_verify_node_write_nothing_on_the_node(cluster: Sandbox) -> None:
    before = node_listing(cluster, "tr-default")
    runs = [
        run_cli(["inspect", "quiet"], env=cluster.env()),
        run_cli(["audit", "-A"], env=cluster.env()),
        verify(cluster, "tr-default"),
    ]
    after = node_listing(cluster, "tr-default")
    for run in runs:
        assert run.exit_code in (0, 1), run.stderr
        assert "Traceback" not in run.stderr
    assert runs[0].exit_code == 0 and runs[2].exit_code == 0
    assert "crun 1.21.0" in runs[2].stdout  # crun's version was read...
    assert after == before  # ...and nothing on the node changed, /run/crun included
    assert not any(line.startswith("/run/crun ") for line in after)
    # the listing does see a write: crun --version as an operator types it creates /run/crun
    node_exec(cluster.nodes["tr-default"], ["crun", "--version"])
    try:
        changed = set(node_listing(cluster, "tr-default")) - set(before)
        assert any(line.startswith("/run/crun d ") for line in changed), changed
    finally:
        node_exec(cluster.nodes["tr-default"], ["rmdir", "/run/crun"])


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")
