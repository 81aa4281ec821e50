"""What verify-node believes about a node, and what the node commands leave on it, through the
real CLI against sandbox nodes: the kubelet is the process a tenant cannot impersonate, the
kubelet root comes from that kubelet's command line, and inspect, audit and verify-node (without
--probe) change nothing on the node."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubectl_userns.sandbox.cluster import Sandbox
from kubectl_userns.sandbox.node import node_exec
from kubectl_userns.sandbox.objects import kubelet_config
from kubectl_userns.sandbox.pods import spawn
from tests.cli import Run, run_cli

K0S_ROOT = "/var/lib/k0s/kubelet"
CRIO_129 = "cri-o://1.29.0"
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
    # kubelet and runtime versions, as their Node objects report them
    sandbox.add_node("tr-crio129", kubelet_version="v1.30.4", container_runtime_version=CRIO_129)
    off = kubelet_config(feature_gates={"UserNamespacesSupport": False})
    sandbox.add_node(
        "tr-131off",
        kubelet_version="v1.31.2",
        container_runtime_version="cri-o://1.31.1",
        configz=off,
        subuid="kubelet:100000:7208960\n",
        subgid="kubelet:100000:7208960\n",
    )
    records = Path(sandbox.nodes["tr-131off"].dir) / "kubelet" / "pods"
    for uid, text in (("a-nouserns", ""), ("b-offset", record(196613))):
        (records / uid).mkdir()
        (records / uid / "userns").write_text(text)
    big = "kubelet:131072:14417920\n"  # 110 pods x 131072
    sandbox.add_node(
        "tr-135",
        kubelet_version="v1.35.0",
        container_runtime_version="cri-o://1.35.0",
        configz=kubelet_config(ids_per_pod=131072),
        subuid=big,
        subgid=big,
    )
    sandbox.add_node(
        "tr-136",
        kubelet_version="v1.36.0",
        container_runtime_version="containerd://2.0.4",
        configz=kubelet_config(feature_gates={}),
    )
    wrap = "kubelet:4294901760:131072\n"  # the last 65536 IDs, and 65536 past 2^32
    sandbox.add_node("tr-wrap", subuid=wrap, subgid=wrap, configz=kubelet_config(max_pods=2))
    sandbox.add_node("tr-nouser", kubelet_user=False)
    # its kubelet allocates from the default pool (no kubelet user): above the kubelet: line
    sandbox.add_pod("nouserpod", node="tr-nouser")
    yield sandbox


def record(host_id: int) -> str:
    mapping = f'[{{"hostId": {host_id}, "containerId": 0, "length": 65536}}]'
    return f'{{"uidMappings": {mapping}, "gidMappings": {mapping}}}'


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
    assert found["kubelet-root"]["status"] == "PASS"
    assert found["kubelet-root"]["observed"] == f"{K0S_ROOT} (the running kubelet's --root-dir)"
    assert found["kubelet-root"]["source"] == "node"
    assert found["userns-records"]["observed"] == "1 record(s), all inside the pool"
    # the filesystem under it is the host's (the sandbox kubelet's root is a directory of the
    # test's temporary directory: ext4, tmpfs, xfs ... whatever the machine has there)
    assert f" ({K0S_ROOT})" in found["kubelet-root-fs"]["observed"]


def test_a_missing_kubelet_root_is_named_with_the_fix(cluster: Sandbox) -> None:
    run = verify(cluster, "tr-k0s", "--kubelet-root", "/var/lib/kubelet", "--probe", "-o", "wide")
    assert run.exit_code == 0, run.stdout
    assert run.stderr == ""
    row = next(line for line in run.stdout.splitlines() if line.startswith("kubelet-root "))
    assert row.split()[1] == "WARN"
    assert "/var/lib/kubelet (--kubelet-root) does not exist" in row
    assert f"rerun with --kubelet-root {K0S_ROOT} (the running kubelet's root)" in row
    found = {line.split()[0]: line for line in run.stdout.splitlines()[1:] if line.strip()}
    assert found["kubelet-root-fs"].split()[1] == "SKIP"
    assert "does not exist (see kubelet-root)" in found["userns-records"]
    assert found["idmap-kubelet-root"].split()[1] == "SKIP"
    assert "/var/lib/kubelet does not exist" in found["idmap-kubelet-root"]
    assert "move" not in run.stdout and "ext4" not in found["idmap-kubelet-root"]


def inspect(cluster: Sandbox, *args: str) -> Run:
    return run_cli(["inspect", *args], env=cluster.env())


def audit(cluster: Sandbox, node: str) -> dict[str, dict[str, Any]]:
    run = run_cli(["audit", "-A", "--node", node, "-o", "json"], env=cluster.env())
    assert (run.exit_code, run.stderr) == (0, ""), run.stdout + run.stderr
    return {row["name"]: row for row in report(run)["pods"]}


def pod_checks(checks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in checks}


def test_inspect_and_audit_read_records_under_the_kubelets_root_dir(cluster: Sandbox) -> None:
    # the kubelet runs with --root-dir /var/lib/k0s/kubelet: its record of the pod is there
    run = inspect(cluster, "onk0s", "-o", "json")
    assert (run.exit_code, run.stderr) == (0, ""), run.stdout
    rep = report(run)
    assert rep["kubeletRoot"] == {
        "path": K0S_ROOT,
        "source": "the running kubelet's --root-dir",
        "exists": True,
    }
    recorded = f"matches the kubelet's record 0 {65536 * 80} 65536"
    assert pod_checks(rep["checks"])["kubelet-record"] == {
        "id": "kubelet-record",
        "status": "PASS",
        "detail": recorded,
    }
    row = audit(cluster, "tr-k0s")["onk0s"]
    assert row["verdict"] == "ISOLATED"
    assert pod_checks(row["checks"])["kubelet-record"]["detail"] == recorded


def test_a_wrong_kubelet_root_is_named_as_verify_node_names_it(cluster: Sandbox) -> None:
    # the same words and fix as verify-node's kubelet-root check for the same flag
    run = inspect(cluster, "onk0s", "--kubelet-root", "/var/lib/kubelet", "-o", "json")
    assert (run.exit_code, run.stderr) == (0, ""), run.stdout
    record = pod_checks(report(run)["checks"])["kubelet-record"]
    node = checks(verify(cluster, "tr-k0s", "--kubelet-root", "/var/lib/kubelet", "-o", "json"))
    root = node["kubelet-root"]
    assert root["observed"] == "/var/lib/kubelet (--kubelet-root) does not exist"
    assert record == {
        "id": "kubelet-record",
        "status": "WARN",
        "detail": f"no record to compare: the kubelet root {root['observed']}; {root['fix']}",
    }
    assert root["fix"] == f"rerun with --kubelet-root {K0S_ROOT} (the running kubelet's root)"


def test_inspect_takes_no_root_from_a_process_only_named_kubelet(cluster: Sandbox) -> None:
    # tr-fakes runs no kubelet, only tenants' processes called kubelet with --root-dir=/etc
    run = inspect(cluster, "tenant", "-o", "json")
    assert (run.exit_code, run.stderr) == (0, ""), run.stdout
    rep = report(run)
    assert rep["kubeletRoot"] == {
        "path": "/var/lib/kubelet",
        "source": "default; no running kubelet found",
        "exists": True,
    }
    assert pod_checks(rep["checks"])["kubelet-record"]["status"] == "PASS"


def test_a_kubelet_line_without_a_kubelet_user_is_not_the_pool(cluster: Sandbox) -> None:
    # no kubelet user: the kubelet allocates from its default pool, not the kubelet: line
    # (kubernetes pkg/kubelet/kubelet_pods.go getKubeletMappings); the pod's range lies above
    # that line, and inspect, audit and verify-node all judge it by the default pool
    run = inspect(cluster, "nouserpod", "-o", "json")
    assert (run.exit_code, run.stderr) == (0, ""), run.stdout
    rep = report(run)
    assert rep["mapping"]["hostRange"][0] >= 65536 + 7208960
    pool = pod_checks(rep["checks"])["subid-pool"]
    assert pool == {
        "id": "subid-pool",
        "status": "PASS",
        "detail": "inside 65536-4294967295 (4294901760 IDs) from the kubelet's default pool (no "
        "kubelet user and its kubelet lines in /etc/subuid are not used)",
    }
    # the pool as data, the same in the inspect report, the audit's row and its node entry
    default = {"first": 65536, "last": 2**32 - 1, "count": 2**32 - 65536}
    assert rep["kubeletPool"] == {
        "source": "default", **default, "ranges": [default],
        "sourceDetail": "the kubelet's default pool (no kubelet user and its kubelet lines in "
        "/etc/subuid are not used)",
    }  # fmt: skip
    row = audit(cluster, "tr-nouser")["nouserpod"]
    assert (row["verdict"], row["failedChecks"]) == ("ISOLATED", [])
    assert pod_checks(row["checks"])["subid-pool"] == pool
    assert row["kubeletPool"] == rep["kubeletPool"]
    run = run_cli(["audit", "-A", "--node", "tr-nouser", "-o", "json"], env=cluster.env())
    (entry,) = report(run)["nodes"]
    assert (entry["kubeletPool"], entry["kubeletRecords"]) == (rep["kubeletPool"], [])
    node = verify(cluster, "tr-nouser", "-o", "json")
    assert (node.exit_code, node.stderr) == (0, ""), node.stdout
    assert [c for c, v in checks(node).items() if v["status"] == "FAIL"] == []


# --- the kubelet is what a tenant cannot fake ----------------------------------------------------


def test_processes_named_kubelet_are_not_believed(cluster: Sandbox) -> None:
    # without /configz the report falls back to the node: only a real kubelet's files count
    cluster.store.set_forbidden(["/api/v1/nodes/tr-fakes/proxy"])
    try:
        run = verify(cluster, "tr-fakes", "-o", "json")
    finally:
        cluster.store.set_forbidden([])
    assert run.exit_code == 0, run.stdout
    assert run.stderr == ""
    rep = report(run)
    # none of the lures' flags were followed: no /etc/shadow read as a config, no /etc as root
    assert rep["kubelet"]["root"] == "/var/lib/kubelet"
    assert rep["kubelet"]["configSource"] == "defaults"
    found = checks(run)
    process = found["kubelet-process"]
    assert process["status"] == "WARN"
    observed = process["observed"]
    assert observed.startswith("no running kubelet found; not believed: PID ")
    assert observed.count("PID ") == 3
    assert "(runs in a user namespace of its own (uid_map is not the host's))" in observed
    assert "(does not run as UID 0 (Uid: 1000 1000 1000 1000))" in observed
    assert (
        "(its executable /var/lib/kubelet/tenant/kubelet is writable by others than root "
        "(mode 777))"
    ) in observed
    assert "pass --kubelet-root DIR" in process["fix"]
    assert (
        "no running kubelet found on the node to take its --config from"
        in (found["kubelet-config"]["observed"])
    )
    assert "/etc/shadow" not in run.stdout
    assert found["kubelet-root"]["observed"] == (
        "/var/lib/kubelet (default; no running kubelet found)"
    )


def test_a_real_kubelet_beside_a_fake_one_is_found(cluster: Sandbox) -> None:
    run = verify(cluster, "tr-both", "-o", "json")
    assert run.exit_code == 0, run.stdout
    assert report(run)["kubelet"]["root"] == "/var/lib/kubelet"
    process = checks(run)["kubelet-process"]
    assert process["status"] == "PASS"
    assert process["observed"].startswith("PID ")
    assert f", {KUBELET}; not believed: PID " in process["observed"]
    assert "does not run as UID 0" in process["observed"]


# --- kubelet and runtime versions -------------------------------------------------------------


def test_crio_1_29_under_a_1_30_kubelet_is_not_ready(cluster: Sandbox) -> None:
    run = verify(cluster, "tr-crio129")
    assert run.exit_code == 1
    assert run.stderr == ""
    row = next(line for line in run.stdout.splitlines() if line.startswith("container-runtime "))
    assert row.split()[1] == "FAIL"
    assert (
        f"{CRIO_129}: kubelet v1.30.4 refuses every hostUsers: false pod, since this runtime "
        "reports no user-namespace support for its handlers (CRI-O reports it from 1.30.0)"
    ) in row
    assert "container-runtime: upgrade CRI-O to 1.30" in run.stdout
    assert "NOT READY for user namespaces" in run.stdout.splitlines()[-1]
    assert "(container-runtime)" in run.stdout.splitlines()[-1]


def test_a_gate_off_is_blamed_on_the_gate(cluster: Sandbox) -> None:
    run = verify(cluster, "tr-131off", "-o", "json")
    assert run.exit_code == 1
    assert run.stderr == ""
    node = cluster.store.get("nodes", "tr-131off")
    assert node is not None
    # a 1.31 kubelet with the gate off reports its handlers without userNamespaces
    assert node["status"]["runtimeHandlers"][0]["features"] == {"recursiveReadOnlyMounts": True}
    found = checks(run)
    assert found["feature-gate"]["status"] == "FAIL"
    handlers = found["runtime-handlers"]
    assert handlers["status"] == "SKIP"
    assert (
        "only with the UserNamespacesSupport gate on (see feature-gate)" in (handlers["observed"])
    )
    assert "upgrade" not in handlers["fix"] + handlers["observed"]
    assert found["container-runtime"]["status"] == "PASS"
    # the records: the kubelet's own error; an empty one is a pod without a user namespace
    assert found["userns-records"]["observed"] == (
        "1 of 2 record(s) the kubelet ignores while its user-namespace gate is off and rejects "
        "once it is on (it then fails to start): b-offset (no such pod in the API): wrong user "
        "namespace offset specified 196613 (not a multiple of 65536)"
    )
    # the bad pool: the kubelet reads it only with the gate on
    assert found["pool-alignment"]["observed"] == (
        "first ID 100000 (34464 past a multiple): ignored while the user-namespace gate is off; "
        "with it on, the kubelet fails to start"
    )


@pytest.mark.parametrize(("node", "runtime"), [("tr-135", "cri-o"), ("tr-136", "containerd")])
def test_current_kubelets_are_ready(cluster: Sandbox, node: str, runtime: str) -> None:
    run = verify(cluster, node, "-o", "json")
    assert run.exit_code == 0, run.stdout
    assert run.stderr == ""
    found = checks(run)
    assert found["runtime-handlers"]["status"] == "PASS"
    assert found["container-runtime"]["observed"].startswith(f"{runtime}://")
    assert report(run)["summary"]["verdict"] == "READY"


def test_a_pool_past_2_32_says_it_wraps_to_root(cluster: Sandbox) -> None:
    run = verify(cluster, "tr-wrap", "-o", "json")
    assert run.exit_code == 1
    assert run.stderr == ""
    rows = [c for c in report(run)["checks"] if c["status"] == "FAIL"]
    assert [c["id"] for c in rows] == ["pool-end"]
    assert rows[0]["observed"] == (
        "last ID 4295032831: the pool runs 65536 IDs past 2^32, and the kubelet's slots wrap "
        "around to low host IDs, host UID 0 (root) included"
    )


def test_a_kubelet_line_without_a_kubelet_user_fails_nothing(cluster: Sandbox) -> None:
    run = verify(cluster, "tr-nouser", "-o", "json")
    assert run.exit_code == 0, run.stdout
    assert run.stderr == ""
    found = checks(run)
    assert [c for c, v in found.items() if v["status"] == "FAIL"] == []
    assert found["kubelet-user"]["observed"].endswith(
        "its kubelet:65536:7208960 line(s) in /etc/subuid and /etc/subgid are not used"
    )


# --- nothing written on the node --------------------------------------------------------------


# The node's writable places that are its own (the rest of its filesystem is the host's, shared
# with every other process on this machine): the upper directories of its /etc and /var/lib
# overlays (where any write to them lands, a removal as a whiteout), the kubelet root (a bind
# mount of the node directory's kubelet/, which a find of /var/lib -xdev would not enter), /run
# and /root (tmpfs), and its cgroup tree. Directory mtimes are listed too, so a file created and
# removed again shows. (Walking the overlays themselves read the host's whole /etc and /var/lib.)
def node_listing(cluster: Sandbox, node: str) -> list[str]:
    own = [f"{cluster.nodes[node].dir}/{d}" for d in ("etc.upper", "varlib.upper", "kubelet")]
    listing = (
        f"find {shlex.join(own)} /run /root -xdev -printf '%p %y %s %T@ %m %u %g\\n' | sort; "
        "find /sys/fs/cgroup -type d | sort"
    )
    return node_exec(cluster.nodes[node], ["sh", "-c", listing]).splitlines()


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
