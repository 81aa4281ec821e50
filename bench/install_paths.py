#!/usr/bin/env python3
"""What each install path costs a user: download, disk, files, and the first and later runs.

Usage (from the repository, after ./scripts/test has made .venv; needs PyPI):
    .venv/bin/python bench/install_paths.py [--rounds N] [--dist DIR]

Install paths: the krew archive (linux/amd64, every bundled Python, installed the way krew
does: unpacked, files moved, ~/.krew/bin link), pipx (Debian's pipx) and pip into a virtualenv.
"first run" is the first `kubectl userns inspect` after the install (no byte code yet: every
module is compiled), "later run" the median of the following ones; `inspect` is timed up to the
point where it has imported the kubernetes client and finds no kubeconfig, the cost a user pays
before the first API request. Writes bench/install_paths.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = ["inspect", "testpod", "--kubeconfig", "/nonexistent/kubeconfig"]


def _tree(path: Path) -> tuple[int, int]:
    """(bytes, files) of a directory tree, links not followed."""
    size = files = 0
    for item in path.rglob("*"):
        if item.is_file() and not item.is_symlink():
            size += item.stat().st_size
            files += 1
    return size, files


def _time(argv: Sequence[str | Path], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([str(a) for a in argv], env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 2 or b"kubeconfig" not in done.stderr:
        raise RuntimeError(f"{argv[0]}: unexpected exit {done.returncode}: {done.stderr[-400:]!r}")
    return elapsed


def _runs(command: Path, env: dict[str, str], rounds: int) -> tuple[float, float]:
    first = _time([command, *RUN], env)
    later = statistics.median(_time([command, *RUN], env) for _ in range(rounds))
    return first, later


def _clean_env(path: Sequence[Path | str], home: Path) -> dict[str, str]:
    system = ["/usr/local/bin", "/usr/bin", "/bin"]
    return {"PATH": os.pathsep.join(map(str, [*path, *system])), "HOME": str(home)}


def krew(work: Path, dist: Path | None, rounds: int) -> dict[str, object]:
    if dist is None:
        dist = work / "dist"
        subprocess.run(
            [sys.executable, ROOT / "scripts" / "build_krew.py", "--platform", "linux/amd64",
             "--out", dist, "--manifest", dist / "userns.yaml"],
            check=True, capture_output=True,
        )  # fmt: skip
    (archive,) = sorted(dist.glob("kubectl-userns_v*_linux_amd64.tar.gz"))
    store = work / "krew" / "store" / "userns" / "v"
    store.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(store, filter="data")
    link = work / "krew" / "bin" / "kubectl-userns"
    link.parent.mkdir(parents=True)
    link.symlink_to(store / "kubectl-userns")
    size, files = _tree(store)
    first, later = _runs(link, _clean_env([], work), rounds)
    return {"path": "krew archive", "download": archive.stat().st_size, "installed": size,
            "files": files, "first": first, "later": later}  # fmt: skip


def _downloads(work: Path) -> int:
    """Bytes of the wheels pip fetches for kubectl-userns on this platform and Python."""
    wheels = work / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:",
         "--dest", wheels, ROOT],
        check=True, capture_output=True,
    )  # fmt: skip
    return sum(p.stat().st_size for p in wheels.glob("*.whl") if "kubectl_userns" not in p.name)


def pip_venv(work: Path, rounds: int, download: int) -> dict[str, object]:
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet",
         "--no-compile", ROOT],
        check=True, capture_output=True,
    )  # fmt: skip
    size, files = _tree(venv)
    first, later = _runs(venv / "bin" / "kubectl-userns", _clean_env([], work), rounds)
    return {"path": "pip (virtualenv, --no-compile)", "download": download, "installed": size,
            "files": files, "first": first, "later": later}  # fmt: skip


def pipx(work: Path, rounds: int, download: int) -> dict[str, object] | None:
    found = shutil.which("pipx")
    if found is None:
        return None
    env = {**_clean_env([Path(found).parent], work), "PIPX_HOME": str(work / "pipx"),
           "PIPX_BIN_DIR": str(work / "pipx-bin")}  # fmt: skip
    subprocess.run([found, "install", ROOT], env=env, check=True, capture_output=True)
    size, files = _tree(work / "pipx")
    first, later = _runs(work / "pipx-bin" / "kubectl-userns", env, rounds)
    return {"path": "pipx", "download": download, "installed": size, "files": files,
            "first": first, "later": later}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dist", type=Path, help="a scripts/dist output directory to reuse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubectl-userns-bench-") as tmp:
        work = Path(tmp)
        download = _downloads(work)
        rows = [krew(work, args.dist, args.rounds), pipx(work, args.rounds, download)]
        rows.append(pip_venv(work, args.rounds, download))
    lines = [
        "# Install paths: size and start-up",
        "",
        f"{datetime.date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} cores, load "
        f"average {os.getloadavg()[0]:.1f} at the end, Python "
        f"{platform.python_version()} ({sys.executable}); `bench/install_paths.py "
        f"--rounds {args.rounds}`. First run: the first `kubectl userns inspect` after the "
        "install (compiles every module); later run: the median of the next ones. Timed up to "
        "the missing-kubeconfig error, after the kubernetes client is imported.",
        "",
        "| install path | download (MB) | installed (MB) | files | first run (ms) "
        "| later run (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row is None:
            continue
        lines.append(
            f"| {row['path']} | {int(row['download']) / 1e6:.1f} | "  # type: ignore[call-overload]
            f"{int(row['installed']) / 1e6:.1f} | {row['files']} | "  # type: ignore[call-overload]
            f"{float(row['first']) * 1000:.0f} | {float(row['later']) * 1000:.0f} |"  # type: ignore[arg-type]
        )
    lines.append("")
    lines.append(
        "Download for pip and pipx: the dependencies' wheels for this platform and Python; the "
        "krew archive carries them for every supported Python at once."
    )
    out = ROOT / "bench" / "install_paths.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
