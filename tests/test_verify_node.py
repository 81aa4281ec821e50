"""verify-node through the real CLI against sandbox nodes shaped as good and as each broken
variant (real sshd, real /etc/subuid files, real getsubids, real kubelet userns records)."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubectl_userns.sandbox.cluster import Sandbox
from kubectl_userns.sandbox.node import node_exec
from kubectl_userns.sandbox.objects import kubelet_config
from tests.cli import Run, run_cli, run_process
from tests.probe_run import logged_run, run_probe

GOOD = "k8s-fedora-wk2.fedora-amd.home"
POOL = "kubelet:65536:7208960\n"


@pytest.fixture(scope="module")
def cluster(make_sandbox: Callable[[], Sandbox]) -> Iterator[Sandbox]:
    sandbox = make_sandbox()
    sandbox.add_node(GOOD)
    sandbox.add_pod("testpod", node=GOOD, host_id=4980736)
    sandbox.add_node("vn-unaligned", subuid="kubelet:100000:7208960\n", subgid=None)
    sandbox.add_node("vn-small", subuid="kubelet:65536:65536\n", subgid="kubelet:65536:65536\n")
    sandbox.add_node("vn-differ", subuid=POOL, subgid="kubelet:131072:7208960\n")
    sandbox.add_node("vn-nouser", kubelet_user=False)
    sandbox.add_node("vn-nogetsubids", getsubids=False)
    sandbox.add_node("vn-nons", max_user_namespaces=0)
    sandbox.add_node("vn-stale")
    # a pod whose record lies outside the pool: the pool was shrunk after it started
    sandbox.add_pod("old", node="vn-stale", host_id=65536 * 200)
    sandbox.add_node("vn-api")  # API-side variants change its Node object and configz
    sandbox.add_node("vn-down")
    sandbox.stop_sshd("vn-down")
    yield sandbox


def verify(cluster: Sandbox, *args: str) -> Run:
    return run_cli(["verify-node", *args], env=cluster.env())


def checks(run: Run) -> dict[str, dict[str, Any]]:
    """The checks of a JSON report by ID."""
    return {c["id"]: c for c in json.loads(run.stdout)["checks"]}


def row(run: Run, check_id: str) -> str:
    """The table row of one check."""
    return next(line for line in run.stdout.splitlines() if line.startswith(check_id + " "))


def failed(run: Run) -> list[str]:
    return [c["id"] for c in json.loads(run.stdout)["checks"] if c["status"] == "FAIL"]


# --- a good node ------------------------------------------------------------------------------


def test_good_node_is_ready(cluster: Sandbox) -> None:
    run = verify(cluster, GOOD)
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "STATUS", "SOURCE", "OBSERVED", "EXPECTED"]
    for check_id in ("subid-pool", "pool-size", "getsubids", "cgroup-version", "userns-records"):
        assert " PASS " in row(run, check_id)
    assert "kubelet:65536:7208960" in row(run, "subid-pool")
    assert "1 record(s), all inside the pool" in row(run, "userns-records")
    assert " FAIL " not in run.stdout
    assert lines[-1].startswith(f"node {GOOD}: ready for user namespaces")


def test_partial_name_finds_the_one_node(cluster: Sandbox) -> None:
    run = verify(cluster, "wk2", "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["node"]["name"] == GOOD


def test_ambiguous_name_lists_the_candidates(cluster: Sandbox) -> None:
    run = verify(cluster, "vn-n")
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.startswith('error: node name "vn-n" matches 3 nodes')
    assert "vn-nogetsubids, vn-nons, vn-nouser" in run.stderr


def test_unknown_node(cluster: Sandbox) -> None:
    run = verify(cluster, "no-such-node")
    assert run.exit_code == 2
    assert run.stderr.startswith('error: no node name contains "no-such-node"')
    assert run.stderr.count("\n") == 1


def test_json_report(cluster: Sandbox) -> None:
    run = verify(cluster, GOOD, "-o", "json")
    assert run.exit_code == 0
    report = json.loads(run.stdout)
    assert report["apiVersion"] == "kubectl-userns/v1"
    assert report["kind"] == "NodeVerification"
    assert report["kubelet"]["pool"] == {"first": 65536, "count": 7208960}
    assert report["kubelet"]["configSource"] == "configz"
    assert report["summary"]["verdict"] == "READY"
    assert report["nodeReached"] is True
    for check in report["checks"]:
        assert set(check) == {"id", "status", "observed", "expected", "source", "fix"}
        assert check["source"] in ("api", "node", "probe")
        if check["status"] in ("FAIL", "WARN"):
            assert check["fix"], check


# --- broken pools --------------------------------------------------------------------------


def test_subuid_start_not_a_multiple_of_65536(cluster: Sandbox) -> None:
    run = verify(cluster, "vn-unaligned")
    assert run.exit_code == 1
    assert " FAIL " in row(run, "pool-alignment")
    assert "first ID 100000" in row(run, "pool-alignment")
    # /etc/subgid has no kubelet line at all on this node: getsubids -g finds nothing
    assert " FAIL " in row(run, "subid-pool")
    fixes = run.stdout.split("Fixes:")[1]
    assert "kubelet:131072:7208960" in fixes
    assert "NOT READY" in run.stdout.splitlines()[-1]


def test_too_few_ids_for_max_pods(cluster: Sandbox) -> None:
    run = verify(cluster, "vn-small", "-o", "json")
    assert run.exit_code == 1
    assert failed(run) == ["pool-size"]
    check = checks(run)["pool-size"]
    assert check["observed"].startswith("65536 IDs = 1 pod slot(s)")
    assert "kubelet:65536:7208960" in check["fix"]


def test_uid_and_gid_pools_differ(cluster: Sandbox) -> None:
    run = verify(cluster, "vn-differ", "-o", "json")
    assert run.exit_code == 1
    assert failed(run) == ["pool-uid-gid"]
    check = checks(run)["pool-uid-gid"]
    assert "kubelet:65536:7208960" in check["observed"]
    assert "kubelet:131072:7208960" in check["observed"]
    assert "to both /etc/subuid and /etc/subgid" in check["fix"]


def test_no_kubelet_user(cluster: Sandbox) -> None:
    run = verify(cluster, "vn-nouser", "-o", "json")
    assert run.exit_code == 0  # a documented set-up, with warnings
    found = checks(run)
    assert found["kubelet-user"]["status"] == "WARN"
    assert "default pool 65536-4294967295" in found["kubelet-user"]["observed"]
    assert found["kubelet-user"]["fix"].startswith("useradd --system")
    assert "kubelet:65536:7208960" in found["kubelet-user"]["fix"]
    assert found["pool-end"]["status"] == "WARN"
    assert found["getsubids"]["status"] == "PASS"


def test_missing_getsubids(cluster: Sandbox) -> None:
    run = verify(cluster, "vn-nogetsubids", "-o", "json")
    assert run.exit_code == 1
    assert failed(run) == ["getsubids"]
    fix = checks(run)["getsubids"]["fix"]
    assert "apt-get install uidmap" in fix
    assert "dnf install shadow-utils-subid" in fix


def test_max_user_namespaces_zero(cluster: Sandbox) -> None:
    run = verify(cluster, "vn-nons")
    assert run.exit_code == 1
    assert " FAIL " in row(run, "max-user-namespaces")
    assert "user.max_user_namespaces=0" in row(run, "max-user-namespaces")
    assert "sysctl -w user.max_user_namespaces=65536" in run.stdout


def test_stale_userns_record_outside_the_pool(cluster: Sandbox) -> None:
    node = cluster.nodes["vn-stale"]
    gone = str(uuid.uuid4())
    record = Path(node.dir) / "kubelet" / "pods" / gone / "userns"
    record.parent.mkdir(parents=True)
    mapping = '[{"hostId": 65536, "containerId": 0, "length": 131072}]'
    record.write_text(f'{{"uidMappings": {mapping}, "gidMappings": {mapping}}}')
    old = cluster.pod("old")
    run = verify(cluster, "vn-stale", "-o", "json")
    assert run.exit_code == 1
    assert failed(run) == ["userns-records"]
    check = checks(run)["userns-records"]
    assert check["observed"].startswith("2 of 2 record(s) the kubelet rejects")
    outside = (
        f"{old.uid} (default/old): id 13107200 is out of range (host IDs 13107200-13172735 lie "
        "outside the pool)"
    )
    assert outside in check["observed"]
    assert (
        f"{gone} (no such pod in the API): wrong user namespace length 131072"
        in (check["observed"])
    )
    assert old.uid in check["fix"] and gone in check["fix"]


# --- API-side variants ------------------------------------------------------------------------


@pytest.fixture
def api_node(cluster: Sandbox) -> Iterator[str]:
    """vn-api, with its Node object, configz and kubelet config file restored after the test."""
    node = cluster.store.get("nodes", "vn-api")
    configz = cluster.store.get_configz("vn-api")
    config_file = Path(cluster.nodes["vn-api"].dir) / "kubelet" / "config.yaml"
    config_text = config_file.read_text()
    assert node is not None and configz is not None
    try:
        yield "vn-api"
    finally:
        cluster.store.put("nodes", node)
        cluster.store.put_configz("vn-api", configz["kubeletconfig"])
        cluster.store.set_forbidden([])
        config_file.write_text(config_text)


def test_old_runtime_in_the_node_object(cluster: Sandbox, api_node: str) -> None:
    node = cluster.store.get("nodes", api_node)
    assert node is not None
    node["status"]["nodeInfo"]["containerRuntimeVersion"] = "containerd://1.6.21"
    cluster.store.put("nodes", node)
    run = verify(cluster, api_node)
    assert run.exit_code == 1
    assert " FAIL " in row(run, "container-runtime")
    # a 1.33 kubelet asks the runtime, which says nothing: every hostUsers: false pod fails
    assert "kubelet v1.33.1 refuses every hostUsers: false pod" in row(run, "container-runtime")
    assert "silently" not in run.stdout
    assert "container-runtime: upgrade containerd to 2.0 or later" in run.stdout


def test_old_crio_names_the_version_to_upgrade_to(cluster: Sandbox, api_node: str) -> None:
    node = cluster.store.get("nodes", api_node)
    assert node is not None
    node["status"]["nodeInfo"]["containerRuntimeVersion"] = "cri-o://1.24.6"
    node["status"]["nodeInfo"]["kubeletVersion"] = "v1.31.2"
    cluster.store.put("nodes", node)
    run = verify(cluster, api_node, "-o", "json")
    assert run.exit_code == 1
    assert checks(run)["container-runtime"]["fix"].startswith("upgrade CRI-O to 1.31")


def test_feature_gate_off_in_configz(cluster: Sandbox, api_node: str) -> None:
    cluster.store.put_configz(
        api_node, kubelet_config(feature_gates={"UserNamespacesSupport": False})
    )
    run = verify(cluster, api_node, "-o", "wide")
    assert run.exit_code == 1
    line = row(run, "feature-gate")
    assert " FAIL " in line and "UserNamespacesSupport=false" in line
    assert "set featureGates: {UserNamespacesSupport: true}" in line  # -o wide: the fix inline
    assert "Fixes:" not in run.stdout


def test_configz_forbidden_falls_back_to_the_nodes_config_file(
    cluster: Sandbox, api_node: str
) -> None:
    cluster.store.set_forbidden([f"/api/v1/nodes/{api_node}/proxy"])
    config = Path(cluster.nodes[api_node].dir) / "kubelet" / "config.yaml"
    config.write_text(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
        "maxPods: 250\nfeatureGates:\n  UserNamespacesSupport: true\n"
    )
    run = verify(cluster, api_node, "-o", "json")
    assert run.exit_code == 1  # 110 slots are too few for 250 pods
    found = checks(run)
    assert found["kubelet-config"]["status"] == "WARN"
    assert "403 Forbidden" in found["kubelet-config"]["observed"]
    assert "/var/lib/kubelet/config.yaml on the node" in found["kubelet-config"]["observed"]
    assert "nodes/proxy" in found["kubelet-config"]["fix"]
    assert found["feature-gate"]["source"] == "node"
    assert failed(run) == ["pool-size"]
    assert "kubelet:65536:16384000" in found["pool-size"]["fix"]


def test_configz_forbidden_without_a_config_file(cluster: Sandbox, api_node: str) -> None:
    cluster.store.set_forbidden([f"/api/v1/nodes/{api_node}/proxy"])
    # the kubelet's --config file is gone (it still runs with what it read at start-up)
    (Path(cluster.nodes[api_node].dir) / "kubelet" / "config.yaml").unlink()
    run = verify(cluster, api_node, "-o", "json")
    assert run.exit_code == 0
    found = checks(run)
    assert "kubelet defaults assumed" in found["kubelet-config"]["observed"]
    assert found["feature-gate"]["status"] == "WARN"
    assert "default for 1.33: on" in found["feature-gate"]["observed"]


# --- the node cannot be reached --------------------------------------------------------------


def test_unreachable_node_exit_3_after_the_api_checks(cluster: Sandbox) -> None:
    run = verify(cluster, "vn-down")
    assert run.exit_code == 3
    assert run.stderr.startswith("error: cannot reach node vn-down over SSH")
    assert run.stderr.count("\n") == 1
    assert " PASS " in row(run, "kubelet-version")
    assert "subid-pool" not in run.stdout
    assert "INCOMPLETE - the node was not reached" in run.stdout.splitlines()[-1]


# --- --probe: a real idmapped mount -------------------------------------------------------------


def test_probe_creates_idmapped_mounts_and_leaves_nothing(cluster: Sandbox) -> None:
    state = cluster.nodes[GOOD]
    node_before = node_exec(state, ["cat", "/proc/self/mountinfo"])
    run = verify(cluster, GOOD, "--probe", "-o", "json")
    node_after = node_exec(state, ["cat", "/proc/self/mountinfo"])
    host_after = Path("/proc/self/mountinfo").read_text()
    assert run.exit_code == 0, run.stdout
    found = checks(run)
    assert found["idmap-userns"]["status"] == "PASS"
    assert found["idmap-tmpfs"]["status"] == "PASS"
    assert found["idmap-tmpfs"]["observed"] == "a new tmpfs idmapped: UID 0 shows as 65536"
    assert found["idmap-kubelet-root"]["status"] == "PASS"
    assert "/var/lib/kubelet idmapped" in found["idmap-kubelet-root"]["observed"]
    assert found["kubelet-root-fs"]["source"] == "probe"
    assert "idmap-mounts" not in found
    assert node_after == node_before
    for text in (node_after, host_after):
        assert "idmapped" not in text
        assert "kubectl-userns-probe" not in text


# --- other ways in ------------------------------------------------------------------------------


def test_through_kubectl(cluster: Sandbox) -> None:
    run = run_process(["verify-node", "wk2", "-o", "yaml"], cluster.env(), via_kubectl=True)
    assert run.exit_code == 0, run.stderr
    assert f"name: {GOOD}" in run.stdout
    assert "verdict: READY" in run.stdout


def test_local_reads_this_machine(cluster: Sandbox) -> None:
    run = verify(cluster, GOOD, "--local", "-o", "json")
    assert run.exit_code in (0, 1), run.stderr
    found = checks(run)
    has_user = any(line.startswith("kubelet:") for line in Path("/etc/passwd").read_text().split())
    assert (found["kubelet-user"]["status"] == "PASS") is has_user
    expected = Path("/proc/sys/user/max_user_namespaces").read_text().strip()
    assert found["max-user-namespaces"]["observed"].startswith(
        f"user.max_user_namespaces={expected}"
    )


def test_bad_flags_are_refused_before_any_request(cluster: Sandbox) -> None:
    run = verify(cluster, GOOD, "--local", "--ssh-user", "admin")
    assert run.exit_code == 2
    assert run.stderr.startswith("error: --local cannot be used with --ssh-user")
    run = verify(cluster, GOOD, "-o", "json", "--no-headers")
    assert run.exit_code == 2
    assert "--no-headers only applies to table output" in run.stderr


def test_context_flag_is_honoured(cluster: Sandbox) -> None:
    run = verify(cluster, GOOD, "--context", "nope")
    assert run.exit_code == 2
    assert 'context "nope" is not in the kubeconfig' in run.stderr


# --- what the probe costs on the node -----------------------------------------------------------


def _node_probe(cluster: Sandbox, node: str, wrappers: Path) -> tuple[list[str], str]:
    """The commands node.sh starts on ``node`` (logged by PATH wrappers), and its output."""
    commands, out = logged_run(cluster, node, "node", ["-"], wrappers)
    return sorted(commands), out


def test_the_node_probe_starts_no_process_per_line_of_a_runtime_config(
    cluster: Sandbox, tmp_path: Path
) -> None:
    # a CRI-O drop-in of 400 lines as its commented defaults look, and one key the probe reports
    lines = ["[crio.runtime]", 'default_runtime = "crun"']
    for i in range(99):
        lines += ["# A comment line such as crio.conf has for each of its settings,", "#", ""]
        lines.append(f'setting_{i} = "value {i}"')
    conf = "/etc/crio/crio.conf.d/99-long.conf"
    before, _ = _node_probe(cluster, "vn-stale", tmp_path)
    node = cluster.nodes["vn-stale"]
    node_exec(node, ["sh", "-c", 'mkdir -p "${0%/*}" && printf "%s\\n" "$@" > "$0"', conf, *lines])
    try:
        after, out = _node_probe(cluster, "vn-stale", tmp_path)
    finally:
        node_exec(node, ["sh", "-c", 'rm -f "$0"; rmdir "${0%/*}" 2>/dev/null; true', conf])
    assert f"runtimeconf\t{conf}\tdefault_runtime\tcrun\n" in out
    # the same commands with and without the file: none started per line (each line cost a
    # printf | tr before); and no id, cut or grep at all
    assert after == before
    assert not {"id", "cut", "grep"} & set(before)


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")


def test_the_node_probe_finds_getsubids_in_the_usual_places_when_path_lacks_it(
    cluster: Sandbox, tmp_path: Path
) -> None:
    # PATH as sudo's secure_path or a login shell may leave it: every tool but getsubids
    only = tmp_path / "bin"
    only.mkdir()
    for directory in ("/usr/bin", "/usr/sbin"):
        for exe in Path(directory).iterdir():
            if exe.name != "getsubids" and not (only / exe.name).exists():
                (only / exe.name).symlink_to(exe)
    code, out, err = run_probe(cluster, "vn-stale", "node", ["-"], str(only))
    assert (code, err) == (0, b"")
    records = [line.split("\t") for line in out.decode().splitlines()]
    found = [fields for fields in records if fields[0] in ("getsubids", "nogetsubids")]
    # the first of the usual directories that has it (node.sh's usual_dirs; Debian: /usr/bin)
    usual = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
    assert found == [["getsubids", shutil.which("getsubids", path=usual)]]
