"""inspect and audit on the nodes real clusters have: containerd and CRI-O with their default
layouts, static pods, crash loops, nested user namespaces, kubelets of several versions,
runtimes that ignore hostUsers or add user namespaces of their own, a non-default cgroup root.

Each test drives the real CLI against sandbox nodes that model the upstream component (sources
in kubectl_userns/sandbox/) and checks the verdict, the check's detail, stderr and exit code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kubectl_userns.sandbox.cluster import Sandbox
from kubectl_userns.sandbox.objects import kubelet_config
from tests.cli import Run, run_cli
from tests.conftest import needs_root

pytestmark = needs_root

POOL_131072 = "kubelet:131072:14417920\n"  # 110 pods x 131072, first a multiple of 131072


@pytest.fixture(scope="module")
def cluster(make_sandbox: Callable[[], Sandbox]) -> Sandbox:
    c = make_sandbox()
    c.add_node("ctrd", runtime="containerd")
    c.add_pod("plain", node="ctrd")
    c.add_pod("crashing", node="ctrd", crash_loop=True)
    c.add_pod("vip", node="ctrd", static=True, qos_class="Burstable")
    c.add_pod("kube-apiserver", node="ctrd", static=True, host_users=None, host_network=True)
    c.add_node("crio")
    c.add_pod("nested", node="crio", nested_userns=True)
    c.add_pod("ignored", node="crio", runtime_ignores_userns=True, containers=["app"])
    c.add_pod("auto", node="crio", host_users=None, crio_userns_mode="auto")
    c.add_pod("shared", node="crio", share_process_namespace=True)
    c.add_pod("looping", node="crio", crash_loop=True)
    c.add_node("podmon", conmon_cgroup="pod")
    c.add_pod("monitored", node="podmon")
    for version in ("v1.30.14", "v1.33.1", "v1.35.0", "v1.36.0"):
        name = "k" + version.split(".")[1]
        config = kubelet_config(ids_per_pod=131072)
        c.add_node(name, kubelet_version=version, configz=config, subuid=POOL_131072)
        c.add_pod(f"on-{name}", node=name)
    c.add_node("noconfigz", kubelet_version="v1.35.0", configz={}, subuid=POOL_131072)
    c.add_pod("blind", node="noconfigz", length=131072)
    c.add_node("croot", cgroup_root="/kubelet")
    c.add_pod("quiet", node="croot", host_id=655360, record=False)
    c.add_pod("loud", node="croot", host_id=655360)
    return c


def inspect(cluster: Sandbox, *args: str) -> Run:
    return run_cli(["inspect", *args], env=cluster.env())


def report_of(cluster: Sandbox, pod: str) -> tuple[Run, dict[str, Any]]:
    run = inspect(cluster, pod, "-o", "json")
    return run, json.loads(run.stdout) if run.stdout else {}


def check(report: dict[str, Any], check_id: str) -> tuple[str, str]:
    (found,) = [c for c in report["checks"] if c["id"] == check_id]
    return found["status"], found["detail"]


# --- item 1: containerd's pause --------------------------------------------------------------


def test_containerd_pause_is_the_pod_sandbox_and_is_checked_with_the_pod(cluster: Sandbox) -> None:
    run, report = report_of(cluster, "plain")
    assert (run.exit_code, run.stderr) == (0, "")
    pod = cluster.pod("plain")
    pause = next(p for p in report["processes"] if p["role"] == "sandbox")
    assert pause["containerID"] == pod.sandbox_id
    assert pause["cgroup"].endswith(f"/cri-containerd-{pod.sandbox_id}.scope")
    # the pause image's UID 65535 inside, host ID = the pod's first host ID + 65535
    assert (pause["uidInPod"], pause["uid"]) == (65535, pod.host_id + 65535)
    assert check(report, "private-userns") == (
        "PASS",
        "the container process and the pod's sandbox (PID "
        f"{pause['pid']}) run outside the host user namespace {report['hostUserNamespace']}",
    )
    table = inspect(cluster, "plain")
    assert "-/sandbox " in table.stdout and "/infra" not in table.stdout


def test_a_crash_looping_containerd_pod_is_judged_from_its_pause(cluster: Sandbox) -> None:
    run, report = report_of(cluster, "crashing")
    assert (run.exit_code, run.stderr) == (0, "")
    (pause,) = report["processes"]
    assert pause["role"] == "sandbox"
    assert check(report, "running-containers") == (
        "WARN",
        "no container runs (containers shell are not running: CrashLoopBackOff?); judged from "
        f"the pod's sandbox (PID {pause['pid']}), which holds the pod's user namespace",
    )
    failed = [c["id"] for c in report["checks"] if c["status"] == "FAIL"]
    assert failed == []
    table = inspect(cluster, "crashing")
    host_id = cluster.pod("crashing").host_id
    assert host_id is not None
    assert table.stdout.rstrip().endswith(
        f"default/crashing: isolated - host IDs {host_id}-{host_id + 65535} on node ctrd, "
        "8 checks passed, 1 warning(s)"
    )


def test_a_pod_with_nothing_running_is_no_running_container_not_a_fail(cluster: Sandbox) -> None:
    run = inspect(cluster, "looping")  # CRI-O: no infra container, conmon gone with the container
    assert (run.exit_code, run.stdout) == (3, "")
    pod = cluster.pod("looping")
    assert run.stderr == (
        'error: pod "looping" in namespace "default" has no running container on node crio: '
        f"its cgroup /sys/fs/cgroup/{pod.pod_cgroup} holds no process and no pod sandbox to "
        "judge from (CrashLoopBackOff or restarting?); inspect it once a container runs.\n"
    )


# --- item 2: CRI-O's layouts -----------------------------------------------------------------


def test_crio_default_conmon_is_outside_the_pod_and_infra_only_with_a_shared_pid_ns(
    cluster: Sandbox,
) -> None:
    run, report = report_of(cluster, "nested")
    assert run.exit_code == 0, run.stderr
    assert {p["role"] for p in report["processes"]} == {"app"}  # no conmon, no infra
    run, report = report_of(cluster, "shared")
    assert (run.exit_code, run.stderr) == (0, "")
    roles = [p["role"] for p in report["processes"]]
    assert roles == ["app", "sandbox"]
    infra = report["processes"][1]
    assert infra["cgroup"].endswith(f"/crio-{cluster.pod('shared').sandbox_id}.scope/container")


def test_crio_conmon_in_the_pod_with_conmon_cgroup_pod(cluster: Sandbox) -> None:
    run, report = report_of(cluster, "monitored")
    assert (run.exit_code, run.stderr) == (0, "")
    (conmon,) = [p for p in report["processes"] if p["role"] == "conmon"]
    cid = cluster.pod("monitored").containers[0].id
    assert conmon["cgroup"].endswith(f"/crio-conmon-{cid}.scope")
    assert conmon["containerID"] == cid and conmon["hostRoot"]  # host root, but not judged
    assert report["summary"]["failed"] == 0


# --- item 3: static pods ---------------------------------------------------------------------


def test_static_pod_found_by_its_mirror_annotation(cluster: Sandbox) -> None:
    run, report = report_of(cluster, "vip-ctrd")
    assert (run.exit_code, run.stderr) == (0, "")
    pod = cluster.pod("vip-ctrd")
    assert report["pod"]["uid"] == pod.uid != pod.kubelet_uid == report["pod"]["kubeletUID"]
    assert report["podCgroup"].endswith(f"kubepods-burstable-pod{pod.kubelet_uid}.slice")
    assert check(report, "kubelet-record")[0] == "PASS"


def test_audit_judges_static_pods(cluster: Sandbox) -> None:
    run = run_cli(["audit", "-A", "-o", "json"], env=cluster.env())
    rows = {r["name"]: r for r in json.loads(run.stdout)["pods"]}
    assert rows["vip-ctrd"]["verdict"] == "ISOLATED"
    assert rows["kube-apiserver-ctrd"]["verdict"] == "HOST USERNS"
    assert rows["crashing"]["verdict"] == "ISOLATED"
    assert rows["looping"]["verdict"] == "UNKNOWN"
    assert (
        rows["looping"]["reason"] == "no running container and no pod sandbox (CrashLoopBackOff?)"
    )
    assert rows["auto"]["verdict"] == "RUNTIME USERNS"
    assert rows["nested"]["verdict"] == "ISOLATED"
    assert rows["on-k33"]["verdict"] == "ISOLATED"
    assert run.exit_code == 1  # the ignored pod and the croot overlap fail
    assert "UNKNOWN" not in {r["verdict"] for n, r in rows.items() if n != "looping"}


# --- item 4: nested user namespaces ----------------------------------------------------------


def test_nested_user_namespace_inside_the_pods_range_is_reported_not_failed(
    cluster: Sandbox,
) -> None:
    run, report = report_of(cluster, "nested")
    assert (run.exit_code, run.stderr) == (0, "")
    pod = cluster.pod("nested")
    assert pod.host_id is not None
    # PIDs as the node sees them: the report's
    child = next(p["pid"] for p in report["processes"] if p["uid"] == pod.host_id + 1000)
    status, detail = check(report, "shared-userns")
    assert status == "PASS"
    assert detail.endswith(
        f"; PIDs {child} run in nested user namespaces inside the pod's range (maps "
        f"0 {pod.host_id + 1000} 1, 1 {pod.host_id + 10000} 55536)"
    )
    assert check(report, "ids-in-range")[0] == "PASS"


# --- item 5: idsPerPod by kubelet version ----------------------------------------------------


@pytest.mark.parametrize(
    ("node", "ids", "source"),
    [
        ("k30", 65536, "kubelet v1.30.14 ignores configz idsPerPod 131072 (honoured from 1.35)"),
        ("k33", 65536, "kubelet v1.33.1 ignores configz idsPerPod 131072 (honoured from 1.35)"),
        ("k35", 131072, "kubelet configz"),
        ("k36", 131072, "kubelet configz"),
    ],
)
def test_ids_per_pod_is_taken_by_kubelet_version(
    cluster: Sandbox, node: str, ids: int, source: str
) -> None:
    run, report = report_of(cluster, f"on-{node}")
    assert (run.exit_code, run.stderr) == (0, "")
    assert (report["idsPerPod"], report["idsPerPodSource"]) == (ids, source)
    host_id = cluster.pod(f"on-{node}").host_id
    assert host_id is not None
    assert check(report, "map-shape") == (
        "PASS",
        f"one line, inside 0, {ids} IDs, hostId {host_id} = {host_id // ids} x {ids} "
        f"(idsPerPod from {source})",
    )


def test_without_configz_the_records_length_is_used(cluster: Sandbox) -> None:
    run, report = report_of(cluster, "blind")
    assert (run.exit_code, run.stderr) == (0, "")
    assert report["idsPerPod"] == 131072
    assert report["idsPerPodSource"].startswith("the kubelet's records on the node (configz: ")
    assert check(report, "map-shape")[0] == "PASS"


# --- item 6: a pod the runtime left in the host namespace ------------------------------------


def test_ids_in_range_is_judged_against_the_kubelets_record(cluster: Sandbox) -> None:
    run, report = report_of(cluster, "ignored")
    assert (run.exit_code, run.stderr) == (1, "")
    pod = cluster.pod("ignored")
    (pid,) = [p["pid"] for p in report["processes"]]
    assert check(report, "ids-in-range") == (
        "FAIL",
        f"PIDs {pid} (host ID 0) run with host IDs outside the kubelet's record "
        f"0 {pod.host_id} 65536",
    )
    assert check(report, "private-userns")[0] == "FAIL"
    assert report["summary"]["result"] == "FAIL"


# --- item 10: CRI-O's own user namespaces ----------------------------------------------------


def test_crio_userns_mode_is_reported_as_what_it_is(cluster: Sandbox) -> None:
    run, report = report_of(cluster, "auto")
    assert (run.exit_code, run.stderr) == (0, "")
    assert check(report, "user-namespace-requested") == (
        "WARN",
        "spec.hostUsers is not false, but the pod runs in a user namespace of its own (uid_map "
        "0 2147483648 65536) that CRI-O made from the annotation io.kubernetes.cri-o.userns-mode:"
        " auto; the kubelet neither allocated nor checks its range: set spec.hostUsers: false "
        "(kubectl userns convert does it)",
    )
    assert check(report, "no-host-root") == (
        "PASS",
        "no process runs as host root; their IDs are those of their user namespace",
    )


# --- item 11: --cgroup-root with the systemd driver ------------------------------------------


def test_no_overlap_looks_where_the_pod_was_found(cluster: Sandbox) -> None:
    run, report = report_of(cluster, "loud")
    assert (run.exit_code, run.stderr) == (1, "")
    assert (
        "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
        in (report["podCgroup"])
    )
    quiet = cluster.pod("quiet")
    slice_name = f"kubelet-kubepods-besteffort-pod{quiet.uid.replace('-', '_')}.slice"
    quiet_report = report_of(cluster, "quiet")[1]
    (pid,) = [p["pid"] for p in quiet_report["processes"]]
    assert check(report, "no-overlap") == (
        "FAIL",
        f"shares host IDs with {slice_name} (PID {pid}, 0 655360 65536)",
    )


def test_the_served_config_names_the_cgroup_root_the_kubelet_runs_with(cluster: Sandbox) -> None:
    """A kubelet started with --cgroup-root serves it in /configz (KubeletConfiguration
    cgroupRoot, kubernetes/kubelet config/v1beta1 types.go), read here with the real kubectl."""
    import os
    import subprocess

    done = subprocess.run(
        ["kubectl", "get", "--raw", "/api/v1/nodes/croot/proxy/configz"],
        capture_output=True,
        text=True,
        env={**os.environ, **cluster.env()},
        timeout=20,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout)["kubeletconfig"]
    assert (config["cgroupRoot"], config["cgroupDriver"]) == ("/kubelet", "systemd")
