"""The sandbox is real: checked from the host side, not through the plugin."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubectl_userns.sandbox.cluster import TESTPOD_UID, Sandbox
from kubectl_userns.sandbox.objects import SANDBOX_KERNEL
from tests.cli import run_cli
from tests.conftest import leftovers, needs_root

pytestmark = needs_root


def _ssh(
    sandbox: Sandbox, node: str, command: str, known_hosts: Path | None = None
) -> subprocess.CompletedProcess[str]:
    argv = ["ssh", "-F", str(sandbox.ssh_config), "-o", "BatchMode=yes"]
    if known_hosts is not None:
        argv += ["-o", f"UserKnownHostsFile={known_hosts}"]
    return subprocess.run(
        [*argv, node, command], capture_output=True, text=True, timeout=20, check=False
    )


def test_testpod_processes_are_in_a_user_namespace_with_the_pods_map(sandbox: Sandbox) -> None:
    pod = sandbox.pod("testpod")
    assert pod.uid == TESTPOD_UID and pod.host_id == 4980736
    (container,) = pod.containers
    (pid,) = container.pids
    host_ns = os.readlink("/proc/self/ns/user")
    assert os.readlink(f"/proc/{pid}/ns/user") != host_ns
    for name in ("uid_map", "gid_map"):
        assert Path(f"/proc/{pid}/{name}").read_text().split() == ["0", "4980736", "65536"]
    status = Path(f"/proc/{pid}/status").read_text()
    assert "\nUid:\t4980736\t4980736\t4980736\t4980736\n" in status
    assert "\nGid:\t4980736\t4980736\t4980736\t4980736\n" in status


def test_testpod_sits_in_the_kubelet_named_cgroup_as_seen_on_its_node(sandbox: Sandbox) -> None:
    pod = sandbox.pod("testpod")
    container = pod.containers[0]
    expected = (
        "0::/kubepods.slice/kubepods-besteffort.slice/"
        "kubepods-besteffort-pode33ed7f7_0c89_42a5_9956_94a0a1761b23.slice/"
        f"crio-{container.id}.scope/container"
    )
    done = _ssh(
        sandbox,
        "wk2",
        f"for p in $(cat /sys/fs/cgroup/{container.cgroup}/cgroup.procs); do "
        "grep '^0::' /proc/$p/cgroup; done",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
    record = _ssh(sandbox, "wk2", f"cat /var/lib/kubelet/pods/{TESTPOD_UID}/userns")
    assert '"hostId": 4980736' in record.stdout


def test_pods_are_visible_only_on_their_own_node(sandbox: Sandbox) -> None:
    on_wk2 = _ssh(sandbox, "wk2", "hostname; ps -eo user=,args=")
    on_wk1 = _ssh(sandbox, "wk1", "hostname; ps -eo user=,args=")
    assert on_wk2.stdout.splitlines()[0] == "wk2"
    assert on_wk1.stdout.splitlines()[0] == "wk1"
    assert any(line.startswith("4980736 ") for line in on_wk2.stdout.splitlines())
    assert not any(line.startswith("4980736 ") for line in on_wk1.stdout.splitlines())
    # the two nodes' PID namespaces are separate: each has its own PID 1
    for node in ("wk1", "wk2"):
        one = _ssh(sandbox, node, "cat /proc/1/cmdline | tr '\\0' ' '")
        assert one.stdout.strip() == "sleep infinity"


def test_node_files_are_private_and_the_host_is_untouched(sandbox: Sandbox) -> None:
    done = _ssh(sandbox, "wk1", "cat /etc/subuid; getent passwd kubelet | cut -d: -f1")
    assert done.stdout == "kubelet:65536:7208960\nkubelet\n"
    # root's home is the node's own, with the distribution's start-up files, not the host's
    home = _ssh(sandbox, "wk1", "ls -A ~")
    skeleton = Path("/usr/share/base-files")
    expected = [f".{f}" for f in ("bashrc", "profile") if (skeleton / f"dot.{f}").is_file()]
    assert (home.returncode, home.stdout.split()) == (0, expected)
    assert "kubelet:65536" not in Path("/etc/subuid").read_text()
    assert not Path("/var/lib/kubelet/pods").exists() or TESTPOD_UID not in os.listdir(
        "/var/lib/kubelet/pods"
    )


def test_unknown_host_key_is_refused_by_real_ssh(sandbox: Sandbox, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    done = _ssh(sandbox, "wk2", "true", known_hosts=empty)
    assert done.returncode == 255
    assert "Host key verification failed" in done.stderr


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_real_kubectl_lists_the_sandbox(sandbox: Sandbox) -> None:
    env = {**os.environ, **sandbox.env()}
    pods = subprocess.run(
        ["kubectl", "get", "pods", "-A"], capture_output=True, text=True, env=env, check=False
    )
    assert pods.returncode == 0, pods.stderr
    lines = pods.stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = {tuple(line.split()[:4]) for line in lines[1:]}
    assert ("default", "testpod", "1/1", "Running") in rows
    assert ("default", "web", "2/2", "Running") in rows
    as_json = subprocess.run(
        ["kubectl", "get", "pod", "testpod", "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert f'"uid": "{TESTPOD_UID}"' in as_json.stdout
    assert '"hostUsers": false' in as_json.stdout
    nodes = subprocess.run(
        ["kubectl", "get", "nodes"], capture_output=True, text=True, env=env, check=False
    )
    assert [line.split()[0] for line in nodes.stdout.splitlines()[1:]] == ["wk1", "wk2"]


def test_sandbox_cli_up_and_down_leave_nothing_behind(tmp_path: Path) -> None:
    state = tmp_path / "cli-sandbox"
    up = run_cli(["sandbox", "up", "--state-dir", str(state)])
    assert up.exit_code == 0, up.stderr
    assert up.stdout == (
        f"export KUBECONFIG={state}/kubeconfig\n"
        f"export KUBECTL_USERNS_SSH_CONFIG={state}/ssh/ssh_config\n"
    )
    again = run_cli(["sandbox", "up", "--state-dir", str(state)])
    assert again.exit_code == 2
    assert again.stderr.startswith("error: a sandbox already runs from")
    roots = Sandbox.load(state).data["cgroup_roots"]
    assert leftovers(str(state), roots) != []
    down = run_cli(["sandbox", "down", "--state-dir", str(state)])
    assert down.exit_code == 0, down.stderr
    assert leftovers(str(state), roots) == []
    assert not state.exists()
    gone = run_cli(["sandbox", "down", "--state-dir", str(state)])
    assert (gone.exit_code, gone.stdout) == (2, "")
    assert gone.stderr.startswith("error: no sandbox runs from")


def test_a_failed_start_cleans_up(make_sandbox: Callable[[], Sandbox]) -> None:
    cluster = make_sandbox()
    cluster.add_node("solo")
    with pytest.raises(Exception, match="already exists"):
        cluster.add_node("solo")
    marker, roots = str(cluster.state_dir), cluster.data["cgroup_roots"]
    cluster.down()
    assert leftovers(marker, roots) == []


def test_a_node_has_the_sandboxs_kernel_release_and_oci_runtime_not_the_hosts(
    sandbox: Sandbox,
) -> None:
    """Whatever this machine has installed (Debian's crun 1.8.1 would fail verify-node), a node
    reports the sandbox's kernel release and finds only the sandbox's OCI runtime."""
    done = _ssh(
        sandbox,
        "wk1",
        "uname -r; cat /proc/sys/kernel/osrelease; uname -s; command -v crun; "
        "crun --root=/ --version | head -n 1; "
        "for p in /usr/sbin/runc /usr/bin/runc /usr/bin/crun /usr/sbin/crun; do "
        '[ ! -x "$p" ] || echo "host $p"; done',
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        SANDBOX_KERNEL,
        SANDBOX_KERNEL,
        "Linux",
        "/usr/local/bin/crun",
        "crun version 1.21",
    ]
    node = sandbox.store.get("nodes", "wk1")
    assert node is not None and node["status"]["nodeInfo"]["kernelVersion"] == SANDBOX_KERNEL
    run = run_cli(["verify-node", "wk1", "-o", "json"], env=sandbox.env())
    found = {c["id"]: c for c in json.loads(run.stdout)["checks"]}
    assert found["oci-runtime"]["status"] == "PASS"
    assert found["oci-runtime"]["observed"] == "crun 1.21.0 (/usr/local/bin/crun)"
    assert found["kernel-version"]["observed"] == SANDBOX_KERNEL


def test_every_pod_has_its_own_address_on_the_pod_network(sandbox: Sandbox) -> None:
    """As a CNI plugin hands them out: one pod IP per pod, singular and plural fields alike,
    also for a pod made with kubectl run (run by the sandbox's kubelet)."""
    env = {**os.environ, **sandbox.env()}

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", *args], capture_output=True, text=True, env=env, timeout=20, check=False
        )

    made = kubectl("run", "addr", "--image=debian", "--", "sleep", "60")
    assert made.returncode == 0, made.stderr
    try:
        pods: list[dict[str, Any]] = []
        for _ in range(100):
            pods = json.loads(kubectl("get", "pods", "-o", "json").stdout)["items"]
            if all(p["status"].get("podIP") for p in pods):
                break
            time.sleep(0.1)
        nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
        node_ips = {
            n["metadata"]["name"]: {a["address"] for a in n["status"]["addresses"]} for n in nodes
        }
        ips = [p["status"]["podIP"] for p in pods if not p["spec"].get("hostNetwork")]
        assert "addr" in {p["metadata"]["name"] for p in pods}
        assert len(ips) == len(set(ips)) == len(pods)
        assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.85.0.0/16") for ip in ips)
        for pod in pods:
            status = pod["status"]
            assert status["podIPs"] == [{"ip": status["podIP"]}]
            assert status["hostIPs"] == [{"ip": status["hostIP"]}]
            assert status["hostIP"] in node_ips[pod["spec"]["nodeName"]]
    finally:
        kubectl("delete", "pod", "addr", "--wait=false")


def test_a_stopped_container_does_not_hold_its_node_at_the_end(
    make_sandbox: Callable[[], Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container's nsenter stops with it (util-linux nsenter.c continue_as_child) and the
    node's init cannot end while the container is unreaped: down resumes the sandbox's
    processes first, so each node's init ends when killed, not at the end of its wait (the
    command's own, as `kubectl userns sandbox down` runs it)."""
    from kubectl_userns.sandbox import lifecycle

    cluster = make_sandbox()
    cluster.add_node("n1")
    cluster.add_pod("frozen", node="n1", containers=2)
    pids = [pid for c in cluster.pod("frozen").containers for pid in c.pids]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    for pid in pids:  # the container and the nsenter above it, both stopped
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        for proc in (pid, parent):
            _wait_for_state(proc, "T")
    waits: list[bool] = []
    real = lifecycle.wait_gone

    def wait_gone(pid: int, timeout: float = 5.0) -> bool:
        waits.append(real(pid, timeout))
        return waits[-1]

    monkeypatch.setattr(lifecycle, "wait_gone", wait_gone)
    marker, roots = str(cluster.state_dir), cluster.data["cgroup_roots"]
    down = run_cli(["sandbox", "down", "--state-dir", marker])
    assert (down.exit_code, down.stdout) == (0, "")
    assert down.stderr == "sandbox stopped; nothing is left behind\n"
    assert waits == [True]
    assert leftovers(marker, roots) == []


def _wait_for_state(pid: int, state: str) -> None:
    for _ in range(2000):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == state:
            return
        time.sleep(0.001)
    raise AssertionError(f"process {pid} never reached state {state}")
