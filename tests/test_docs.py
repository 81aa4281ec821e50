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


def test_the_drift_check_masks_only_what_the_host_decides() -> None:
    """Namespace inodes, PIDs, the kernel's user-namespace limit and the host filesystem under
    the sandbox's kubelet roots are masked; what the program or the sandbox decides is not."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    gen_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_docs)
    for a, b in (
        ("user:[4026532187]", "user:[4026532999]"),
        ("PIDs 18 run", "PIDs 21 run"),
        (
            "kubelet-process PASS PID 22, /usr/local/bin/kubelet",
            "kubelet-process PASS PID 9, /usr/local/bin/kubelet",
        ),
        ("user.max_user_namespaces=96365", "user.max_user_namespaces=1024"),
        (
            "ext4 (/var/lib/kubelet), idmappable since 5.12",
            "xfs (/var/lib/kubelet), idmappable since 5.15",
        ),
    ):
        assert gen_docs.normalize(a) == gen_docs.normalize(b), (a, b)
    for a, b in (
        ("kernel-version PASS 6.12.48+deb12-amd64", "kernel-version PASS 6.18.44-fc-v1045"),
        ("crun 1.21.0 (/usr/local/bin/crun)", "crun 1.8.1 (/usr/bin/crun)"),
        ("kubelet:65536:7208960", "kubelet:65536:65536"),
        ("hostId 4980736 = 76 x 65536", "hostId 5177344 = 79 x 65536"),
    ):
        assert gen_docs.normalize(a) != gen_docs.normalize(b), (a, b)


def test_inspect_checks_doc_matches_the_catalogue() -> None:
    from kubectl_userns.checks.pod import CATALOGUE, catalogue_markdown

    assert (ROOT / "docs" / "inspect-checks.md").read_text() == catalogue_markdown()
    seen = set()
    for entry in CATALOGUE:
        assert (entry.id, entry.pods) not in seen
        seen.add((entry.id, entry.pods))
        assert entry.reads and entry.rule and entry.source, entry.id
