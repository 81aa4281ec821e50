"""Pods created through the API (real kubectl apply / run) are run by the sandbox's kubelet as
the built-in ones are, and inspect proves them isolated."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kubectl_userns.sandbox.cluster import Sandbox
from tests.cli import run_cli
from tests.conftest import needs_root

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    needs_root,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH"),
]

MANIFEST = """apiVersion: v1
kind: Pod
metadata:
  name: applied
spec:
  hostUsers: false
  containers:
  - name: app
    image: debian
    command: ["sleep", "infinity"]
    resources:
      requests: {cpu: 50m}
"""


@pytest.fixture(scope="module")
def cluster(make_sandbox: Callable[[], Sandbox]) -> Sandbox:
    c = make_sandbox()
    c.add_node("crio")
    c.add_node("ctrd", runtime="containerd")
    # built-in pods take the top slot of each node; API pods must take others
    c.add_pod("builtin", node="crio")
    c.add_pod("builtin2", node="ctrd")
    return c


def kubectl(cluster: Sandbox, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **cluster.env()}
    return subprocess.run(
        ["kubectl", *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def test_kubectl_apply_runs_the_pod_like_a_kubelet(cluster: Sandbox) -> None:
    done = kubectl(cluster, "apply", "-f", "-", stdin=MANIFEST)
    assert (done.returncode, done.stdout, done.stderr) == (0, "pod/applied created\n", "")
    pod = json.loads(kubectl(cluster, "get", "pod", "applied", "-o", "json").stdout)
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["qosClass"] == "Burstable"
    node = pod["spec"]["nodeName"]
    run = run_cli(["inspect", "applied", "-o", "json"], env=cluster.env())
    assert (run.exit_code, run.stderr) == (0, "")
    report = json.loads(run.stdout)
    uid = pod["metadata"]["uid"]
    assert report["podCgroup"].endswith(
        f"kubepods-burstable.slice/kubepods-burstable-pod{uid.replace('-', '_')}.slice"
    )
    (app,) = [p for p in report["processes"] if p["role"] == "app"]
    status_id = pod["status"]["containerStatuses"][0]["containerID"].split("://")[1]
    assert app["containerID"] == status_id and app["command"] == "sleep infinity"
    assert (app["uidInPod"], report["summary"]["failed"]) == (0, 0)
    low, _high = report["mapping"]["hostRange"]
    record = Path(cluster.nodes[node].dir) / "kubelet" / "pods" / uid / "userns"
    mapping = json.loads(record.read_text())["uidMappings"]
    assert mapping == [{"hostId": low, "containerId": 0, "length": 65536}]
    builtin = cluster.pod("builtin" if node == "crio" else "builtin2").host_id
    assert low == builtin - 65536  # the next free slot of the pool
    assert {c["id"]: c["status"] for c in report["checks"]}["no-overlap"] == "PASS"


def test_kubectl_run_on_a_containerd_node_gets_pause(cluster: Sandbox) -> None:
    overrides = json.dumps({"apiVersion": "v1", "spec": {"hostUsers": False, "nodeName": "ctrd"}})
    done = kubectl(
        cluster, "run", "sleeper", "--image=debian", f"--overrides={overrides}", "--",
        "sleep", "infinity",
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, "pod/sleeper created\n", "")
    run = run_cli(["inspect", "sleeper", "-o", "json"], env=cluster.env())
    assert (run.exit_code, run.stderr) == (0, "")
    report = json.loads(run.stdout)
    assert [p["role"] for p in report["processes"]] == ["app", "sandbox"]
    assert report["processes"][1]["uidInPod"] == 65535
    assert report["pod"]["qosClass"] == "BestEffort"


def test_client_side_validation_works_and_unknown_fields_are_refused(cluster: Sandbox) -> None:
    bad = MANIFEST.replace("name: applied", "name: typo").replace(
        "  hostUsers: false", "  hostUser: false"
    )
    done = kubectl(cluster, "apply", "-f", "-", stdin=bad)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        'Error from server (BadRequest): error when creating "STDIN": Pod in version "v1" '
        'cannot be handled as a Pod: strict decoding error: unknown field "spec.hostUser"\n'
    )


def test_deleting_the_pod_releases_its_slot_and_cgroup(cluster: Sandbox) -> None:
    manifest = MANIFEST.replace("name: applied", "name: brief")
    assert kubectl(cluster, "apply", "-f", "-", stdin=manifest).returncode == 0
    pod = json.loads(kubectl(cluster, "get", "pod", "brief", "-o", "json").stdout)
    node = cluster.nodes[pod["spec"]["nodeName"]]
    uid = pod["metadata"]["uid"]
    record = Path(node.dir) / "kubelet" / "pods" / uid / "userns"
    slices = list(node.cgroup2.rglob(f"*pod{uid.replace('-', '_')}.slice"))
    assert record.exists() and slices
    done = kubectl(cluster, "delete", "pod", "brief")
    assert (done.returncode, done.stdout) == (0, 'pod "brief" deleted\n')
    assert not record.exists()
    assert not any(s.exists() for s in slices)


def test_the_served_openapi_is_derived_from_kubernetes_validate() -> None:
    pytest.importorskip("kubernetes_validate")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_openapi.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
