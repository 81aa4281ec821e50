"""Drive the real CLI: in-process (fast, the same Typer app the console script runs) or as the
installed ``kubectl-userns`` / ``kubectl userns`` process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer.main
import typer.testing
from typer.testing import CliRunner

from kubectl_userns.cli.app import PROG, app

VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Run:
    stdout: str
    stderr: str
    exit_code: int


# The console script builds the click command from the Typer app once per process (typer's
# Typer.__call__); typer's CliRunner builds it again on every invoke (typer/testing.py), which
# evaluates every command's annotations and makes its flags' parameter objects again, over 500
# calls a run. Tests build it once per process, as the program does.
assert hasattr(typer.testing, "_get_command"), "typer's CliRunner no longer uses _get_command"
_COMMAND = typer.main.get_command(app)
typer.testing._get_command = lambda typer_app: (
    _COMMAND if typer_app is app else typer.main.get_command(typer_app)
)


def run_cli(args: Sequence[str], env: Mapping[str, str] | None = None) -> Run:
    """Run ``kubectl userns ARGS`` in this process with ``env`` added to the environment."""
    result = CliRunner(env=dict(env or {})).invoke(app, list(args), prog_name=PROG)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.stdout, result.stderr, result.exit_code)


def run_process(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    via_kubectl: bool = False,
    timeout: float = 60,
) -> Run:
    """Run the installed console script (or ``kubectl userns`` through the real kubectl)."""
    full_env = {**os.environ, **(env or {})}
    full_env["PATH"] = f"{VENV_BIN}{os.pathsep}{full_env.get('PATH', '')}"
    if via_kubectl:
        kubectl = shutil.which("kubectl", path=full_env["PATH"])
        assert kubectl, "kubectl is not on PATH"
        argv = [kubectl, "userns", *args]
    else:
        argv = [str(VENV_BIN / "kubectl-userns"), *args]
    done = subprocess.run(
        argv, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Run(done.stdout, done.stderr, done.returncode)
