"""Docs that cannot drift: the command reference and README examples come from the program."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from kubectl_userns.cli.app import app
from tests.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent


def all_commands() -> list[list[str]]:
    group = get_command(app)
    found = []
    for name, command in sorted(group.commands.items()):  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)
        if subs:
            found += [[name, sub] for sub in sorted(subs)]
        else:
            found.append([name])
    return found


@pytest.mark.parametrize("command", all_commands(), ids=" ".join)
def test_every_command_has_help_examples_and_a_readme_mention(command: list[str]) -> None:
    run = run_cli([*command, "--help"])
    assert run.exit_code == 0, run.stderr
    usage, _, rest = run.stdout.partition("\n\n")
    assert usage.startswith(f"Usage: kubectl userns {' '.join(command)}")
    assert rest.strip(), "no help text"
    assert "Examples:\n" in run.stdout
    assert f"kubectl userns {' '.join(command)}" in (ROOT / "README.md").read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="the README examples run on the sandbox (root)")
def test_generated_docs_match_the_program() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_node_checks_table_matches_the_catalogue() -> None:
    from kubectl_userns.checks.node import docs_table

    path = ROOT / "docs" / "verify-node-checks.md"
    assert path.read_text() == docs_table(), "run python scripts/gen_docs.py"
