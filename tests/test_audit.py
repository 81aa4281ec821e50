"""`kubectl userns audit` through the real CLI against a sandbox of several real nodes."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kubectl_userns.checks.cluster import build_audit, overlap_findings, pod_findings
from kubectl_userns.sandbox.cluster import Sandbox
from tests.cli import Run, run_cli, run_process
from tests.conftest import needs_root


def audit(cluster: Sandbox, *args: str) -> Run:
    return run_cli(["audit", *args], env=cluster.env())


def pod_rows(run: Run) -> dict[str, list[str]]:
    """POD -> the cells after it, from the first table (cells split on 3+ spaces)."""
    table = run.stdout.split("\n\n")[0].splitlines()
    rows = [re.split(r"\s{3,}", line.strip()) for line in table[1:]]
    return {row[1]: row for row in rows}


def verdicts(run: Run) -> dict[str, str]:
    return {name: row[-1] for name, row in pod_rows(run).items()}


# --- pure aggregation -------------------------------------------------------------------------


def _row(name: str, node: str, host_range: list[int] | None, verdict: str) -> dict[str, object]:
    return {
        "namespace": "default",
        "name": name,
        "uid": name,
        "node": node,
        "hostUsers": False,
        "hostNamespaces": [],
        "userNamespace": None,
        "hostRange": host_range,
        "hostRootProcesses": 0,
        "verdict": verdict,
        "reason": "",
        "failedChecks": [],
        "checks": [],
    }


def test_overlaps_are_per_node_and_pairwise() -> None:
    rows = [
        _row("a", "n1", [65536, 131071], "ISOLATED"),
        _row("b", "n1", [131071, 196606], "ISOLATED"),  # shares one ID with a
        _row("c", "n1", [196607, 262142], "ISOLATED"),
        _row("d", "n2", [65536, 131071], "ISOLATED"),  # same IDs, other node: fine
    ]
    found = overlap_findings(rows)
    assert [f["pods"] for f in found] == [["default/a", "default/b"]]
    assert found[0]["node"] == "n1"


def test_exit_codes_of_the_cluster_report() -> None:
    good = [_row("a", "n1", [65536, 131071], "ISOLATED")]
    assert build_audit(good, {})["summary"]["exitCode"] == 0
    assert build_audit(good, {"n2": "cannot reach node n2"})["summary"]["exitCode"] == 3
    clash = [*good, _row("b", "n1", [65536, 131071], "ISOLATED")]
    assert build_audit(clash, {"n2": "cannot reach node n2"})["summary"]["exitCode"] == 1


def test_not_isolated_finding_names_pods_and_skips_reported_overlaps() -> None:
    a = _row("a", "n1", [65536, 131071], "NOT ISOLATED")
    a["failedChecks"] = ["no-overlap"]
    a["checks"] = [
        {"id": "no-overlap", "status": "FAIL", "detail": "shares host IDs with pod uid-b (x)"}
    ]
    b = _row("b", "n1", [200000, 265535], "ISOLATED")
    b["uid"] = "uid-b"
    (finding,) = pod_findings([a, b])
    assert finding["detail"] == (
        "asks for hostUsers: false but no-overlap: shares host IDs with pod default/b (x)"
    )
    assert pod_findings([a, b], frozenset({"default/a"})) == []


# --- against a sandbox ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(make_sandbox: Callable[[], Sandbox]) -> Sandbox:
    c = make_sandbox()
    c.add_node("n1", sshd_log_level="DEBUG1")
    c.add_node("n2")
    c.add_node("n3")
    c.add_node("gone")
    c.add_pod("iso1", node="n1")
    c.add_pod("iso2", node="n1", containers=2)
    c.add_pod("web", node="n1", namespace="shop", labels={"app": "web"})
    c.add_pod("db", node="n1", namespace="shop", labels={"app": "db"})
    c.add_pod("rooty", node="n2", host_users=True)
    c.add_pod("ovl-a", node="n2", host_id=655360)
    c.add_pod("ovl-b", node="n2", host_id=655360)
    c.add_pod("lying", node="n2", host_id=720896, kubelet_record_host_id=786432)
    c.add_pod("iso3", node="n3", qos_class="Burstable")
    c.add_pod("netpod", node="n3", host_users=True)
    c.add_pod("waiting", node="n3", phase="Pending")
    c.add_pod("orphan", node="gone")
    # netpod needs the host network: hostUsers: false is no option for it
    net = c.store.get("pods", "netpod", "default")
    assert net is not None
    net["spec"]["hostNetwork"] = True
    c.store.put("pods", net)
    c.stop_sshd("gone")
    return c


pytestmark = needs_root


def test_all_namespaces(cluster: Sandbox) -> None:
    run = audit(cluster, "-A", "--ssh-timeout", "2")
    assert run.exit_code == 1, run.stdout + run.stderr
    assert run.stderr == ""  # no progress output when stderr is not a terminal
    header = run.stdout.splitlines()[0].split()
    assert header == ["NAMESPACE", "POD", "NODE", "HOSTUSERS", "USERNS", "HOST-ROOT", "VERDICT"]
    rows = pod_rows(run)
    assert "waiting" not in rows  # pending pods have nothing to probe
    gone = cluster.nodes["gone"]
    assert verdicts(run) == {
        "iso1": "ISOLATED",
        "iso2": "ISOLATED",
        "iso3": "ISOLATED",
        "lying": "NOT-ISOLATED",
        "netpod": "HOST-USERNS",
        "orphan": f"UNKNOWN: cannot reach node gone over SSH at {gone.address}:{gone.port} "
        "(connection refused); check that sshd runs there and the address is right, or use "
        "--ssh-host/--ssh-port",
        "ovl-a": "NOT-ISOLATED",
        "ovl-b": "NOT-ISOLATED",
        "rooty": "HOST-USERNS",
        "db": "ISOLATED",
        "web": "ISOLATED",
    }
    iso1 = cluster.pod("iso1")
    assert iso1.host_id is not None
    assert rows["iso1"][:6] == [
        "default",
        "iso1",
        "n1",
        "false",
        f"{iso1.host_id}-{iso1.host_id + 65535}",
        "0",
    ]
    assert rows["rooty"][3:6] == ["true", "host", "1"]
    assert rows["ovl-a"][4] == "655360-720895"
    findings = run.stdout.split("\n\n")[1]
    assert findings.splitlines()[0].split() == ["STATUS", "FINDING", "NODE", "PODS", "DETAIL"]
    overlap = re.split(r"\s{3,}", _line(findings, "overlap"))
    assert overlap[:4] == ["FAIL", "overlap", "n2", "default/ovl-a,default/ovl-b"]
    assert overlap[4].startswith(
        "host IDs 655360-720895 of default/ovl-a overlap 655360-720895 of default/ovl-b"
    )
    assert "candidate for hostUsers: false" in _line(findings, "default/rooty")
    net = _line(findings, "default/netpod")
    assert net.startswith("INFO") and "uses hostNetwork, which hostUsers: false forbids" in net
    # the overlapping pods fail only no-overlap: the overlap finding says it all
    assert [line.split()[1:4] for line in findings.splitlines() if " not-isolated " in line] == [
        ["not-isolated", "n2", "default/lying"]
    ]
    assert (
        # the record is the allocation: IDs outside it fail ids-in-range too
        "asks for hostUsers: false but ids-in-range: PIDs" in _line(findings, "default/lying")
    )
    assert (
        "kubelet-record: the kubelet allocated 0 786432 65536 "
        "but the processes run with 0 720896 65536" in _line(findings, "default/lying")
    )
    assert _line(findings, "unreachable").split()[:4] == [
        "UNKNOWN",
        "unreachable",
        "gone",
        "default/orphan",
    ]
    assert run.stdout.rstrip().splitlines()[-1] == (
        "audited 11 pod(s) on 4 node(s): 5 isolated, 3 not isolated, 2 in the host user "
        "namespace, 1 unknown; 3 failing finding(s); 1 node(s) unreachable"
    )


def _line(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


def test_one_round_trip_per_node(cluster: Sandbox) -> None:
    log = Path(cluster.nodes["n1"].dir) / "sshd.log"
    before = log.read_text()
    run = audit(cluster, "-A", "--node", "n1")
    assert run.exit_code == 0, run.stdout + run.stderr
    new = log.read_text()[len(before) :]
    # four pods on n1, one connection and one command
    assert new.count("Accepted publickey for root") == 1
    assert new.count("req exec") == 1
    assert set(verdicts(run).values()) == {"ISOLATED"} and len(verdicts(run)) == 4
    assert "\n\n" in run.stdout and "FINDING" not in run.stdout  # no findings table
    assert run.stdout.rstrip().endswith("0 failing finding(s)")


def test_unreachable_node_alone_gives_exit_3(cluster: Sandbox) -> None:
    run = audit(cluster, "-A", "--node", "n3", "--node", "gone", "--parallel", "2")
    assert run.exit_code == 3, run.stdout + run.stderr
    assert run.stderr == ""
    got = verdicts(run)
    assert got["iso3"] == "ISOLATED" and got["netpod"] == "HOST-USERNS"
    assert got["orphan"].startswith("UNKNOWN: cannot reach node gone over SSH")


def test_namespace_and_selector(cluster: Sandbox) -> None:
    run = audit(cluster, "-n", "shop", "-l", "app=web")
    assert run.exit_code == 0, run.stderr
    assert list(pod_rows(run)) == ["web"]
    assert pod_rows(run)["web"][0] == "shop"
    default_ns = audit(cluster, "--node", "n1", "--no-headers")
    assert default_ns.exit_code == 0
    assert sorted(r.split()[1] for r in default_ns.stdout.splitlines()) == [
        "iso1",
        "iso2",
    ]


def test_json(cluster: Sandbox) -> None:
    run = audit(cluster, "-A", "--node", "n2", "-o", "json")
    assert run.exit_code == 1 and run.stderr == ""
    report = json.loads(run.stdout)
    assert report["kind"] == "ClusterAudit"
    by_name = {p["name"]: p for p in report["pods"]}
    assert by_name["ovl-b"]["hostRange"] == [655360, 720895]
    assert by_name["ovl-b"]["failedChecks"] == ["no-overlap"]
    assert by_name["rooty"]["hostRootProcesses"] == 1
    assert by_name["rooty"]["uid"] == cluster.pod("rooty").uid
    kinds = sorted(f["kind"] for f in report["findings"])
    assert kinds == ["host-root", "not-isolated", "overlap"]
    pool = {"first": 65536, "last": 65536 + 7208960 - 1, "count": 7208960}
    kubelet_pool = {
        "source": "getsubids",
        **pool,
        "ranges": [pool],
        "sourceDetail": "getsubids kubelet",
    }
    assert report["nodes"] == [
        {"name": "n2", "probed": True, "error": "", "kubeletPool": kubelet_pool,
         "kubeletRecords": []}
    ]  # fmt: skip
    assert {p["name"]: p["kubeletPool"] for p in report["pods"]} == dict.fromkeys(
        ("rooty", "ovl-a", "ovl-b", "lying"), kubelet_pool
    )
    assert report["summary"]["exitCode"] == 1


def test_wide(cluster: Sandbox) -> None:
    run = audit(cluster, "-A", "--node", "n2", "-o", "wide")
    header = run.stdout.splitlines()[0].split()
    assert header[5:] == ["HOST-ROOT", "HOST-NAMESPACES", "FAILED-CHECKS", "VERDICT"]
    assert pod_rows(run)["ovl-a"][6:] == ["-", "no-overlap", "NOT-ISOLATED"]


def test_bad_input(cluster: Sandbox) -> None:
    local = audit(cluster, "-A", "--local")
    assert (local.exit_code, local.stdout) == (2, "")
    assert local.stderr.startswith("error: --local cannot be used with audit:")
    # -A wins over -n, as in kubectl (tests/test_kubectl_flags.py)
    ghost = audit(cluster, "-A", "--node", "ghost")
    assert (ghost.exit_code, ghost.stdout) == (2, "")
    assert ghost.stderr == (
        "error: node \"ghost\" not found; list the nodes with 'kubectl get nodes'.\n"
    )
    empty = audit(cluster, "-n", "nothing-here")
    assert (empty.exit_code, empty.stdout) == (0, "")
    assert empty.stderr == "No running pods found in the namespace with these filters.\n"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_through_kubectl(cluster: Sandbox) -> None:
    run = run_process(["audit", "-A", "--node", "n1"], env=cluster.env(), via_kubectl=True)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.rstrip().endswith("0 failing finding(s)")


def test_progress_on_a_terminal(cluster: Sandbox) -> None:
    import os
    import pty
    import subprocess
    import sys

    main, secondary = pty.openpty()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "kubectl-userns"), "audit", "-A", "--node", "n1"],
        env={**os.environ, **cluster.env()},
        stdout=subprocess.PIPE,
        stderr=secondary,
        text=True,
    )
    os.close(secondary)
    out, _ = proc.communicate(timeout=30)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    err = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert err == "\rprobed 0/1 nodes\rprobed 1/1 nodes\r\x1b[K"
    assert "probed" not in out and out.rstrip().endswith("0 failing finding(s)")
