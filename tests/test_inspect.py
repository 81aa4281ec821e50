"""`kubectl userns inspect` through the real CLI against the sandbox's real processes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kubectl_userns.sandbox.cluster import Sandbox
from tests.cli import Run, run_cli, run_process
from tests.conftest import needs_root
from tests.probe_run import logged_run

pytestmark = needs_root


def inspect(sandbox: Sandbox, *args: str) -> Run:
    return run_cli(["inspect", *args], env=sandbox.env())


def checks(run: Run) -> dict[str, str]:
    """CHECK -> STATUS from the table output."""
    table = run.stdout.split("\n\n")[1]
    rows = [line.split()[:2] for line in table.splitlines()[1:]]
    return dict((row[0], row[1]) for row in rows)


def test_testpod_is_isolated(sandbox: Sandbox) -> None:
    run = inspect(sandbox, "testpod")
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    (pid,) = sandbox.pod("testpod").containers[0].pids
    header, *rows = run.stdout.split("\n\n")[0].splitlines()
    assert header.split() == [
        "CONTAINER",
        "PID",
        "USER",
        "UID-IN-POD",
        "USERNS",
        "UID-MAP",
        "GID-MAP",
        "COMMAND",
    ]
    shell = next(r for r in rows if r.startswith("shell "))
    fields = shell.split()
    # the PID as the node sees it, host UID 4980736 = UID 0 in the pod, the map
    assert fields[2:4] == ["4980736", "0"]
    assert fields[5:] == ["0:4980736:65536", "0:4980736:65536", "sleep", "infinity"]
    # CRI-O by default: conmon in system.slice, not in the pod (cri-o pkg/config/config_linux.go)
    assert not any("conmon" in r.split()[0] for r in rows)
    assert set(checks(run).values()) == {"PASS"}
    assert len(checks(run)) == 8
    assert run.stdout.rstrip().endswith(
        "default/testpod: isolated - host IDs 4980736-5046271 on node wk2, 8 checks passed"
    )
    assert pid > 0


def test_json_report(sandbox: Sandbox) -> None:
    run = inspect(sandbox, "testpod", "-o", "json")
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["kind"] == "PodInspection"
    assert report["pod"]["uid"] == "e33ed7f7-0c89-42a5-9956-94a0a1761b23"
    assert report["mapping"] == {"uidMap": "0 4980736 65536", "hostRange": [4980736, 5046271]}
    app = [p for p in report["processes"] if p["role"] == "app"]
    assert [(p["container"], p["uid"], p["uidInPod"]) for p in app] == [("shell", 4980736, 0)]
    assert report["summary"] == {"result": "PASS", "passed": 8, "failed": 0, "warnings": 0}


def test_second_container_and_container_filter(sandbox: Sandbox) -> None:
    run = inspect(sandbox, "web", "-o", "wide")
    assert run.exit_code == 0, run.stderr
    rows = run.stdout.split("\n\n")[0].splitlines()
    assert rows[0].split()[7:9] == ["CGROUP", "CONTAINER-ID"]
    # CRI-O's conmons are in system.slice by default, not in the pod
    assert {r.split()[0] for r in rows[1:]} == {"nginx", "sidecar"}
    only = inspect(sandbox, "web", "-c", "sidecar", "--no-headers")
    assert only.exit_code == 0
    assert {r.split()[0] for r in only.stdout.splitlines()} == {"sidecar"}
    unknown = inspect(sandbox, "web", "-c", "nope")
    assert unknown.exit_code == 2 and unknown.stdout == ""
    assert unknown.stderr == (
        'error: container "nope" is not in pod "web" in namespace "default" '
        "(containers: nginx, sidecar).\n"
    )


def test_host_users_pod_fails_loudly(sandbox: Sandbox) -> None:
    run = inspect(sandbox, "hostpod")
    assert run.exit_code == 1
    assert "   0(HOST-ROOT)   " in run.stdout
    assert checks(run) == {"user-namespace-requested": "FAIL", "no-host-root": "FAIL"}
    assert "default/hostpod: NOT ISOLATED - 2 of 2 checks failed on node wk1" in run.stdout


def test_kubectl_type_slash_name_form(sandbox: Sandbox) -> None:
    run = inspect(sandbox, "pod/testpod", "--no-headers")
    assert run.exit_code == 0, run.stderr
    assert run.stderr.startswith("default/testpod: isolated")
    wrong = inspect(sandbox, "deploy/web")
    assert (wrong.exit_code, wrong.stdout) == (2, "")
    assert wrong.stderr == "error: inspect takes a pod, not deploy/web; give POD or pod/POD.\n"


def test_missing_pod(sandbox: Sandbox) -> None:
    run = inspect(sandbox, "ghost", "-n", "shop")
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == (
        'error: pod "ghost" not found in namespace "shop"; list the pods with '
        "'kubectl get pods -n shop' or pass -n NAMESPACE.\n"
    )


def test_unknown_host_key_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(
        sandbox.ssh_config.read_text().replace(str(sandbox.known_hosts), str(tmp_path / "kh"))
    )
    run = run_cli(["inspect", "testpod", "--ssh-config", str(config)], env=sandbox.env())
    assert (run.exit_code, run.stdout) == (3, "")
    assert run.stderr.startswith("error: node wk2 (")
    assert "offered an unknown SSH host key" in run.stderr
    assert "--ssh-accept-new" in run.stderr
    assert not (tmp_path / "kh").exists()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_through_kubectl(sandbox: Sandbox) -> None:
    run = run_process(["inspect", "testpod"], env=sandbox.env(), via_kubectl=True)
    assert run.exit_code == 0, run.stderr
    assert "default/testpod: isolated - host IDs 4980736-5046271" in run.stdout


# --- variants on a sandbox of this module ------------------------------------------------


@pytest.fixture(scope="module")
def variants(make_sandbox: Callable[[], Sandbox]) -> Sandbox:
    cluster = make_sandbox()
    cluster.add_node("n1", sshd_log_level="DEBUG1")
    cluster.add_node("hyb", cgroup_mode="hybrid", cgroup_driver="cgroupfs")
    cluster.add_pod("guaranteed", node="n1", qos_class="Guaranteed", containers=2)
    cluster.add_pod("ctrd", node="hyb", runtime="containerd", qos_class="Burstable")
    cluster.add_pod("first", node="n1", host_id=655360)
    cluster.add_pod("second", node="n1", host_id=655360)
    cluster.add_pod("lying", node="n1", host_id=720896, kubelet_record_host_id=786432)
    cluster.add_pod("split", node="n1", containers=2, shared_userns=False)
    cluster.add_pod("rooted", node="n1", host_root_process=True)
    cluster.add_pod("churny", node="n1", containers=2, churn=True)
    _signal_pod(cluster, "churny", signal.SIGSTOP)  # churns only in its test (see _churning)
    cluster.add_pod("twenty", node="n1", containers=20)
    cluster.add_pod("waiting", node="n1", phase="Pending")
    cluster.add_node("gone")
    cluster.add_pod("orphan", node="gone")
    cluster.stop_sshd("gone")
    return cluster


def test_guaranteed_pod(variants: Sandbox) -> None:
    run = inspect(variants, "guaranteed")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "kubepods-pod" in inspect(variants, "guaranteed", "-o", "json").stdout


def test_cgroupfs_containerd_on_a_hybrid_node(variants: Sandbox) -> None:
    run = inspect(variants, "ctrd", "-o", "json")
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    uid = report["pod"]["uid"]
    assert report["podCgroup"] == f"/sys/fs/cgroup/unified/kubepods/burstable/pod{uid}"
    # containerd: no conmon; pause, the pod sandbox, in <pod cgroup>/<sandbox id>
    assert [p["role"] for p in report["processes"]] == ["app", "sandbox"]
    sandbox_id = variants.pod("ctrd").sandbox_id
    assert report["processes"][1]["cgroup"].endswith(f"/pod{uid}/{sandbox_id}")
    assert report["processes"][1]["uidInPod"] == 65535


def test_overlapping_pods_fail(variants: Sandbox) -> None:
    run = inspect(variants, "second")
    assert run.exit_code == 1
    assert checks(run)["no-overlap"] == "FAIL"
    uid = variants.pod("first").uid
    assert f"pod {uid} (kubelet record 0 655360 65536)" in run.stdout


def test_mapping_differs_from_kubelet_record(variants: Sandbox) -> None:
    run = inspect(variants, "lying")
    assert run.exit_code == 1
    assert checks(run)["kubelet-record"] == "FAIL"
    assert "the kubelet allocated 0 786432 65536 but the processes run with 0 720896 65536" in (
        run.stdout
    )


def test_containers_in_different_user_namespaces_fail(variants: Sandbox) -> None:
    run = inspect(variants, "split")
    assert run.exit_code == 1
    assert checks(run)["shared-userns"] == "FAIL"
    assert "the pod's processes sit in 2 user namespaces" in run.stdout


def test_a_host_root_process_in_the_pod(variants: Sandbox) -> None:
    run = inspect(variants, "rooted")
    assert run.exit_code == 1
    result = checks(run)
    assert result["no-host-root"] == "FAIL"
    assert result["private-userns"] == "FAIL"
    assert "(HOST-ROOT)" in run.stdout


def _signal_pod(cluster: Sandbox, pod: str, signum: int) -> None:
    for container in cluster.pod(pod).containers:
        for pid in container.pids:
            os.kill(pid, signum)


@contextlib.contextmanager
def _churning(cluster: Sandbox) -> Iterator[None]:
    """The churning container starts 50 short-lived processes a second for as long as it runs
    (1,300 a run when it ran for the whole module): it is stopped but while its test runs."""
    _signal_pod(cluster, "churny", signal.SIGCONT)
    try:
        yield
    finally:
        _signal_pod(cluster, "churny", signal.SIGSTOP)


def test_processes_that_exit_during_the_probe_are_not_errors(variants: Sandbox) -> None:
    for _ in range(3):
        with _churning(variants):
            run = inspect(variants, "churny", "-o", "json")
        report = json.loads(run.stdout) if run.stdout.startswith("{") else {}
        failing = [c for c in report.get("checks", []) if c["status"] != "PASS"]
        # the failing checks and the processes read, for a failure seen once and not since
        assert run.exit_code == 0, (failing, report.get("processes"), run.stderr)
        assert report["summary"]["failed"] == 0


def test_twenty_containers_take_one_connection_and_one_command(variants: Sandbox) -> None:
    log = Path(variants.nodes["n1"].dir) / "sshd.log"
    before = log.read_text()
    run = inspect(variants, "twenty")
    assert run.exit_code == 0, run.stderr
    new = log.read_text()[len(before) :]
    assert new.count("Accepted publickey for root") == 1
    assert new.count("req exec") == 1
    apps = [r for r in run.stdout.split("\n\n")[0].splitlines()[1:] if "/conmon " not in r]
    assert len(apps) == 20


def _probe_commands(cluster: Sandbox, node: str, pod: str, wrappers: Path) -> list[str]:
    """The commands the inspect probe starts on ``node`` for ``pod``, logged by PATH wrappers."""
    args = ["/var/lib/kubelet", cluster.pod(pod).uid]
    return logged_run(cluster, node, "inspect", args, wrappers)[0]


def test_the_probe_starts_as_many_processes_for_twenty_containers_as_for_two(
    variants: Sandbox, tmp_path: Path
) -> None:
    two = _probe_commands(variants, "n1", "guaranteed", tmp_path)
    twenty = _probe_commands(variants, "n1", "twenty", tmp_path)
    # one ls for every namespace link, one head | tr for every command line and one for every
    # kubelet record, getsubids twice, and the sed that escapes the output; and the kubelet
    # scan (probe/common.sh): readlink of its exe, one stat of that and of the path, tr of its
    # command line - per process called kubelet, not per pod; getent for the kubelet user.
    # Files (uid_map, status, cgroup) are read by the shell itself
    subids = ["getsubids", "getsubids"] if shutil.which("getsubids") else []
    scan = ["readlink", "stat", "tr"]
    expected = sorted([*subids, "getent", "head", "head", "ls", "sed", "tr", "tr", *scan])
    assert sorted(two) == sorted(twenty) == expected


def test_pending_pod_is_bad_input(variants: Sandbox) -> None:
    run = inspect(variants, "waiting")
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == (
        'error: pod "waiting" in namespace "default" is not scheduled to a node yet '
        "(phase Pending); inspect it once it runs.\n"
    )


def test_unreachable_node(variants: Sandbox) -> None:
    run = inspect(variants, "orphan", "--ssh-timeout", "2")
    assert (run.exit_code, run.stdout) == (3, "")
    node = variants.nodes["gone"]
    assert run.stderr == (
        f"error: cannot reach node gone over SSH at {node.address}:{node.port} (connection "
        "refused); check that sshd runs there and the address is right, or use "
        "--ssh-host/--ssh-port.\n"
    )
