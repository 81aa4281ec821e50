#!/usr/bin/env python3
"""How long `kubectl userns plan -A` takes, and how much memory, on a large cluster, without SSH.

Usage (from the repository, after ./scripts/test has made .venv):
    .venv/bin/python bench/plan_scale.py [--pods 10000] [--nodes 1000] [--rounds 3]

Only the sandbox's API emulator runs (no nodes, no SSH): its store holds --pods pods on --nodes
nodes, owned by Deployments through ReplicaSets (10 pods each), with every fifth Deployment
asking for hostNetwork (a blocker) and every third pod in its own user namespace. The plan reads
them with one paginated list per kind (pods, replicasets, jobs, nodes; 500 items a page, as
kubectl's --chunk-size default). Writes bench/plan_scale.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kubectl_userns.sandbox.api.launch import start_apiserver, stop_apiserver  # noqa: E402
from kubectl_userns.sandbox.kubeconfig import write_kubeconfig  # noqa: E402
from kubectl_userns.sandbox.objects import make_node  # noqa: E402
from kubectl_userns.sandbox.store import ObjectStore  # noqa: E402


def fill(store: ObjectStore, pods: int, nodes: int) -> None:
    for n in range(nodes):
        store.put("nodes", make_node(f"node-{n:04d}", f"10.{n // 250}.{n % 250}.1"))
    per_deployment = 10
    for d in range(pods // per_deployment):
        rs_uid = str(uuid.uuid4())
        store.put(
            "replicasets",
            {
                "metadata": {
                    "name": f"app{d}-7c9f",
                    "namespace": f"team{d % 20}",
                    "uid": rs_uid,
                    "ownerReferences": [
                        {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"app{d}",
                         "uid": str(uuid.uuid4()), "controller": True}
                    ],
                },
                "spec": {},
            },
        )  # fmt: skip
        for i in range(per_deployment):
            index = d * per_deployment + i
            spec: dict[str, object] = {
                "nodeName": f"node-{index % nodes:04d}",
                "containers": [{"name": "app", "image": "nginx"}],
            }
            if d % 5 == 0:
                spec["hostNetwork"] = True
            if index % 3 == 0:
                spec["hostUsers"] = False
            store.put(
                "pods",
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"app{d}-7c9f-{i}",
                        "namespace": f"team{d % 20}",
                        "uid": str(uuid.uuid4()),
                        "ownerReferences": [
                            {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                             "name": f"app{d}-7c9f", "uid": rs_uid, "controller": True}
                        ],
                    },
                    "spec": spec,
                    "status": {"phase": "Running"},
                },
            )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    plugin = Path(sys.executable).parent / "kubectl-userns"
    with tempfile.TemporaryDirectory(prefix="kubectl-userns-plan-bench-") as tmp:
        state = Path(tmp)
        store = ObjectStore(state / "api")
        started = time.perf_counter()
        fill(store, args.pods, args.nodes)
        filled = time.perf_counter() - started
        api = start_apiserver(state, state / "api")
        try:
            kubeconfig = state / "kubeconfig"
            write_kubeconfig(kubeconfig, server=api.url, ca_path=api.ca_path, token=api.token)
            env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
            times, summary = [], {}
            for _ in range(args.rounds):
                begin = time.perf_counter()
                done = subprocess.run(
                    [plugin, "plan", "-A", "-o", "json"], env=env, capture_output=True, check=False
                )
                times.append(time.perf_counter() - begin)
                if done.returncode not in (0, 1, 3):
                    raise SystemExit(done.stderr.decode())
                summary = json.loads(done.stdout)["summary"]
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the plugin runs, reaped
            rss = usage.ru_maxrss / 1024
            cpu = (usage.ru_utime + usage.ru_stime) / max(1, args.rounds)
            requests = sum(1 for line in api.log_path.read_text().splitlines() if "GET " in line)
        finally:
            stop_apiserver(api.pid)
    lines = [
        "# plan at scale (API only)",
        "",
        f"{datetime.date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} cores, load "
        f"average {os.getloadavg()[0]:.1f}; `bench/plan_scale.py --pods {args.pods} --nodes "
        f"{args.nodes} --rounds {args.rounds}`; the store took {filled:.0f} s to fill.",
        "",
        "| pods | nodes | workloads | median (s) | min (s) | plugin CPU (s) | max RSS of the "
        "plugin (MB) | API requests per plan |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {args.pods} | {args.nodes} | {summary.get('workloads')} | "
        f"{statistics.median(times):.2f} | {min(times):.2f} | {cpu:.2f} | {rss:.0f} | "
        f"{requests // max(1, args.rounds)} |",
        "",
        "The wall time includes the emulator reading its store of one file per object for the "
        "first page of each list (later pages come from that snapshot) on the same 2 cores; a "
        "real API server answers from its watch cache. The plugin's own share is its CPU time.",
    ]
    out = ROOT / "bench" / "plan_scale.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
