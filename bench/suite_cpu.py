"""pytest plugin: each test's wall time and CPU time, for bench/test_suite_speed.md.

    PYTHONPATH=. .venv/bin/pytest -p bench.suite_cpu -n 2 --dist loadfile -m "not packaging"
    .venv/bin/python -m bench.suite_cpu            # the summary of the last run

CPU is this worker's (all threads) plus what its reaped children used (the CLI run as a
process, kubectl, ssh, the API emulator once stopped) - not what runs in the sandbox nodes'
cgroups (sshd, the probes), which nobody here reaps. With other work on the machine, wall time
says little; CPU time barely moves with the load.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

OUT = Path(os.environ.get("SUITE_CPU_DIR", "/tmp/kubectl-userns-suite-cpu"))
_rows: list[tuple[str, float, float]] = []


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Generator[None, None, None]:
    wall, cpu = time.monotonic(), _cpu()
    yield
    _rows.append((item.nodeid, time.monotonic() - wall, _cpu() - cpu))


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        OUT.mkdir(parents=True, exist_ok=True)
        for old in OUT.glob("*.json"):
            old.unlink()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _rows:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"{os.getpid()}.json").write_text(json.dumps(_rows))


def summary(top: int = 25) -> str:
    rows = [tuple(r) for f in sorted(OUT.glob("*.json")) for r in json.loads(f.read_text())]
    by_file: dict[str, list[float]] = {}
    for nodeid, wall, cpu in rows:
        entry = by_file.setdefault(str(nodeid).split("::")[0], [0.0, 0.0, 0])
        entry[0] += float(wall)
        entry[1] += float(cpu)
        entry[2] += 1
    lines = [
        f"{len(rows)} tests, {len(list(OUT.glob('*.json')))} workers: "
        f"wall {sum(float(r[1]) for r in rows):.1f} s, CPU {sum(float(r[2]) for r in rows):.1f} s"
        " (summed over tests)",
        "",
        "| file | tests | wall (s) | CPU (s) |",
        "|---|---:|---:|---:|",
    ]
    for name, (wall, cpu, n) in sorted(by_file.items(), key=lambda kv: -kv[1][1])[:top]:
        lines.append(f"| {name} | {int(n)} | {wall:.1f} | {cpu:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(int(sys.argv[1]) if len(sys.argv) > 1 else 25))
