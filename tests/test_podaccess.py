"""`--via pod`: the probe runs in a short-lived pod created through the API, run by the
sandbox's minimal kubelet inside the node's namespaces, read from its log and deleted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubectl_userns.access.probe_pod import (
    HOST_ROOT,
    MANAGED_BY,
    STDERR_MARKER,
    probe_pod_manifest,
    split_log,
)
from kubectl_userns.checks.node import catalogue
from kubectl_userns.sandbox.cluster import Sandbox
from tests.cli import Run, run_cli
from tests.conftest import needs_root

# --- pure -------------------------------------------------------------------------------------


def test_manifest_is_pinned_read_only_and_least_privileged() -> None:
    pod = probe_pod_manifest(
        "p",
        "wk2",
        "echo hi",
        ["/var/lib/kubelet", "uid-1"],
        kubelet_root="/var/lib/kubelet",
        image="busybox:1.36",
        namespace="ops",
        deadline=150,
    )
    spec = pod["spec"]
    assert (spec["nodeName"], spec["hostPID"], spec["restartPolicy"]) == ("wk2", True, "Never")
    assert pod["metadata"]["labels"]["app.kubernetes.io/managed-by"] == MANAGED_BY
    (container,) = spec["containers"]
    assert container["command"][0:2] == ["sh", "-c"]
    assert container["command"][3:] == ["echo hi", "/var/lib/kubelet", "uid-1"]
    context = container["securityContext"]
    assert context["capabilities"] == {"drop": ["ALL"], "add": ["SYS_PTRACE"]}
    assert context["privileged"] is False and context["allowPrivilegeEscalation"] is False
    host_mounts = [m for m in container["volumeMounts"] if m["name"] != "scratch"]
    assert all(m["readOnly"] for m in host_mounts)
    paths = {
        v["hostPath"]["path"]: v["hostPath"]["type"] for v in spec["volumes"] if "hostPath" in v
    }
    assert paths == {
        "/sys/fs/cgroup": "Directory",
        "/var/lib/kubelet": "Directory",
        "/etc/subuid": "File",
        "/etc/subgid": "File",
        "/etc/passwd": "File",
    }


def test_node_manifest_mounts_the_root_read_only_and_is_privileged_only_for_probe() -> None:
    def make(privileged: bool) -> dict[str, Any]:
        return probe_pod_manifest(
            "p",
            "wk2",
            "echo hi",
            ["/var/lib/kubelet"],
            kubelet_root="/var/lib/kubelet",
            image="busybox:1.36",
            namespace="ops",
            deadline=150,
            host_root=True,
            privileged=privileged,
        )

    pod = make(False)
    (container,) = pod["spec"]["containers"]
    assert [v["hostPath"] for v in pod["spec"]["volumes"] if "hostPath" in v] == [
        {"path": "/", "type": "Directory"}
    ]
    assert {"name": "host-root", "mountPath": HOST_ROOT, "readOnly": True} in container[
        "volumeMounts"
    ]
    assert container["command"][2].startswith(f"chroot {HOST_ROOT} sh -c ")
    context = container["securityContext"]
    assert context["capabilities"] == {"drop": ["ALL"], "add": ["SYS_CHROOT", "SYS_PTRACE"]}
    assert context["privileged"] is False and context["allowPrivilegeEscalation"] is False
    (container,) = make(True)["spec"]["containers"]
    assert container["securityContext"]["privileged"] is True
    assert container["command"][2].startswith("nsenter -t 1 -m -- sh -c ")


def test_split_log() -> None:
    assert split_log(f"probe\nend\n\n{STDERR_MARKER}\nwarn\n") == ("probe\nend\n", "warn\n")
    assert split_log("sh: not found\n") == ("", "sh: not found\n")


# --- against a sandbox ------------------------------------------------------------------------

pytestmark = needs_root


@pytest.fixture(scope="module")
def cluster(make_sandbox: Callable[[], Sandbox]) -> Sandbox:
    c = make_sandbox()
    c.add_node("p1")
    c.add_node("p2", cgroup_mode="hybrid", cgroup_driver="cgroupfs")
    c.add_pod("iso", node="p1", containers=2)
    c.add_pod("rooty", node="p1", host_users=True)
    c.add_pod("ctrd", node="p2", runtime="containerd", qos_class="Burstable")
    c.add_pod("twin-a", node="p2", host_id=655360)
    c.add_pod("twin-b", node="p2", host_id=655360)
    return c


@pytest.fixture
def no_leftovers(cluster: Sandbox) -> Iterator[None]:
    yield
    left = [
        p["metadata"]["name"]
        for p in cluster.store.list("pods")
        if (p["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == MANAGED_BY
    ]
    assert left == [], "probe pods were left behind"
    logs = cluster.store.root / "logs"
    assert not logs.exists() or not list(logs.rglob("*.log")), "probe pod logs were left"


def cli(cluster: Sandbox, *args: str) -> Run:
    return run_cli(list(args), env=cluster.env())


def _same_report(ssh: dict[str, object], pod: dict[str, object]) -> None:
    # a probe pod sees the node's processes but not its files: it reads the kubelet root it
    # mounts (the default) and says so, where SSH took the running kubelet's
    ssh_root, pod_root = ssh.pop("kubeletRoot", None), pod.pop("kubeletRoot", None)
    if isinstance(ssh_root, dict) and isinstance(pod_root, dict):
        assert pod_root == {
            **ssh_root,
            "source": "default; a probe pod cannot see the kubelet's command line",
        }
    assert pod == ssh


@pytest.mark.parametrize("name", ["iso", "rooty", "ctrd", "twin-b"])
def test_inspect_via_pod_gives_the_ssh_report(
    cluster: Sandbox, name: str, no_leftovers: None
) -> None:
    over_ssh = cli(cluster, "inspect", name, "-o", "json")
    via_pod = cli(cluster, "inspect", name, "-o", "json", "--via", "pod")
    assert via_pod.exit_code == over_ssh.exit_code, via_pod.stderr
    assert via_pod.stderr == over_ssh.stderr == ""
    _same_report(json.loads(over_ssh.stdout), json.loads(via_pod.stdout))


@pytest.mark.parametrize(
    ("node", "extra"), [("p1", []), ("p2", []), ("p1", ["--probe"]), ("p2", ["--probe"])]
)
def test_verify_node_via_pod_gives_the_ssh_report(
    cluster: Sandbox, node: str, extra: list[str], no_leftovers: None
) -> None:
    over_ssh = cli(cluster, "verify-node", node, "-o", "json", *extra)
    via_pod = cli(cluster, "verify-node", node, "-o", "json", "--via", "pod", *extra)
    # p2's hybrid cgroups fail the cgroup-version check on both paths
    expected = 0 if node == "p1" else 1
    assert via_pod.exit_code == over_ssh.exit_code == expected, via_pod.stdout + via_pod.stderr
    assert via_pod.stderr == over_ssh.stderr == ""
    report = json.loads(via_pod.stdout)
    assert report == json.loads(over_ssh.stdout)
    # the node's own files were read: its kubelet user, pool and cgroup layout
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["subid-pool"]["observed"].startswith("kubelet:65536:7208960")
    assert checks["cgroup-version"]["observed"].startswith("v2" if node == "p1" else "hybrid")
    if extra:
        assert checks["idmap-tmpfs"]["status"] == "PASS"


def test_verify_node_via_pod_table(cluster: Sandbox, no_leftovers: None) -> None:
    run = cli(cluster, "verify-node", "p1", "--via", "pod")
    assert (run.exit_code, run.stderr) == (0, "")
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "STATUS", "SOURCE", "OBSERVED", "EXPECTED"]
    assert any(line.split()[:2] == ["kubelet-user", "PASS"] for line in lines)
    assert lines[-1].startswith("node p1: ready for user namespaces")


def test_inspect_via_pod_table(cluster: Sandbox, no_leftovers: None) -> None:
    run = cli(cluster, "inspect", "iso", "--via", "pod")
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    host_id = cluster.pod("iso").host_id
    assert f"default/iso: isolated - host IDs {host_id}-" in run.stdout.splitlines()[-1]


def test_audit_via_pod(cluster: Sandbox, no_leftovers: None) -> None:
    over_ssh = cli(cluster, "audit", "-A", "-o", "json")
    via_pod = cli(cluster, "audit", "-A", "-o", "json", "--via", "pod", "--parallel", "2")
    assert via_pod.exit_code == over_ssh.exit_code == 1, via_pod.stderr
    assert via_pod.stderr == ""
    assert json.loads(via_pod.stdout) == json.loads(over_ssh.stdout)
    verdicts = {p["name"]: p["verdict"] for p in json.loads(via_pod.stdout)["pods"]}
    assert verdicts == {
        "ctrd": "ISOLATED",
        "iso": "ISOLATED",
        "rooty": "HOST USERNS",
        "twin-a": "NOT ISOLATED",
        "twin-b": "NOT ISOLATED",
    }


def test_failing_probe_pod_is_deleted_too(cluster: Sandbox, no_leftovers: None) -> None:
    # the kubelet root does not exist on the node: the container cannot start its mounts
    run = cli(cluster, "inspect", "iso", "--via", "pod", "--kubelet-root", "/nonexistent/kubelet")
    assert (run.exit_code, run.stdout) == (3, "")
    assert run.stderr.startswith("error: the probe failed on node p1 (exit ")
    assert "/nonexistent/kubelet" in run.stderr


def test_missing_rbac_is_named(cluster: Sandbox, no_leftovers: None) -> None:
    try:
        cluster.store.set_forbidden(["POST /api/v1/namespaces/default/pods"])
        run = cli(cluster, "inspect", "iso", "--via", "pod")
        assert (run.exit_code, run.stdout) == (3, "")
        assert run.stderr == (
            "error: the Kubernetes API forbids create pods in namespace default (403), which "
            "--via pod needs; ask for RBAC permission to create pods there, or pick another "
            "--probe-namespace.\n"
        )
        # reading the log is refused: the probe pod ran and is still deleted
        cluster.store.set_forbidden(["GET /api/v1/namespaces/default/pods/kubectl-userns-probe-"])
        run = cli(cluster, "audit", "--node", "p1", "--via", "pod")
        assert run.exit_code == 3
        assert "UNKNOWN: the Kubernetes API forbids get pods in namespace default" in run.stdout
        # verify-node still shows what the API told, then names the refused permission
        cluster.store.set_forbidden(["POST /api/v1/namespaces/default/pods"])
        run = cli(cluster, "verify-node", "p1", "--via", "pod")
        assert run.exit_code == 3
        assert run.stdout.splitlines()[0].split()[:2] == ["CHECK", "STATUS"]
        assert ["kubelet-version", "PASS"] in [line.split()[:2] for line in run.stdout.splitlines()]
        from_api = sum(1 for rule in catalogue() if rule.source == "api")
        assert run.stdout.endswith(
            f"node p1: INCOMPLETE - the node was not reached; of the {from_api} checks from the "
            f"API {from_api} passed, 0 failed, 0 warning(s)\n"
        )
        assert run.stderr.startswith("error: the Kubernetes API forbids create pods in namespace")
        assert run.stderr.count("\n") == 1
    finally:
        cluster.store.set_forbidden([])


def test_a_read_only_user_is_told_the_refused_create(cluster: Sandbox, no_leftovers: None) -> None:
    """Create and delete both refused: the create is what the user must fix (issue 14.12)."""
    try:
        cluster.store.set_forbidden(
            ["POST /api/v1/namespaces/default/pods", "DELETE /api/v1/namespaces/default/pods"]
        )
        run = cli(cluster, "inspect", "iso", "--via", "pod")
        assert (run.exit_code, run.stdout) == (3, "")
        assert run.stderr == (
            "error: the Kubernetes API forbids create pods in namespace default (403), which "
            "--via pod needs; ask for RBAC permission to create pods there, or pick another "
            "--probe-namespace.\n"
        )
    finally:
        cluster.store.set_forbidden([])


def test_flag_conflicts(cluster: Sandbox) -> None:
    run = cli(cluster, "inspect", "iso", "--via", "pod", "--ssh-user", "admin")
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == (
        "error: --via pod cannot be used with --ssh-user: probe pods need no SSH; drop it.\n"
    )
    run = cli(cluster, "audit", "-A", "--image", "busybox")
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == "error: --image only apply with --via pod; add --via pod.\n"
    run = cli(cluster, "inspect", "iso", "--via", "ftp")
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == "error: --via must be ssh or pod (got 'ftp').\n"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_emulator_pod_life_cycle_with_real_kubectl(cluster: Sandbox, tmp_path: Path) -> None:
    env = {**os.environ, **cluster.env()}
    manifest = probe_pod_manifest(
        "lifecycle",
        "p1",
        "readlink /proc/1/ns/user; grep CapEff /proc/self/status; cat /etc/group; "
        "grep -c kubelet /etc/passwd; touch /sys/fs/cgroup/x",
        [],
        kubelet_root="/var/lib/kubelet",
        image="busybox",
        namespace="default",
        deadline=30,
    )

    def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", *args], input=stdin, env=env, capture_output=True, text=True, check=False
        )

    created = kubectl("create", "--validate=false", "-f", "-", stdin=json.dumps(manifest))
    assert created.returncode == 0, created.stderr
    done = kubectl("wait", "--for=jsonpath={.status.phase}=Failed", "pod/lifecycle")
    assert done.returncode == 0, done.stderr
    log = kubectl("logs", "lifecycle").stdout
    # the node's PID 1 (hostPID), only CAP_SYS_PTRACE, and a read-only cgroup mount
    assert log.startswith("user:[")
    assert "CapEff:\t0000000000080000" in log
    # its own root (the image), not the node's: /etc holds only what the image has, and the
    # node's /etc/passwd (mounted: does the node have a kubelet user?)
    assert "\nroot:x:0:\n1\n" in log
    assert "Read-only file system" in log
    deleted = kubectl("delete", "pod", "lifecycle")
    assert (deleted.returncode, deleted.stdout) == (0, 'pod "lifecycle" deleted\n')
    assert kubectl("get", "pod", "lifecycle").returncode == 1


def _probe_processes(node_pid: int) -> list[str]:
    """Probe-pod processes in the PID namespace of the node whose PID 1 is ``node_pid`` (other
    tests' probe pods, in other sandboxes, run at the same time)."""
    pidns = os.readlink(f"/proc/{node_pid}/ns/pid")
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
                if b"/tmp/probe-stderr" in cmdline and os.readlink(proc / "ns" / "pid") == pidns:
                    found.append(proc.name)
            except OSError:
                continue
    return found


def test_ctrl_c_deletes_the_probe_pod(cluster: Sandbox, no_leftovers: None) -> None:
    import signal
    import sys
    import threading
    import time

    from kubectl_userns.sandbox.node import node_exec

    cluster.add_node("stuck")
    cluster.add_pod("slow", node="stuck")
    node = cluster.nodes["stuck"]
    # the node's getsubids never answers (as with an NSS subid source that hangs): it reads a
    # FIFO in the kubelet root, which the probe pod mounts; nobody writes to it
    fifo = Path(node.dir) / "kubelet" / "getsubids.fifo"
    os.mkfifo(fifo, 0o600)
    hanging = Path(node.dir) / "getsubids-hangs"
    hanging.write_text(f"#!/bin/sh\nread -r answer < {node.kubelet_root}/getsubids.fifo\n")
    hanging.chmod(0o755)
    node_exec(node, ["mount", "--bind", str(hanging), "/usr/bin/getsubids"])
    # the event waited for: the probe's getsubids opens the FIFO to read it, which is when this
    # open for writing returns (fifo(7)); the write end stays open and empty, so it hangs there
    writer: list[int] = []
    opener = threading.Thread(target=lambda: writer.append(os.open(fifo, os.O_WRONLY)))
    opener.start()
    env = {**os.environ, **cluster.env()}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "kubectl-userns"), "inspect", "slow", "--via", "pod"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # a generous deadline, only ever reached when the probe never comes (a loaded machine
        # takes seconds); the CLI ending first is a failure at once
        deadline = time.monotonic() + 180
        while opener.is_alive() and proc.poll() is None and time.monotonic() < deadline:
            opener.join(timeout=0.5)
        if opener.is_alive():  # unblock the opener: this process is then the reader
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
            opener.join()
        assert proc.poll() is None, "the CLI ended before its probe ran getsubids"
        assert _probe_processes(node.init_pid)  # the probe pod runs, hanging in getsubids
        assert [
            p["metadata"]["name"]
            for p in cluster.store.list("pods", "default")
            if p["metadata"]["name"].startswith("kubectl-userns-probe-")
        ]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=180)
    finally:
        proc.kill()
        proc.communicate()
        for fd in writer:
            os.close(fd)
        # leave the module's cluster as it was for the other tests
        node_exec(node, ["umount", "/usr/bin/getsubids"])
        fifo.unlink()
        cluster.store.delete("pods", "slow", "default")
    assert (proc.returncode, out) == (130, ""), err
    assert err.startswith("error: interrupted")
    assert _probe_processes(node.init_pid) == []  # the kubelet killed the container on delete


def test_a_node_that_never_runs_the_probe_pod(cluster: Sandbox, no_leftovers: None) -> None:
    # a Node object with no sandbox node behind it: its probe pod stays Pending
    from kubectl_userns.sandbox.objects import make_node, make_pod

    cluster.store.put("nodes", make_node("silent", "127.0.0.254"))
    cluster.store.put(
        "pods",
        make_pod(
            "lost",
            "quiet",
            uid="0b8e7a52-6f1c-4a1e-9d55-000000000001",
            node_name="silent",
            host_ip="127.0.0.254",
            containers=[("c", "debian", "cri-o://" + "0" * 64)],
            host_users=False,
        ),
    )
    try:
        run = cli(cluster, "audit", "-n", "quiet", "--via", "pod", "--probe-timeout", "1")
        assert run.exit_code == 3, run.stdout + run.stderr
        assert run.stderr == ""
        row = run.stdout.splitlines()[1]
        assert row.split()[:3] == ["quiet", "lost", "silent"]
        assert "UNKNOWN: the probe pod kubectl-userns-probe-" in row
        assert "on node silent did not finish within 1 s (phase Pending)" in row
        inspect = cli(
            cluster, "inspect", "lost", "-n", "quiet", "--via", "pod", "--probe-timeout", "1"
        )
        assert (inspect.exit_code, inspect.stdout) == (3, "")
        assert inspect.stderr.endswith("or raise --probe-timeout.\n")
        verify = cli(cluster, "verify-node", "silent", "--via", "pod", "--probe-timeout", "1")
        # the API half of the report still comes, then the one sentence on the node
        assert verify.exit_code == 3, verify.stdout + verify.stderr
        assert verify.stdout.splitlines()[0].split()[:2] == ["CHECK", "STATUS"]
        assert verify.stderr.startswith("error: the probe pod kubectl-userns-probe-")
        assert verify.stderr.endswith("or raise --probe-timeout.\n")
    finally:
        cluster.store.delete("pods", "lost", "quiet")
        cluster.store.delete("nodes", "silent")
