"""Audit time against cluster size: sandboxes of 1, 4 and 16 nodes (2 pods each), wall clock of
the installed ``kubectl-userns audit -A`` as a user feels it. Nodes are probed in parallel, so
16 nodes should take at most about twice one node.

Run as root: ``.venv/bin/python -m bench.audit_scale [--rounds 5] [--via ssh|pod]
[--parallel N]``.
"""

from __future__ import annotations

import argparse
import os
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


def time_audit(cluster: Sandbox, rounds: int, extra: list[str]) -> list[float]:
    env = {**os.environ, **cluster.env()}
    argv = [str(BIN), "audit", "-A", "-o", "json", *extra]
    samples = []
    for i in range(rounds + 1):  # the first run warms caches and is dropped
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"audit exited {done.returncode}: {done.stderr.decode()}")
        if i:
            samples.append(elapsed)
    return samples


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
    results: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        for size in sizes:
            cluster = build(Path(tmp), size)
            try:
                results[size] = time_audit(cluster, args.rounds, extra)
            finally:
                cluster.down()
    base = statistics.median(results[sizes[0]])
    print(
        f"audit -A via {args.via}, --parallel {args.parallel}, {args.rounds} rounds, "
        f"2 pods per node, {os.cpu_count()} CPUs"
    )
    print(f"| nodes | median (ms) | min (ms) | ratio to {sizes[0]} node(s) |")
    print("|---:|---:|---:|---:|")
    for size in sizes:
        median = statistics.median(results[size])
        print(
            f"| {size} | {median * 1000:.0f} | {min(results[size]) * 1000:.0f} | "
            f"{median / base:.2f}x |"
        )


if __name__ == "__main__":
    main()
