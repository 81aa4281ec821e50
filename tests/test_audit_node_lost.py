"""A node lost while `kubectl userns audit` runs: its sshd and the SSH session serving the probe
are killed mid-probe. The audit still completes for the other nodes, and exits 3."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kubectl_userns.sandbox.cluster import Sandbox
from kubectl_userns.sandbox.node import node_exec
from tests.conftest import needs_root

pytestmark = needs_root


def _with_marker(marker: str) -> list[int]:
    """Host PIDs of the processes whose command line holds ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_sshd_killed_mid_probe(make_sandbox: Callable[[], Sandbox], tmp_path: Path) -> None:
    cluster = make_sandbox()
    for name in ("m1", "m2", "m3"):
        cluster.add_node(name)
    cluster.add_pod("a", node="m1")
    cluster.add_pod("b", node="m2")
    cluster.add_pod("c", node="m3", containers=2)
    # m2's probe waits in its getsubids (a stand-in that sleeps): it is mid-probe for sure
    marker = f"1000.{os.getpid()}{time.monotonic_ns() % 10**6}"
    stand_in = tmp_path / "getsubids"
    stand_in.write_text(f"#!/bin/sh\nexec sleep {marker}\n")
    stand_in.chmod(0o755)
    node_exec(cluster.nodes["m2"], ["mount", "--bind", str(stand_in), "/usr/bin/getsubids"])
    env = {**os.environ, **cluster.env()}
    argv = [str(Path(sys.executable).parent / "kubectl-userns"), "audit", "-A", "-o", "json"]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120  # a wait for the probe to start, not a timing
        while not _with_marker(marker):
            assert time.monotonic() < deadline and proc.poll() is None, "the probe never ran"
            time.sleep(0.02)
        # the node's sshd goes away mid-probe: the listener and the session serving the probe
        node_exec(cluster.nodes["m2"], ["pkill", "-KILL", "-x", "sshd"])
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        for pid in _with_marker(marker):  # the probe left behind (its deadline would end it)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
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
