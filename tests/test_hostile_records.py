"""Kubelet records nobody should trust (issue 14, classes 7 and 9): a FIFO, a symlink to
/dev/zero, 20 MB of data, "hostId": 1e400 and deep nesting, each in a pod directory of its own
beside real pods. Nothing hangs, nothing crashes, only the broken records are reported."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from kubectl_userns.sandbox.cluster import Sandbox
from tests.cli import run_cli
from tests.conftest import needs_root

pytestmark = needs_root

HUGE = '{"uidMappings": [{"hostId": 1e400, "containerId": 0, "length": 65536}], "gidMappings": []}'
BROKEN = {
    "0000-fifo": None,
    "0000-zero": "/dev/zero",
    "0000-big": "x" * (20 * 1024 * 1024),
    "0000-huge": HUGE,
    "0000-deep": "[" * 3000 + "]" * 3000,
}


@pytest.fixture(scope="module")
def cluster(make_sandbox: Callable[[], Sandbox]) -> Sandbox:
    cluster = make_sandbox()
    cluster.add_node("r1")
    cluster.add_pod("plain", node="r1")
    cluster.add_pod("pair", node="r1", containers=2)
    pods = Path(cluster.nodes["r1"].dir) / "kubelet" / "pods"
    for uid, content in BROKEN.items():
        record = pods / uid / "userns"
        record.parent.mkdir(parents=True)
        if content is None:
            os.mkfifo(record)
        elif content == "/dev/zero":
            record.symlink_to(content)
        else:
            record.write_text(content)
    return cluster


def test_inspect_and_audit_judge_the_real_pods(cluster: Sandbox) -> None:
    inspect = run_cli(["inspect", "plain", "-o", "json"], cluster.env())
    assert (inspect.exit_code, inspect.stderr) == (0, "")
    assert json.loads(inspect.stdout)["summary"]["failed"] == 0
    audit = run_cli(["audit", "-A", "-o", "json"], cluster.env())
    assert (audit.exit_code, audit.stderr) == (0, "")
    verdicts = {row["name"]: row["verdict"] for row in json.loads(audit.stdout)["pods"]}
    assert verdicts == {"plain": "ISOLATED", "pair": "ISOLATED"}


def test_verify_node_names_each_broken_record(cluster: Sandbox) -> None:
    run = run_cli(["verify-node", "r1", "-o", "json"], cluster.env())
    assert (run.exit_code, run.stderr) == (1, "")
    (check,) = [c for c in json.loads(run.stdout)["checks"] if c["id"] == "userns-records"]
    assert check["status"] == "FAIL"
    observed = check["observed"]
    assert observed.startswith("5 of 7 record(s) the kubelet rejects")
    assert "0000-fifo (no such pod in the API): not a regular file" in observed
    assert "0000-zero (no such pod in the API): not a regular file" in observed
    invalid = "(no such pod in the API): invalid user namespace mappings file ("
    assert f"0000-big {invalid}" in observed
    assert f"0000-huge {invalid}bad entry 0 in " in observed
    assert "hostId is not an ID: inf" in observed
    assert f"0000-deep {invalid}" in observed
    assert "nested too deeply" in observed
