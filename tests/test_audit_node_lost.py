"""A node lost while `kubectl userns audit` runs: its sshd and the SSH session serving the probe
are killed mid-probe. The audit still completes for the other nodes, and exits 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kubectl_userns.sandbox.cluster import Sandbox
from kubectl_userns.sandbox.node import node_exec
from tests.conftest import needs_root

pytestmark = needs_root


def _blocked_in_fifo_open(node_pid: int) -> bool:
    """Whether a process of the node waits in open(2) on a FIFO (the probe, reading the fake
    kubelet record; a FIFO's open blocks until a writer comes)."""
    pidns = os.readlink(f"/proc/{node_pid}/ns/pid")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "wchan").read_text() in ("fifo_open", "wait_for_partner") and (
                os.readlink(proc / "ns" / "pid") == pidns
            ):
                return True
        except OSError:
            continue
    return False


def test_sshd_killed_mid_probe(make_sandbox: Callable[[], Sandbox]) -> None:
    cluster = make_sandbox()
    for name in ("m1", "m2", "m3"):
        cluster.add_node(name)
    cluster.add_pod("a", node="m1")
    cluster.add_pod("b", node="m2")
    cluster.add_pod("c", node="m3", containers=2)
    # m2 gets a kubelet record that is a FIFO nobody writes: its probe blocks reading it
    fifo = Path(cluster.nodes["m2"].dir) / "kubelet" / "pods" / "0000-fifo" / "userns"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    env = {**os.environ, **cluster.env()}
    argv = [str(Path(sys.executable).parent / "kubectl-userns"), "audit", "-A", "-o", "json"]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120  # a wait for the probe to start, not a timing
        while not _blocked_in_fifo_open(cluster.nodes["m2"].init_pid):
            assert time.monotonic() < deadline and proc.poll() is None, "the probe never ran"
            time.sleep(0.02)
        # the node's sshd goes away mid-probe: the listener and the session serving the probe
        node_exec(cluster.nodes["m2"], ["pkill", "-KILL", "-x", "sshd"])
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # release the probe left behind
        os.close(fd)
    assert proc.returncode == 3, out + err
    assert err == ""
    report = json.loads(out)
    rows = {p["name"]: p for p in report["pods"]}
    assert rows["a"]["verdict"] == rows["c"]["verdict"] == "ISOLATED"
    assert rows["b"]["verdict"] == "UNKNOWN"
    lost = (
        "the SSH connection to node m2 closed before the probe finished (no exit status; sshd "
        "or the session ended); check the node and try again."
    )
    assert rows["b"]["reason"] == lost.rstrip(".")
    (finding,) = [f for f in report["findings"] if f["kind"] == "unreachable"]
    assert (finding["node"], finding["pods"]) == ("m2", ["default/b"])
