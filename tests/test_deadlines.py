"""Every node has a deadline for its whole probe (--probe-timeout): a node that accepts the
probe and never answers costs the run that long, its pods are UNKNOWN, the others are reported,
and the command exits 3 (see also test_nodeaccess's deadline tests against a real sshd)."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kubectl_userns.sandbox.cluster import Sandbox
from tests.cli import run_cli, run_process
from tests.conftest import needs_root
from tests.fakessh import config_with_node_at, silent_ssh_server

pytestmark = needs_root


@pytest.fixture(scope="module")
def cluster(make_sandbox: Callable[[], Sandbox]) -> Sandbox:
    cluster = make_sandbox()
    cluster.add_node("quick")
    cluster.add_node("stuck")
    cluster.add_pod("fine", node="quick")
    cluster.add_pod("held", node="stuck")
    return cluster


def _printable_one_line(stderr: str) -> None:
    assert stderr.startswith("error: ") and stderr.endswith("\n"), stderr
    assert stderr.count("\n") == 1 and stderr[:-1].isprintable(), repr(stderr)


def test_a_node_that_never_answers_costs_its_deadline_only(
    cluster: Sandbox, tmp_path: Path
) -> None:
    with silent_ssh_server() as (port, known_line, commands):
        config = config_with_node_at(
            tmp_path, cluster.ssh_config, cluster.known_hosts, "stuck", port, known_line
        )
        env = {**cluster.env(), "KUBECTL_USERNS_SSH_CONFIG": str(config)}
        started = time.monotonic()
        # the audit (4 s deadline) runs as the installed program while the two inspects (1 s
        # each) run in this process, one after the other: the test waits about 4 s, not 6 s
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            # the audit's node "fine" must finish within the deadline, on a loaded machine too
            audit_run = pool.submit(
                run_process, ["audit", "-A", "-o", "json", "--probe-timeout", "4"], env
            )
            inspect = run_cli(["inspect", "held", "--probe-timeout", "1"], env)
            # the OpenSSH client: ssh is given the deadline, its connect timeout and the grace
            through_openssh = ["--ssh-client", "openssh", "--ssh-timeout", "2"]
            openssh = run_cli(["inspect", "held", "--probe-timeout", "1", *through_openssh], env)
            audit = audit_run.result()
        elapsed = time.monotonic() - started
    assert elapsed < 40, elapsed  # runs of a 4 s and two 1 s deadlines, not forever (no timing)
    # each client told the node its deadline (the audit's command may come first or last)
    told = sorted(next((t for t in (1, 4) if f" sh {t} ".encode() in c), 0) for c in commands)
    assert len(commands) == 3 and told == [1, 1, 4], commands
    assert (audit.exit_code, audit.stderr) == (3, "")
    rows = {row["name"]: row for row in json.loads(audit.stdout)["pods"]}
    assert rows["fine"]["verdict"] == "ISOLATED"
    ended = (
        "the probe on node stuck did not finish within {} s and was ended there; check the "
        "node's load and its kubelet root, or raise --probe-timeout"
    )
    assert (rows["held"]["verdict"], rows["held"]["reason"]) == ("UNKNOWN", ended.format(4))
    assert (inspect.exit_code, inspect.stdout) == (3, "")
    assert inspect.stderr == f"error: {ended.format(1)}.\n"
    _printable_one_line(inspect.stderr)
    assert (openssh.exit_code, openssh.stdout, openssh.stderr) == (3, "", inspect.stderr)
