"""`kubectl userns plan`: workloads, their blockers and the convert command, through the real CLI
against a sandbox whose pods are owned the way the real controllers own them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubectl_userns.sandbox.cluster import Sandbox
from kubectl_userns.sandbox.pods import write_kubelet_record
from tests.cli import Run, run_cli
from tests.conftest import needs_root

pytestmark = needs_root
SCHEMAS = Path(__file__).resolve().parent / "data" / "policyreport"
STALE_UID = "0badc0de-0000-4000-8000-00000000dead"
STALE_HOST_ID = 65536 * 20  # inside pl1's pool (kubelet:65536:7208960), below every pod's
OUTSIDE_UID = "0badc0de-0000-4000-8000-0000000000ff"
OUTSIDE_HOST_ID = 65536 * 120  # past the pool's end, 7274495


def _owned(sandbox: Sandbox, pod: str, kind: str, name: str, uid: str, **spec: Any) -> None:
    """Give the stored Pod an owner (as its controller would) and extra spec fields."""
    obj = sandbox.store.get("pods", pod, "default")
    assert obj is not None
    if kind:
        obj["metadata"]["ownerReferences"] = [
            {"apiVersion": "apps/v1" if kind != "Job" else "batch/v1", "kind": kind,
             "name": name, "uid": uid, "controller": True, "blockOwnerDeletion": True}
        ]  # fmt: skip
    for key, value in spec.items():
        obj["spec"][key] = value
    sandbox.store.put("pods", obj)


def _controller(sandbox: Sandbox, resource: str, name: str, owner: tuple[str, str] | None) -> str:
    uid = str(uuid.uuid4())
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": uid}
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1" if owner[0] == "Deployment" else "batch/v1",
             "kind": owner[0], "name": owner[1], "uid": str(uuid.uuid4()), "controller": True}
        ]  # fmt: skip
    sandbox.store.put(resource, {"metadata": meta, "spec": {}})
    return uid


@pytest.fixture(scope="module")
def cluster(make_sandbox: Callable[[], Sandbox]) -> Sandbox:
    sandbox = make_sandbox()
    sandbox.add_node("pl1")
    # CRI-O 1.29 reports no runtime handlers (cri-o server/runtime_status.go at v1.29.0)
    sandbox.add_node("pl2", kubelet_version="v1.33.1", container_runtime_version="cri-o://1.29.0")
    # a Deployment's two pods, through their ReplicaSet, in the host user namespace
    rs = _controller(sandbox, "replicasets", "web-5d8f7", ("Deployment", "web"))
    for pod in ("web-5d8f7-a", "web-5d8f7-b"):
        sandbox.add_pod(pod, node="pl1", host_users=True)
        _owned(sandbox, pod, "ReplicaSet", "web-5d8f7", rs)
    # a CronJob's pod through its Job, hostNetwork and a high runAsUser in container 1
    job = _controller(sandbox, "jobs", "nightly-2900", ("CronJob", "nightly"))
    sandbox.add_pod("nightly-2900-x", node="pl1", host_users=True, containers=["a", "b"])
    obj = sandbox.store.get("pods", "nightly-2900-x", "default")
    assert obj is not None
    _owned(
        sandbox, "nightly-2900-x", "Job", "nightly-2900", job, hostNetwork=True,
        containers=[
            obj["spec"]["containers"][0],
            {**obj["spec"]["containers"][1],
             "securityContext": {"runAsUser": 70000, "privileged": True}},
        ],
    )  # fmt: skip
    # a StatefulSet with an NFS volume, on the node whose runtime lacks user namespaces
    sandbox.add_pod("db-0", node="pl2", host_users=True)
    _owned(
        sandbox, "db-0", "StatefulSet", "db", str(uuid.uuid4()),
        volumes=[{"name": "data", "nfs": {"server": "10.0.0.9", "path": "/db"}}],
    )  # fmt: skip
    # a bare pod that asks for a user namespace, and one that is already isolated
    sandbox.add_pod("iso", node="pl1", host_users=False)
    # two pods the runtime gave the same host IDs: an overlap, drawn in red
    for pod in ("a", "b"):
        sandbox.add_pod(pod, node="pl1", namespace="team2", host_users=False, host_id=655360)
    # kubelet records of pods not running: one of a pod the API no longer has (deleted, its
    # directory left behind: stale), one of a completed pod the API still lists
    node = sandbox.nodes["pl1"]
    write_kubelet_record(node, STALE_UID, STALE_HOST_ID, 65536)
    # and one left from before the pool was shrunk: outside it (a kubelet restart fails on it)
    write_kubelet_record(node, OUTSIDE_UID, OUTSIDE_HOST_ID, 65536)
    done = sandbox.add_pod("done", node="pl1", host_users=False, phase="Succeeded")
    obj = sandbox.store.get("pods", "done", "default")
    assert obj is not None
    obj["spec"]["nodeName"] = "pl1"
    sandbox.store.put("pods", obj)
    write_kubelet_record(node, done.uid, STALE_HOST_ID + 65536, 65536)
    return sandbox


def plan(cluster: Sandbox, *args: str) -> Run:
    return run_cli(["plan", "-A", *args], env=cluster.env())


def _workloads(run: Run) -> dict[str, dict[str, Any]]:
    data = json.loads(run.stdout)
    return {f"{w['kind']}/{w['name']}": w for w in data["workloads"]}


def test_pods_are_grouped_by_their_owners_with_every_blocker_and_where(cluster: Sandbox) -> None:
    run = plan(cluster, "-o", "json")
    assert (run.exit_code, run.stderr) == (1, "")
    found = _workloads(run)
    assert set(found) == {
        "Deployment/web", "CronJob/nightly", "StatefulSet/db", "Pod/iso", "Pod/a", "Pod/b"
    }  # fmt: skip
    web = found["Deployment/web"]
    assert web["pods"] == ["web-5d8f7-a", "web-5d8f7-b"]
    assert (web["state"], web["readiness"], web["blockers"]) == ("host-userns", "convertible", [])
    assert web["convertCommand"] == (
        "kubectl get deployment/web -n default -o yaml | kubectl userns convert -f - | "
        "kubectl apply -f -"
    )
    nightly = found["CronJob/nightly"]
    fields = {b["field"]: b["reason"] for b in nightly["blockers"]}
    assert "UserNamespacesHostNetworkSupport" in fields["spec.hostNetwork"]
    assert (
        "runAsUser 70000 is outside the pod's 65536 IDs"
        in (fields["spec.containers[1].securityContext.runAsUser"])
    )
    assert [w["field"] for w in nightly["warnings"]] == [
        "spec.containers[1].securityContext.privileged"
    ]
    assert nightly["readiness"] == "blocked" and nightly["convertCommand"] is None
    db = found["StatefulSet/db"]
    assert [b["field"] for b in db["blockers"]] == ["spec.volumes[0].nfs"]
    assert db["notReadyNodes"] == ["pl2"] and db["convertCommand"] is None
    assert found["Pod/iso"]["state"] == "unverified"
    nodes = {n["name"]: n for n in json.loads(run.stdout)["nodes"]}
    assert nodes["pl1"]["ready"] is True
    assert "no runtime handler reports userNamespaces support" in nodes["pl2"]["problems"][0]


def test_the_table_names_blockers_and_gives_the_convert_commands(cluster: Sandbox) -> None:
    run = plan(cluster)
    assert (run.exit_code, run.stderr) == (1, "")
    header, *rows = run.stdout.split("\n\n")[0].splitlines()
    assert header.split() == ["NAMESPACE", "WORKLOAD", "PODS", "STATE", "READINESS", "BLOCKERS"]
    by_name = {r.split()[1]: r.split() for r in rows}
    assert by_name["deployment/web"][2:6] == ["2", "host-userns", "convertible", "-"]
    assert by_name["statefulset/db"][5] == "spec.volumes[0].nfs,nodes-not-ready"
    assert "Convert (nothing blocks these):\n  kubectl get deployment/web -n default" in run.stdout
    assert run.stdout.rstrip().endswith(
        "planned 6 workload(s), 7 pod(s): 0 isolated, 0 not isolated, 3 asking for a user "
        "namespace (not verified; add --verify), 3 in the host user namespace (1 convertible, 2 "
        "blocked)"
    )
    bare = plan(cluster, "--no-headers")
    assert [line.split() for line in bare.stdout.splitlines()] == [r.split() for r in rows]


def test_kubectls_output_formats_over_the_workloads(cluster: Sandbox) -> None:
    """-o name, jsonpath, custom-columns and --color as every report takes them; html and
    policyreport stay the plan's own."""
    names = plan(cluster, "-o", "name")
    assert (names.exit_code, names.stderr) == (1, "")
    assert "deployment.apps/web" in names.stdout.splitlines()
    assert "statefulset.apps/db" in names.stdout.splitlines()
    workloads = json.loads(plan(cluster, "-o", "json").stdout)["workloads"]
    assert len(names.stdout.splitlines()) == len(workloads)
    states = plan(cluster, "-o", 'jsonpath={range .workloads[*]}{.name}={.state}{"\\n"}{end}')
    assert states.exit_code == 1
    assert sorted(states.stdout.splitlines()) == sorted(
        f"{w['name']}={w['state']}" for w in workloads
    )
    columns = plan(cluster, "-o", "custom-columns=NAME:.name,STATE:.state", "--no-headers")
    assert sorted(line.split() for line in columns.stdout.splitlines()) == sorted(
        [w["name"], w["state"]] for w in workloads
    )
    painted = plan(cluster, "--color", "always")
    assert "\x1b[33mhost-userns\x1b[0m" in painted.stdout
    assert "\x1b[" not in plan(cluster, "--color", "never").stdout
    bare = plan(cluster, "--no-headers")
    assert bare.stderr.startswith("planned 6 workload(s), 7 pod(s)")
    assert "Convert" not in bare.stdout and "planned" not in bare.stdout
    refused = plan(cluster, "-o", "html", "--no-headers")
    assert (refused.exit_code, refused.stdout) == (2, "")
    assert refused.stderr == "error: --no-headers only applies to table output (got -o html).\n"


def test_verify_probes_the_nodes_and_tells_isolated_from_asking(cluster: Sandbox) -> None:
    run = plan(cluster, "--verify", "-o", "json")
    assert (run.exit_code, run.stderr) == (1, "")
    data = json.loads(run.stdout)
    assert data["verified"] is True
    found = _workloads(run)
    assert found["Pod/iso"]["state"] == "isolated"
    for pod in ("Pod/a", "Pod/b"):
        assert found[pod]["state"] == "not-isolated"
        assert "no-overlap" in found[pod]["failedChecks"]
    assert (data["summary"]["isolated"], data["summary"]["notIsolated"]) == (1, 2)
    (pl1,) = [n for n in data["idSpace"] if n["node"] == "pl1"]
    states = {s["pod"]: s["state"] for s in pl1["slots"]}
    assert states == {
        "default/iso": "isolated", "team2/a": "overlap", "team2/b": "overlap",
        None: "stale", "default/done": "recorded",
    }  # fmt: skip
    # the pool as data (not read from a check's sentence), the bar widened to every slot
    assert pl1["pool"] == {"first": 65536, "last": 65536 + 7208960 - 1, "source": "getsubids"}
    assert (pl1["poolKnown"], pl1["low"], pl1["high"]) == (True, 65536, OUTSIDE_HOST_ID + 65535)
    stale = [s for s in pl1["slots"] if s["state"] == "stale"]
    assert stale == [
        {"pod": None, "uid": STALE_UID, "start": STALE_HOST_ID, "end": STALE_HOST_ID + 65535,
         "state": "stale", "inPool": True},
        {"pod": None, "uid": OUTSIDE_UID, "start": OUTSIDE_HOST_ID,
         "end": OUTSIDE_HOST_ID + 65535, "state": "stale", "inPool": False},
    ]  # fmt: skip
    # a plan of one namespace cannot tell a deleted pod from one of another namespace
    scoped = run_cli(["plan", "-n", "default", "--verify", "-o", "json"], env=cluster.env())
    assert scoped.exit_code == 1, scoped.stderr
    (pl1,) = [n for n in json.loads(scoped.stdout)["idSpace"] if n["node"] == "pl1"]
    assert {s["uid"]: s["state"] for s in pl1["slots"]}[STALE_UID] == "recorded"
    assert sorted(pl1["hostPods"]) == [
        "default/nightly-2900-x", "default/web-5d8f7-a", "default/web-5d8f7-b"
    ]  # fmt: skip


def _requests(cluster: Sandbox, since: int) -> list[str]:
    """The GET request paths the API answered since line ``since`` of its audit log."""
    lines = (cluster.state_dir / "api" / "audit.log").read_text().splitlines()[since:]
    events = [json.loads(line) for line in lines]
    return [e["requestURI"].split("?")[0] for e in events if e["verb"] == "get"]


def _log_length(cluster: Sandbox) -> int:
    log = cluster.state_dir / "api" / "audit.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_verify_lists_pods_and_nodes_once(cluster: Sandbox) -> None:
    """plan --verify hands the pods and nodes it listed to the audit; neither asks for one
    node at a time (a 1,000-node cluster: a few list requests, not 1,000 gets)."""
    before = _log_length(cluster)
    run = plan(cluster, "--verify", "-o", "json")
    assert run.exit_code == 1, run.stderr
    paths = _requests(cluster, before)
    assert paths.count("/api/v1/pods") == 1
    assert paths.count("/api/v1/nodes") == 1
    assert [p for p in paths if p.startswith("/api/v1/nodes/") and "/proxy/" not in p] == []
    before = _log_length(cluster)
    audit = run_cli(["audit", "-A", "-o", "json"], env=cluster.env())
    assert audit.exit_code == 1, audit.stderr
    paths = _requests(cluster, before)
    assert (paths.count("/api/v1/pods"), paths.count("/api/v1/nodes")) == (1, 1)
    assert [p for p in paths if p.startswith("/api/v1/nodes/") and "/proxy/" not in p] == []
    assert {row["node"] for row in json.loads(audit.stdout)["pods"]} == {"pl1", "pl2"}


def test_verify_through_the_openssh_client_as_audit_does(cluster: Sandbox) -> None:
    """--verify takes audit's node flags, --ssh-client included, with the SSH config's own
    ConnectTimeout (no fixed --ssh-timeout default of its own)."""
    run = plan(cluster, "--verify", "--ssh-client", "openssh", "-o", "json")
    assert (run.exit_code, run.stderr) == (1, "")
    assert _workloads(run)["Pod/iso"]["state"] == "isolated"


def test_node_flags_without_verify_are_refused_before_any_request(cluster: Sandbox) -> None:
    run = run_cli(["plan", "-A", "--ssh-user", "ops"], env={"KUBECONFIG": "/nonexistent"})
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == (
        "error: --ssh-user applies only with --verify (the plan alone reads the API only); add "
        "--verify.\n"
    )


def test_policy_reports_validate_against_the_crd_schemas(cluster: Sandbox) -> None:
    import jsonschema
    import yaml

    run = plan(cluster, "--verify", "-o", "policyreport")
    assert (run.exit_code, run.stderr) == (1, "")
    document = yaml.safe_load(run.stdout)
    assert document["kind"] == "List"
    schemas = {
        "PolicyReport": json.loads((SCHEMAS / "policyreports.v1alpha2.json").read_text()),
        "ClusterPolicyReport": json.loads(
            (SCHEMAS / "clusterpolicyreports.v1alpha2.json").read_text()
        ),
    }
    kinds = [item["kind"] for item in document["items"]]
    assert kinds == ["PolicyReport", "PolicyReport", "ClusterPolicyReport"]  # default, team2
    for item in document["items"]:
        assert item["apiVersion"] == "wgpolicyk8s.io/v1alpha2"
        jsonschema.validate(item, schemas[item["kind"]])
        assert sum(item["summary"].values()) == len(item["results"])
    namespaced = document["items"][0]
    results = {r["resources"][0]["name"]: r for r in namespaced["results"]}
    assert results["iso"]["result"] == "pass"
    assert results["web"]["result"] == "fail" and "nothing blocks" in results["web"]["message"]
    assert [r["result"] for r in document["items"][1]["results"]] == ["fail", "fail"]
    cluster_report = document["items"][2]
    by_rule = {
        (r["rule"], r["resources"][0]["name"]): r["result"] for r in cluster_report["results"]
    }
    assert by_rule == {
        ("node-ready-for-user-namespaces", "pl1"): "pass",
        ("node-ready-for-user-namespaces", "pl2"): "fail",
        ("node-overlap", "pl1"): "fail",
    }
    # the schema check is not vacuous: a result the CRD forbids is caught
    broken = json.loads(json.dumps(namespaced))
    broken["results"][0]["result"] = "failed"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schemas["PolicyReport"])


# --- the HTML report, in a real browser -------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
# Chromium's flags for a closed network: no background requests, no first-run work
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--virtual-time-budget=3000",
]  # fmt: skip
# Appended to a copy of the page by the test (never by the tool): measures what the browser
# drew and writes it into the DOM, which --dump-dom prints.
MEASURE = """<script>
var out = {nodes: [], cards: {}};
document.querySelectorAll("#nodes .node").forEach(function (n) {
  var pool = n.querySelector("rect.pool").getBoundingClientRect(), slots = [];
  n.querySelectorAll("rect.slot").forEach(function (r) {
    var b = r.getBoundingClientRect();
    var style = getComputedStyle(r), title = r.querySelector("title");
    slots.push({uid: r.dataset.uid, pod: r.dataset.pod, state: r.dataset.state,
                left: (b.left - pool.left) / pool.width, width: b.width / pool.width,
                fill: style.fill, dashes: style.strokeDasharray,
                title: title ? title.textContent : ""});
  });
  out.nodes.push({node: n.dataset.node, slots: slots});
});
out.legend = Array.prototype.map.call(document.querySelectorAll("#legend li"),
  function (li) { return li.dataset.state + "=" + li.textContent.trim(); });
document.querySelectorAll("#summary .card").forEach(function (c) {
  out.cards[c.dataset.count] = parseInt(c.querySelector("b").textContent, 10);
});
var names = function () {
  return Array.prototype.map.call(document.querySelectorAll("#workloads tbody tr"),
    function (r) { return r.cells[1].textContent + "=" + r.cells[2].textContent; });
};
out.rows = names();
document.querySelectorAll("#workloads th")[2].click();
out.sortedByPods = names();
var pre = document.createElement("pre"); pre.id = "measured";
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script>"""


def _chromium() -> str:
    import shutil

    found = shutil.which("chromium")
    assert found, "Debian's chromium is not installed (the test command installs it)"
    return found


def test_the_html_report_in_a_real_browser(cluster: Sandbox, tmp_path: Path) -> None:
    import html
    import os
    import re
    import subprocess

    page = plan(cluster, "--verify", "-o", "html")
    assert (page.exit_code, page.stderr) == (1, "")
    # self-contained: nothing to fetch from anywhere
    assert not re.search(r"<link|\bsrc=|@import|url\(|https?://", page.stdout), "external"
    data = json.loads(plan(cluster, "--verify", "-o", "json").stdout)
    measured_page = tmp_path / "measured.html"
    measured_page.write_text(page.stdout.replace("</body>", MEASURE + "</body>"))
    done = subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1280,1600", "--dump-dom", measured_page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    found = re.search(r'<pre id="measured">(.*?)</pre>', done.stdout, re.DOTALL)
    assert found, f"the page did not run: {done.stderr[-2000:]}"
    drawn = json.loads(html.unescape(found.group(1)))

    summary = data["summary"]
    assert drawn["cards"] == {
        "isolated": summary["isolated"],
        "convertible": summary["convertible"],
        "blocked": summary["blocked"],
        "not isolated": summary["notIsolated"],
    }
    listed = [f"{w['kind']}/{w['name']}={len(w['pods'])}" for w in data["workloads"]]
    assert drawn["rows"] == listed
    assert [int(r.rsplit("=", 1)[1]) for r in drawn["sortedByPods"]] == sorted(
        len(w["pods"]) for w in data["workloads"]
    )
    # every slot where the JSON report puts it on its node's bar, in the state's colour
    colours = {"isolated": "rgb(26, 127, 55)", "overlap": "rgb(207, 34, 46)"}
    by_node = {n["node"]: n for n in drawn["nodes"]}
    assert set(by_node) == {n["node"] for n in data["idSpace"]}
    slots_seen = 0
    for node in data["idSpace"]:
        span = node["high"] - node["low"] + 1
        drawn_slots = {s["uid"]: s for s in by_node[node["node"]]["slots"]}
        assert set(drawn_slots) == {s["uid"] for s in node["slots"]}
        for slot in node["slots"]:
            seen = drawn_slots[slot["uid"]]
            assert (seen["state"], seen["pod"]) == (slot["state"], slot["pod"] or "")
            assert abs(seen["left"] - (slot["start"] - node["low"]) / span) < 0.005, slot
            assert seen["width"] >= (slot["end"] - slot["start"] + 1) / span - 0.005
            if slot["state"] in colours:
                assert seen["fill"] == colours[slot["state"]]
            slots_seen += 1
    assert slots_seen >= 1
    # the stale kubelet record: drawn where its range lies, outlined (not told by colour
    # alone), its title naming the UID, and explained in the legend
    (pl1,) = [n for n in data["idSpace"] if n["node"] == "pl1"]
    stale = {s["uid"]: s for s in by_node["pl1"]["slots"]}[STALE_UID]
    assert (
        abs(stale["left"] - (STALE_HOST_ID - pl1["low"]) / (pl1["high"] - pl1["low"] + 1)) < 0.005
    )
    assert stale["dashes"] not in ("", "none") and stale["fill"] == "rgb(255, 235, 233)"
    assert stale["title"] == (
        f"kubelet record of pod UID {STALE_UID}: host IDs {STALE_HOST_ID}-{STALE_HOST_ID + 65535} "
        "(stale kubelet record: no such pod in the API, its IDs still reserved)"
    )
    outside = {s["uid"]: s for s in by_node["pl1"]["slots"]}[OUTSIDE_UID]
    assert outside["title"].endswith(
        f"; outside the kubelet's pool: the kubelet's next start fails on it (id "
        f"{OUTSIDE_HOST_ID} is out of range)"
    )
    done = [s for s in by_node["pl1"]["slots"] if s["pod"] == "default/done"]
    assert done[0]["title"].startswith("kubelet record of pod default/done (UID ")
    assert (
        "stale=stale kubelet record: no such pod in the API, its IDs still reserved"
        in (drawn["legend"])
    )
    # the screenshot the suite keeps (README's picture comes from the same page)
    artifacts = Path(os.environ.get("KUBECTL_USERNS_ARTIFACTS", ROOT / "build" / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    report = tmp_path / "plan.html"
    report.write_text(page.stdout)
    shot = artifacts / "plan-report.png"
    subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
         "--window-size=1280,1400", f"--screenshot={shot}", report.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_the_html_report_escapes_what_the_cluster_says() -> None:
    from kubectl_userns.checks.plan import build_plan
    from kubectl_userns.cli.report_html import render_html

    evil = "<img src=x onerror=alert(1)>"
    pod = {
        "metadata": {"name": evil, "namespace": "default", "uid": "u1"},
        "spec": {"nodeName": "n1", "hostNetwork": True, "containers": [{"name": evil}]},
        "status": {"phase": "Running"},
    }
    page = render_html(build_plan([pod]), None)
    assert evil not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_lists_come_in_chunks_as_kubectl_asks_for_them(cluster: Sandbox) -> None:
    """limit/continue as the real API serves them: kubectl's own --chunk-size pages through."""
    import shutil
    import subprocess

    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not on PATH"
    env = {**__import__("os").environ, **cluster.env()}
    done = subprocess.run(
        [kubectl, "get", "pods", "-A", "--chunk-size=2", "-o", "name", "-v=6"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = sorted(done.stdout.split())
    assert len(names) == 8 and len(set(names)) == 8, names
    assert done.stderr.count("limit=2") >= 4, "kubectl did not page"  # 8 pods, 2 at a time
    from kubectl_userns.access.api import KubeClient
    from kubectl_userns.options import ClusterOptions

    client = KubeClient.from_options(ClusterOptions(str(cluster.kubeconfig), None, None, 10))
    first = client.get("/api/v1/pods", "pods", {"limit": "3"})
    assert len(first["items"]) == 3 and first["metadata"]["remainingItemCount"] == 5
    every = client.list_all("/api/v1/pods", "pods", page=3)
    assert sorted(f"pod/{p['metadata']['name']}" for p in every) == names
    bad = client.request("/api/v1/pods", {"limit": "3", "continue": "not-a-token"})
    assert bad.status == 400 and "continue key is not valid" in str(bad.body)
