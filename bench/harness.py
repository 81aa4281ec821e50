"""Benchmark machinery: contenders run alternately (A B A B ...) after a warm-up; medians and
ratios. Wall-clock timings of whole commands, as a user feels them."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Contender:
    """One way of getting the answer: a shell command line (run with sh -c) or an argv."""

    name: str
    command: str | Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)

    def run_once(self) -> float:
        env = {**os.environ, **self.env}
        argv = ["sh", "-c", self.command] if isinstance(self.command, str) else list(self.command)
        start = time.perf_counter()
        done = subprocess.run(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        elapsed = time.perf_counter() - start
        if done.returncode not in (0, 1):
            raise RuntimeError(
                f"{self.name} exited {done.returncode}: {done.stderr.decode(errors='replace')}"
            )
        return elapsed


@dataclass(frozen=True)
class Result:
    name: str
    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def alternate(contenders: Sequence[Contender], rounds: int, warmup: int = 1) -> list[Result]:
    """Run each contender ``warmup`` times, then ``rounds`` rounds of one run each, in turn."""
    for _ in range(warmup):
        for contender in contenders:
            contender.run_once()
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    for _ in range(rounds):
        for contender in contenders:
            samples[contender.name].append(contender.run_once())
    return [Result(c.name, tuple(samples[c.name])) for c in contenders]


def table(results: Sequence[Result], baseline: str) -> str:
    """A Markdown table of medians with the ratio to ``baseline``."""
    base = next(r for r in results if r.name == baseline).median
    lines = [
        f"| contender | median (ms) | min (ms) | ratio to {baseline} |",
        "|---|---:|---:|---:|",
    ]
    for result in results:
        lines.append(
            f"| {result.name} | {result.median * 1000:.0f} | {min(result.samples) * 1000:.0f} | "
            f"{result.median / base:.2f}x |"
        )
    return "\n".join(lines)
