"""Audit time against cluster size: sandboxes of 1, 4 and 16 nodes (2 pods each), wall clock of
the installed ``kubectl-userns audit -A`` as a user feels it. Nodes are probed in parallel, so
16 nodes should take at most about twice one node.

Where the CPU goes, per measured run: the client (``kubectl-userns`` itself), and the sandbox per
node - the nodes' cgroups (sshd, the login shell, the probe) plus the API emulator with the
processes it started and reaped (the sandbox kubelet's probe pods with ``--via pod``).

Run as root: ``.venv/bin/python -m bench.audit_scale [--rounds 5] [--via ssh|pod]
[--parallel N]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubectl_userns.sandbox.cluster import Sandbox

BIN = Path(sys.executable).parent / "kubectl-userns"


def build(root: Path, nodes: int) -> Sandbox:
    cluster = Sandbox.create(root / f"audit-{nodes}")
    try:
        for i in range(nodes):
            name = f"node{i:02d}"
            cluster.add_node(name)
            cluster.add_pod(f"a{i:02d}", node=name)
            cluster.add_pod(f"b{i:02d}", node=name, containers=2)
    except BaseException:
        cluster.down()
        raise
    return cluster


def sandbox_cpu(cluster: Sandbox) -> float:
    """CPU seconds spent so far by the nodes' cgroups and the API emulator (with its children)."""
    total = 0.0
    for node in cluster.nodes.values():
        for line in Path(node.cgroup_dirs[0], "cpu.stat").read_text().splitlines():
            if line.startswith("usage_usec "):
                total += int(line.split()[1]) / 1e6
    fields = Path(f"/proc/{cluster.data['api']['pid']}/stat").read_text().rsplit(")", 1)[1]
    utime, stime, cutime, cstime = (int(v) for v in fields.split()[11:15])
    return total + (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_audit(cluster: Sandbox, rounds: int, extra: list[str]) -> tuple[list[float], float, float]:
    """Wall clock of each run, and the sandbox's and the client's CPU seconds per run."""
    env = {**os.environ, **cluster.env()}
    argv = [str(BIN), "audit", "-A", "-o", "json", *extra]
    samples = []
    for i in range(rounds + 1):  # the first run warms caches and is dropped
        if i == 1:
            sandbox_start, client_start = sandbox_cpu(cluster), client_cpu()
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"audit exited {done.returncode}: {done.stderr.decode()}")
        if i:
            samples.append(elapsed)
    sandbox = (sandbox_cpu(cluster) - sandbox_start) / rounds
    return samples, sandbox, (client_cpu() - client_start) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="1,4,16")
    parser.add_argument("--via", default="ssh", choices=["ssh", "pod"])
    parser.add_argument("--parallel", type=int, default=16)
    args = parser.parse_args()
    extra = ["--via", "pod"] if args.via == "pod" else []
    extra += ["--parallel", str(args.parallel)]
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, tuple[list[float], float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        for size in sizes:
            cluster = build(Path(tmp), size)
            try:
                results[size] = time_audit(cluster, args.rounds, extra)
            finally:
                cluster.down()
    base = statistics.median(results[sizes[0]][0])
    print(
        f"audit -A via {args.via}, --parallel {args.parallel}, {args.rounds} rounds, "
        f"2 pods per node, {os.cpu_count()} CPUs"
    )
    print(
        f"| nodes | median (ms) | min (ms) | ratio to {sizes[0]} node(s) "
        "| sandbox CPU per node (ms) | client CPU (ms) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        samples, sandbox, client = results[size]
        median = statistics.median(samples)
        print(
            f"| {size} | {median * 1000:.0f} | {min(samples) * 1000:.0f} | "
            f"{median / base:.2f}x | {sandbox / size * 1000:.0f} | {client * 1000:.0f} |"
        )


if __name__ == "__main__":
    main()
