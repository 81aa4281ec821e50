"""The CPU one command costs on the sandbox's nodes, and what its own process tree costs.

    .venv/bin/kubectl-userns sandbox up --state-dir DIR > DIR.env
    .venv/bin/python -m bench.node_cpu DIR [-n 15] -- kubectl-userns inspect testpod
    .venv/bin/python -m bench.node_cpu DIR -- ssh -F DIR/ssh/ssh_config wk1 true

Node CPU is the growth of usage_usec in each node cgroup's cpu.stat (cgroup v2 counts a
cgroup's descendants): sshd's connection, root's login shell and the probe, which no process
of the test reaps. Client CPU is the command's own process tree (the CLI, the ssh client),
from RUSAGE_CHILDREN. Both are CPU time, so they barely move with the machine's load; the
median of the runs is printed, and the range. The command runs with the sandbox's
KUBECONFIG and KUBECTL_USERNS_SSH_CONFIG. bench/test_suite_speed.md ("Node side") has numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _usage(cgroups: list[Path]) -> dict[str, int]:
    out = {}
    for cg in cgroups:
        for line in (cg / "cpu.stat").read_text().splitlines():
            key, value = line.split()
            if key == "usage_usec":
                out[cg.name] = int(value)
    return out


def _children_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("-n", type=int, default=15, help="runs (default 15)")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    state = json.loads((args.state_dir / "sandbox.json").read_text())
    cgroups = [Path(node["cgroup_dirs"][0]) for node in state["nodes"].values()]
    env = dict(os.environ)
    env["KUBECONFIG"] = str(args.state_dir / "kubeconfig")
    env["KUBECTL_USERNS_SSH_CONFIG"] = str(args.state_dir / "ssh" / "ssh_config")
    node_ms: list[float] = []
    client_ms: list[float] = []
    for _ in range(args.n):
        before, cpu, start = _usage(cgroups), _children_cpu(), time.monotonic()
        done = subprocess.run(args.command, env=env, capture_output=True, check=False)
        # sshd's session process may still be ending after the client has its exit status
        time.sleep(0.05)
        after = _usage(cgroups)
        client_ms.append((_children_cpu() - cpu) * 1000)
        node_ms.append(sum(after[k] - before[k] for k in after) / 1000)
        if done.returncode not in (0, 1, 3):
            sys.stderr.write(done.stderr.decode(errors="replace"))
            print(f"exit {done.returncode}, wall {time.monotonic() - start:.2f} s", file=sys.stderr)
    for what, values in (("node", node_ms), ("client", client_ms)):
        print(
            f"{what} CPU per run: median {statistics.median(values):.1f} ms "
            f"(min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
