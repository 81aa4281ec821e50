"""No command may succeed without doing its work.

With typer 0.12.5 and a newer click every command printed ``kubectl-userns 0.1.0`` and exited 0
without checking anything (issue 18): a green exit code proved nothing. Each command here runs
as the installed console script (so under tests/test_lowest.py it runs on the lowest dependency
versions the package accepts) against the sandbox, and its exit code must come with its report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubectl_userns import __version__
from kubectl_userns.sandbox.cluster import Sandbox
from tests.cli import run_process
from tests.conftest import needs_root

VERSION_LINE = f"kubectl-userns {__version__}\n"


def _report(args: list[str], env: dict[str, str] | None = None) -> Any:
    run = run_process(args, env)
    assert run.stdout != VERSION_LINE, f"{args}: printed the version instead of its report"
    assert run.exit_code in (0, 1), f"{args}: exit {run.exit_code}: {run.stderr}"
    assert run.stdout.strip(), f"{args}: exit {run.exit_code} with an empty report"
    return json.loads(run.stdout)


@needs_root
def test_inspect_reports_the_pod_it_was_asked_about(sandbox: Sandbox) -> None:
    report = _report(["inspect", "testpod", "-o", "json"], sandbox.env())
    text = json.dumps(report)
    assert "testpod" in text and "private-userns" in text


@needs_root
def test_audit_reports_every_pod(sandbox: Sandbox) -> None:
    report = _report(["audit", "-A", "-o", "json"], sandbox.env())
    text = json.dumps(report)
    for pod in ("testpod", "hostpod"):
        assert pod in text, f"audit did not report {pod}"


@needs_root
def test_verify_node_reports_its_checks(sandbox: Sandbox) -> None:
    report = _report(["verify-node", "wk2", "-o", "json"], sandbox.env())
    text = json.dumps(report)
    assert "wk2" in text and "subid-pool" in text


@needs_root
def test_plan_reports_every_workload(sandbox: Sandbox) -> None:
    report = _report(["plan", "-A", "-o", "json"], sandbox.env())
    assert {w["name"] for w in report["workloads"]} >= {"testpod", "hostpod"}


def test_new_pod_writes_a_manifest() -> None:
    run = run_process(["new-pod", "-o", "json"])
    assert run.exit_code == 0, run.stderr
    manifest = json.loads(run.stdout)
    assert manifest["kind"] == "Pod" and manifest["spec"]["hostUsers"] is False


def test_convert_writes_the_converted_manifest(tmp_path: Path) -> None:
    source = tmp_path / "pod.yaml"
    source.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n"
        "  - name: web\n    image: nginx\n"
    )
    run = run_process(["convert", "-f", str(source)])
    assert run.exit_code == 0, run.stderr
    assert "hostUsers: false" in run.stdout and "name: web" in run.stdout


@pytest.mark.parametrize("command", ["inspect", "audit", "verify-node", "convert"])
def test_a_command_without_its_cluster_or_input_fails_loudly(command: str, tmp_path: Path) -> None:
    """Nothing to check must never look like a pass."""
    args = {"inspect": ["inspect", "testpod"], "verify-node": ["verify-node", "wk1"]}.get(
        command, [command, "-A"] if command == "audit" else [command, "-f", str(tmp_path / "x")]
    )
    run = run_process(args, {"KUBECONFIG": str(tmp_path / "missing")})
    assert run.exit_code != 0 and run.stdout == "", (args, run)
    assert run.stderr.startswith("error: "), run.stderr
