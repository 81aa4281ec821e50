"""Mixed clusters: Windows nodes beside Linux ones (AKS, EKS, GKE Windows node pools).

Windows has no user namespaces and no sh to probe: the tool must neither try to reach such a
node nor let its pods turn an audit UNKNOWN (exit 3), and verify-node must not call it ready
from version numbers that only look right (a Windows kernelVersion of 10.0 is above 6.3).
The sandbox's Windows node exists in the API only (sandbox/windows.py): any attempt to reach
it over SSH fails, so a passing test also shows that none was made.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from kubectl_userns.sandbox.cluster import Sandbox
from kubectl_userns.sandbox.windows import add_windows_node, add_windows_pod
from tests.cli import run_cli
from tests.conftest import needs_root

pytestmark = needs_root


@pytest.fixture(scope="module")
def mixed(make_sandbox: Callable[[], Sandbox]) -> Sandbox:
    cluster = make_sandbox()
    cluster.add_node("lin1")
    cluster.add_pod("isolated", node="lin1", labels={"app": "lin"})
    add_windows_node(cluster, "win1")
    add_windows_pod(cluster, "iis", "win1", labels={"app": "iis"})
    # no spec.os: scheduled by its nodeSelector alone, so the API let hostUsers: false through
    add_windows_pod(cluster, "asks", "win1", host_users=False, with_os_field=False)
    return cluster


def test_audit_does_not_probe_windows_pods_and_stays_complete(mixed: Sandbox) -> None:
    run = run_cli(["audit", "-A", "-o", "json"], mixed.env())
    # exit 1 for the one finding (a pod that asks for a user namespace on Windows), not 3
    assert (run.exit_code, run.stderr) == (1, "")
    result = json.loads(run.stdout)
    rows = {row["name"]: row for row in result["pods"]}
    assert rows["isolated"]["verdict"] == "ISOLATED"
    assert rows["iis"]["verdict"] == "NOT APPLICABLE"
    assert rows["iis"]["reason"] == "runs on a windows node: user namespaces are Linux only"
    assert rows["asks"]["verdict"] == "NOT ISOLATED"
    assert rows["asks"]["failedChecks"] == ["node-os"]
    assert result["summary"]["unknown"] == 0 and result["summary"]["notApplicable"] == 1
    assert result["summary"]["unreachableNodes"] == 0
    (finding,) = result["findings"]
    assert (finding["kind"], finding["node"], finding["pods"]) == (
        "not-isolated",
        "win1",
        ["default/asks"],
    )
    assert "runs on a windows node" in finding["detail"]


def test_audit_of_a_windows_pod_alone_exits_zero(mixed: Sandbox) -> None:
    run = run_cli(["audit", "--node", "win1", "-l", "app=iis"], mixed.env())
    assert (run.exit_code, run.stderr) == (0, "")
    header, iis, *rest = run.stdout.splitlines()
    assert header.split()[-1] == "VERDICT"
    assert iis.split()[:7] == ["default", "iis", "win1", "true", "-", "-", "NOT-APPLICABLE:"]
    assert iis.endswith("runs on a windows node: user namespaces are Linux only")
    assert rest[-1] == (
        "audited 1 pod(s) on 1 node(s): 0 isolated, 0 not isolated, 0 in the host user "
        "namespace, 1 on non-Linux nodes (not applicable); 0 failing finding(s)"
    )


def test_verify_node_on_windows_fails_one_check_and_never_reaches_the_node(
    mixed: Sandbox,
) -> None:
    run = run_cli(["verify-node", "win1", "-o", "json"], mixed.env())
    assert (run.exit_code, run.stderr) == (1, "")
    report = json.loads(run.stdout)
    assert [(c["id"], c["status"]) for c in report["checks"]] == [("node-os", "FAIL")]
    assert report["checks"][0]["observed"] == "windows: user namespaces are Linux only"
    assert "nodeSelector kubernetes.io/os: linux" in report["checks"][0]["fix"]
    assert report["summary"]["verdict"] == "NOT READY" and report["nodeError"] is None
    table = run_cli(["verify-node", "win1"], mixed.env())
    assert table.exit_code == 1
    assert table.stdout.splitlines()[-1] == (
        "node win1: NOT READY for user namespaces - 1 of 1 checks failed (node-os), "
        "0 warning(s), 0 skipped"
    )


def test_verify_node_on_linux_passes_node_os(mixed: Sandbox) -> None:
    run = run_cli(["verify-node", "lin1", "-o", "json"], mixed.env())
    assert (run.exit_code, run.stderr) == (0, "")
    first = json.loads(run.stdout)["checks"][0]
    assert (first["id"], first["status"], first["observed"]) == ("node-os", "PASS", "linux")


def test_inspect_of_a_windows_pod_is_one_error_line(mixed: Sandbox) -> None:
    run = run_cli(["inspect", "iis"], mixed.env())
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == (
        'error: pod "iis" in namespace "default" runs on node win1, a windows node: user '
        "namespaces are Linux only, so there is nothing to inspect.\n"
    )
    asks = run_cli(["inspect", "asks"], mixed.env())
    assert asks.exit_code == 2
    assert asks.stderr.endswith("(it asks for hostUsers: false, which that node cannot give).\n")
    assert asks.stderr.count("\n") == 1
