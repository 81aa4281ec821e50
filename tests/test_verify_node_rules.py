"""The node probe's reader and verify-node's rules, on recorded real probe output
(tests/data/node/, see its README) and variants derived from it."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from kubectl_userns.checks.node import (
    Context,
    KubeletSettings,
    Pool,
    build_report,
    feature_state,
    gate_name,
    kubelet_pool,
    node_info,
    parse_version,
    pool_rules,
    runtime_version,
    settings_from_configz,
    settings_from_node,
    suggest_pool,
    summary_line,
)
from kubectl_userns.cli.names import resolve_node_name
from kubectl_userns.errors import AmbiguousNameError, NotFoundError, ProbeError
from kubectl_userns.probe.node_dump import NodeDump, parse_node_dump
from kubectl_userns.sandbox.objects import kubelet_config, make_node

DATA = Path(__file__).parent / "data" / "node"
TESTPOD = "e33ed7f7-0c89-42a5-9956-94a0a1761b23"  # a pod recorded in wk1.probe.txt


def recorded(name: str) -> str:
    return (DATA / f"{name}.probe.txt").read_text()


def with_lines(text: str, *lines: str, drop: str = "") -> str:
    """The recorded output with records added before ``end`` (and records tagged ``drop`` out)."""
    kept = [
        line
        for line in text.splitlines()
        if line != "end" and not (drop and line.startswith(drop + "\t"))
    ]
    return "\n".join([*kept, *lines, "end"]) + "\n"


def context(
    text: str,
    *,
    kubelet: str = "v1.33.1",
    runtime: str = "cri-o://1.33.0",
    kernel: str = "6.18.44-fc-v669",
    handlers: bool | None = True,
    config: dict[str, Any] | None = None,
    settings: KubeletSettings | None = None,
    probe: bool = False,
    pods: dict[str, str] | None = None,
) -> Context:
    node = make_node(
        "wk1",
        "127.0.0.1",
        kubelet_version=kubelet,
        container_runtime_version=runtime,
        kernel_version=kernel,
        runtime_handlers_userns=handlers,
    )
    dump = parse_node_dump(text, "wk1") if text else None
    return Context(
        info=node_info(node),
        settings=settings or settings_from_configz(config or kubelet_config()),
        dump=dump,
        kubelet_root="/var/lib/kubelet",
        probe_requested=probe,
        pods=pods or {},
    )


def report(ctx: Context) -> dict[str, Any]:
    return build_report(ctx)


def by_id(rep: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {c["id"]: c for c in rep["checks"]}


def status(rep: dict[str, Any], check_id: str) -> str:
    return by_id(rep)[check_id]["status"]


# --- the reader ------------------------------------------------------------------------------


def test_recorded_good_node_parses() -> None:
    dump = parse_node_dump(recorded("wk1"), "wk1")
    assert dump.probe_uid == 0
    assert dump.kernel == "6.18.44-fc-v669"
    assert dump.max_user_namespaces == 96365
    assert dump.cgroup_fs == "cgroup2fs"
    assert dump.cgroup_mounts == (("cgroup2", "/sys/fs/cgroup"),)
    assert (dump.root_mountpoint, dump.root_fstype) == ("/var/lib/kubelet", "ext4")
    assert dump.kubelet_user == (996, 996)
    assert [line.text for line in dump.subuid] == ["kubelet:65536:7208960"]
    assert dump.getsubids_path == "/usr/bin/getsubids"
    assert dump.getsubids["uid"].lines == ("0: kubelet 65536 7208960",)
    assert {f.pod_uid for f in dump.userns_files} == {
        "e33ed7f7-0c89-42a5-9956-94a0a1761b23",
        "0b6f8f0e-5f43-4c39-9d62-2d1b3a0c9f11",
    }
    assert dump.idmap == ()
    assert dump.runtimes == ()


def test_recorded_probe_run_parses_its_idmap_steps() -> None:
    dump = parse_node_dump(recorded("wk1-probe"), "wk1")
    assert [(s.step, s.result) for s in dump.idmap] == [
        ("tool", "ok"),
        ("userns", "ok"),
        ("tmpfs", "ok"),
        ("bind", "ok"),
    ]


def test_recorded_hybrid_node_without_kubelet_user() -> None:
    dump = parse_node_dump(recorded("hybrid"), "hybrid")
    assert dump.kubelet_user is None
    assert dump.getsubids_path is None
    assert dump.subid_files == {"uid": "missing", "gid": "missing"}
    assert ("cgroup2", "/sys/fs/cgroup/unified") in dump.cgroup_mounts


def test_truncated_output_is_refused() -> None:
    text = recorded("wk1")
    cut = text[: text.index("subid\t")]
    with pytest.raises(ProbeError, match="cut short"):
        parse_node_dump(cut, "wk1")


@pytest.mark.parametrize(
    ("record", "complaint"),
    [
        ("sysctl\tuser.max_user_namespaces\tmany", "'many' is not a number"),
        ("user\tkubelet\tx\t996", "'x' is not a number"),
        ("subids\tuid", "expected 2 fields, got 1"),
        ("kubeletconfig\t/var/lib/kubelet/config.yaml\t%%%", "not valid base64"),
    ],
)
def test_malformed_records_are_refused(record: str, complaint: str) -> None:
    with pytest.raises(ProbeError, match=complaint) as caught:
        parse_node_dump(with_lines(recorded("wk1"), record), "wk1")
    assert "node wk1" in caught.value.message


def test_output_without_kernel_or_rootfs_is_refused() -> None:
    with pytest.raises(ProbeError, match="lacks its kernel or rootfs"):
        parse_node_dump(with_lines(recorded("wk1"), drop="rootfs"), "wk1")


def test_wrong_kind_is_refused() -> None:
    text = recorded("wk1").replace("\tnode\n", "\tinspect\n", 1)
    with pytest.raises(ProbeError, match="unknown format"):
        parse_node_dump(text, "wk1")


def test_unknown_records_are_ignored() -> None:
    dump = parse_node_dump(with_lines(recorded("wk1"), "future\tsomething"), "wk1")
    assert dump.kubelet_user == (996, 996)


# --- versions and the timeline ---------------------------------------------------------------


def test_parse_version() -> None:
    assert parse_version("v1.33.1") == (1, 33, 1)
    assert parse_version("5.14.0-427.13.1.el9_4.x86_64") == (5, 14, 0)
    assert parse_version("6.3") == (6, 3, 0)
    assert parse_version("unknown") is None
    assert runtime_version("cri-o://1.33.0") == ("cri-o", (1, 33, 0))
    assert runtime_version("containerd://2.0.2") == ("containerd", (2, 0, 2))
    assert runtime_version("") == ("", None)


@pytest.mark.parametrize(
    ("kubelet", "state", "gate"),
    [
        ((1, 24, 0), "not supported (user namespaces came in 1.25)", None),
        ((1, 27, 3), "alpha, stateless pods only, gate off by default",
         "UserNamespacesStatelessPodsSupport"),
        ((1, 28, 0), "alpha, gate off by default", "UserNamespacesSupport"),
        ((1, 30, 1), "beta, gate off by default", "UserNamespacesSupport"),
        ((1, 33, 1), "beta, on by default", "UserNamespacesSupport"),
        ((1, 36, 0), "GA, gate locked on", "UserNamespacesSupport"),
    ],
)  # fmt: skip
def test_feature_timeline(kubelet: tuple[int, int, int], state: str, gate: str | None) -> None:
    assert feature_state(kubelet) == state
    if gate:
        assert gate_name(kubelet) == gate


def test_kubelet_versions() -> None:
    good = recorded("wk1")
    assert status(report(context(good, kubelet="v1.24.17")), "kubelet-version") == "FAIL"
    old = report(context(good, kubelet="v1.27.3", config=kubelet_config(feature_gates={})))
    assert status(old, "kubelet-version") == "WARN"
    assert by_id(old)["feature-gate"]["observed"].startswith("UserNamespacesStatelessPodsSupport")
    assert status(old, "feature-gate") == "FAIL"  # off by default in 1.27
    on = report(context(good, kubelet="v1.33.1", config=kubelet_config(feature_gates={})))
    assert by_id(on)["feature-gate"]["observed"] == "UserNamespacesSupport not set, default on"
    assert status(on, "feature-gate") == "PASS"
    ga = report(context(good, kubelet="v1.36.0", config=kubelet_config(feature_gates={})))
    assert by_id(ga)["feature-gate"]["observed"] == "UserNamespacesSupport locked on (GA)"


@pytest.mark.parametrize(
    ("runtime", "kubelet", "expected"),
    [
        ("cri-o://1.25.0", "v1.29.4", "PASS"),  # before 1.30 the kubelet asks nothing
        ("cri-o://1.29.0", "v1.30.0", "FAIL"),  # from 1.30 it asks; CRI-O says so from 1.30.0
        ("cri-o://1.30.0", "v1.30.0", "PASS"),
        ("cri-o://1.24.6", "v1.29.0", "FAIL"),
        ("containerd://2.0.0", "v1.33.1", "PASS"),
        ("containerd://1.7.22", "v1.26.3", "PASS"),
        ("containerd://1.7.22", "v1.30.0", "FAIL"),
        ("containerd://1.6.21", "v1.33.1", "FAIL"),
        ("containerd://1.6.21", "v1.29.0", "FAIL"),
        ("docker://24.0.7", "v1.33.1", "WARN"),
        ("", "v1.33.1", "SKIP"),
    ],
)
def test_container_runtime(runtime: str, kubelet: str, expected: str) -> None:
    rep = report(context(recorded("wk1"), runtime=runtime, kubelet=kubelet))
    assert status(rep, "container-runtime") == expected


def test_container_runtime_says_why() -> None:
    wk1 = recorded("wk1")
    refused = by_id(report(context(wk1, runtime="containerd://1.6.21", kubelet="v1.33.1")))
    assert (
        "kubelet v1.33.1 refuses every hostUsers: false pod"
        in (refused["container-runtime"]["observed"])
    )
    assert "silently" not in refused["container-runtime"]["observed"]
    ignored = by_id(report(context(wk1, runtime="containerd://1.6.21", kubelet="v1.29.0")))
    assert (
        "silently ignores hostUsers: false with kubelets before 1.30"
        in (ignored["container-runtime"]["observed"])
    )
    crio = by_id(report(context(wk1, runtime="cri-o://1.29.0", kubelet="v1.30.0")))
    assert crio["container-runtime"]["observed"].endswith("(CRI-O reports it from 1.30.0)")
    assert crio["container-runtime"]["fix"] == "upgrade CRI-O to 1.30"


def test_runtime_handlers() -> None:
    good = recorded("wk1")
    assert status(report(context(good, handlers=False)), "runtime-handlers") == "FAIL"
    old = report(context(good, handlers=None, kubelet="v1.30.2"))
    assert status(old, "runtime-handlers") == "SKIP"
    assert status(report(context(good, handlers=None)), "runtime-handlers") == "WARN"
    ctx = context(good)
    info = dataclasses.replace(ctx.info, runtime_handlers=(("", True), ("kata", False)))
    mixed = dataclasses.replace(ctx, info=info)
    check = by_id(report(mixed))["runtime-handlers"]
    assert check["status"] == "WARN"
    assert "RuntimeClass handler kata" in check["fix"]


def test_ids_per_pod_is_ignored_before_1_35() -> None:
    config = kubelet_config(ids_per_pod=131072)
    ignored = report(context(recorded("wk1"), kubelet="v1.34.0", config=config))
    assert status(ignored, "ids-per-pod") == "WARN"
    assert ignored["kubelet"]["idsPerPod"] == 65536
    honoured = report(context(recorded("wk1"), kubelet="v1.35.0", config=config))
    assert honoured["kubelet"]["idsPerPod"] == 131072
    # 65536 is not a multiple of 131072: the recorded pool no longer fits
    assert status(honoured, "pool-alignment") == "FAIL"
    assert status(honoured, "pool-size") == "FAIL"  # 55 slots of 131072 IDs
    bad = report(
        context(recorded("wk1"), kubelet="v1.35.0", config=kubelet_config(ids_per_pod=1000))
    )
    assert status(bad, "ids-per-pod") == "FAIL"


# --- the kernel and filesystems --------------------------------------------------------------


def test_old_kernel_without_probe_is_a_warning() -> None:
    rep = report(context(recorded("wk1"), kernel="5.14.0-427.13.1.el9_4.x86_64"))
    check = by_id(rep)["kernel-version"]
    assert check["status"] == "WARN"
    assert "--probe" in check["fix"]


def test_old_kernel_proven_by_probe_passes() -> None:
    rep = report(context(recorded("wk1-probe"), kernel="5.14.0-427.el9.x86_64", probe=True))
    check = by_id(rep)["kernel-version"]
    assert (check["status"], check["source"]) == ("PASS", "probe")
    assert "backported" in check["observed"]


def test_probe_failure_reports_the_kernels_error() -> None:
    text = recorded("wk1-probe").replace(
        "idmap\ttmpfs\tok\ta new tmpfs idmapped: UID 0 shows as 65536",
        "idmap\ttmpfs\tfail\tmount_setattr on a new tmpfs: EINVAL Invalid argument",
    )
    rep = report(context(text, kernel="6.1.0-18-amd64", probe=True))
    found = by_id(rep)
    assert found["idmap-tmpfs"]["status"] == "FAIL"
    assert "EINVAL Invalid argument" in found["idmap-tmpfs"]["observed"]
    assert found["kernel-version"]["status"] == "FAIL"
    assert "6.3" in found["kernel-version"]["fix"]
    assert rep["summary"]["verdict"] == "NOT READY"


def test_probe_userns_enospc_is_explained() -> None:
    text = with_lines(
        recorded("wk1"),
        "idmap\ttool\tok\tpython3.11",
        "idmap\tuserns\tfail\tENOSPC No space left on device",
    )
    found = by_id(report(context(text, probe=True)))
    assert found["idmap-userns"]["status"] == "FAIL"
    assert "max_user_namespaces" in found["idmap-userns"]["observed"]
    assert found["idmap-tmpfs"]["status"] == "SKIP"


def test_probe_without_a_tool_is_skipped_with_the_reason() -> None:
    reason = (
        "no tool here creates idmapped mounts: mount is util-linux 2.38 (X-mount.idmap needs "
        "2.39) and there is no python3"
    )
    text = with_lines(recorded("wk1"), f"idmap\ttool\tskip\t{reason}")
    found = by_id(report(context(text, probe=True)))
    for check_id in ("idmap-userns", "idmap-tmpfs", "idmap-kubelet-root"):
        assert found[check_id]["status"] == "SKIP"
        assert found[check_id]["observed"] == reason


@pytest.mark.parametrize(
    ("fstype", "kernel", "expected"),
    [
        ("ext4", "6.18.44", "PASS"),
        ("xfs", "5.12.0", "PASS"),
        ("btrfs", "5.14.0", "WARN"),
        ("nfs4", "6.18.44", "FAIL"),
        ("zfs", "6.18.44", "WARN"),
    ],
)
def test_kubelet_root_filesystem(fstype: str, kernel: str, expected: str) -> None:
    text = (
        recorded("wk1")
        .replace(
            "rootfs\t/var/lib/kubelet\t/var/lib/kubelet\text4",
            f"rootfs\t/var/lib/kubelet\t/var/lib/kubelet\t{fstype}",
        )
        .replace("kernel\t6.18.44-fc-v669", f"kernel\t{kernel}")
    )
    assert status(report(context(text)), "kubelet-root-fs") == expected


def test_cgroup_v1_fails_where_the_kubelet_refuses_it() -> None:
    hybrid = recorded("hybrid")
    warn = by_id(report(context(hybrid)))["cgroup-version"]
    assert warn["status"] == "WARN"
    assert warn["observed"].startswith("hybrid (v1 with a v2 mount beside it)")
    config = kubelet_config()
    del config["failCgroupV1"]
    assert (
        status(report(context(hybrid, kubelet="v1.35.0", config=config)), "cgroup-version")
        == "FAIL"
    )


# --- the ID pool ---------------------------------------------------------------------------


def test_pool_rules_on_the_documented_example() -> None:
    rules = pool_rules(Pool(65536, 7208960), 65536, 110)
    assert all(rule.ok for rule in rules)
    assert [r.id for r in rules] == [
        "pool-alignment",
        "pool-start",
        "pool-length",
        "pool-size",
        "pool-end",
    ]
    seed = pool_rules(Pool(589824, 7208960), 65536, 110)
    assert all(rule.ok for rule in seed)


def test_pool_rules_catch_each_mistake() -> None:
    failing = {
        r.id
        for pool in (
            Pool(100000, 7208960), Pool(0, 7208960), Pool(65536, 7208961), Pool(65536, 65536),
            Pool(65536, 4294901760),
        )
        for r in pool_rules(pool, 65536, 110)
        if not r.ok
    }  # fmt: skip
    assert failing == {"pool-alignment", "pool-start", "pool-length", "pool-size", "pool-end"}


def test_suggested_pool_passes_and_avoids_other_owners() -> None:
    assert suggest_pool(None, 65536, 110).line() == "kubelet:65536:7208960"
    assert suggest_pool(Pool(100000, 7208960), 65536, 110).line() == "kubelet:131072:7208960"
    assert suggest_pool(Pool(65536, 65536), 65536, 250).line() == "kubelet:65536:16384000"
    clear = suggest_pool(Pool(65536, 65536), 65536, 110, [Pool(100000, 65536)])
    assert clear.line() == "kubelet:196608:7208960"
    assert all(rule.ok for rule in pool_rules(clear, 65536, 110))
    near_top = suggest_pool(Pool(4294901760 - 65536, 65536), 65536, 110)
    assert all(rule.ok for rule in pool_rules(near_top, 65536, 110))


def test_recorded_broken_node() -> None:
    rep = report(
        context(recorded("broken"), pods={"7d1c2a3b-1111-4a2b-9c3d-5e6f7a8b9c0d": "default/stale"})
    )
    found = by_id(rep)
    assert {c for c, v in found.items() if v["status"] == "FAIL"} == {
        "pool-uid-gid", "pool-alignment", "pool-size", "max-user-namespaces", "userns-records",
    }  # fmt: skip
    assert found["pool-overlap"]["status"] == "WARN"
    assert "containers:100000:65536 in /etc/subuid" in found["pool-overlap"]["observed"]
    # the suggested line is aligned, large enough and clear of the containers range
    assert "kubelet:196608:7208960" in found["pool-size"]["fix"]
    assert "default/stale" in found["userns-records"]["observed"]
    line = summary_line(rep)
    assert line.startswith("node wk1: NOT READY for user namespaces - 5 of ")
    assert "(pool-uid-gid, pool-alignment, pool-size, max-user-namespaces, userns-records)" in line


def test_recorded_node_without_getsubids() -> None:
    rep = report(context(recorded("nogetsubids")))
    found = by_id(rep)
    assert found["getsubids"]["status"] == "FAIL"
    # the files still tell the pool, so its rules are checked all the same
    assert found["subid-pool"]["observed"] == "kubelet:65536:7208960 (files; no getsubids)"
    assert found["pool-size"]["status"] == "PASS"


def test_more_than_one_kubelet_range() -> None:
    text = recorded("wk1").replace(
        "subids\tuid\t0\t0: kubelet 65536 7208960",
        "subids\tuid\t0\t0: kubelet 65536 7208960,1: kubelet 8000000 65536",
    )
    check = by_id(report(context(text)))["subid-pool"]
    assert check["status"] == "FAIL"
    assert "the kubelet accepts only one" in check["observed"]


def test_getsubids_finding_nothing_stops_the_kubelet() -> None:
    text = recorded("wk1").replace(
        "subids\tgid\t0\t0: kubelet 65536 7208960", "subids\tgid\t1\tError fetching ranges"
    )
    dump = parse_node_dump(text, "wk1")
    found = kubelet_pool(dump, 65536)
    assert "'getsubids -g kubelet' finds no range (it said: Error fetching ranges)" in found.problem
    rep = by_id(report(context(text)))
    assert rep["subid-pool"]["status"] == "FAIL"
    assert rep["pool-uid-gid"]["status"] == "FAIL"


# --- pod records ---------------------------------------------------------------------------


def record_line(uid: str, host: int, length: int = 65536, inside: int = 0) -> str:
    m = f'[{{"hostId": {host}, "containerId": {inside}, "length": {length}}}]'
    return f'userns\t{uid}\t{{"uidMappings": {m}, "gidMappings": {m}}}'


def test_userns_records_the_kubelet_would_reject() -> None:
    text = with_lines(
        recorded("wk1"),
        record_line("a", 7208960),  # the last slot: inside
        record_line("b", 7274496),  # just past the pool
        record_line("c", 131072, length=131072),
        record_line("d", 4980736),  # the same slot as testpod, whose directory sorts after d
        record_line("e", 196608, inside=1),
        "userns\tf\t{not json",
        "usernsbad\tg\tunreadable",
        record_line("h", 196613),  # not on a slot boundary
        "userns\ti\t",  # empty: a pod without a user namespace
    )
    check = by_id(report(context(text)))["userns-records"]
    assert check["status"] == "FAIL"
    observed = check["observed"]
    assert observed.startswith(
        "7 of 11 record(s) the kubelet rejects at its next restart (it then fails to start): "
    )
    assert "a (" not in observed and "i (" not in observed
    # the kubelet's own words for each (pkg/kubelet/userns/userns_manager.go)
    no_pod = "(no such pod in the API)"
    assert (
        f"b {no_pod}: id 7274496 is out of range (host IDs 7274496-7340031 lie outside the pool)"
    ) in observed
    assert f"c {no_pod}: wrong user namespace length 131072 (idsPerPod is 65536)" in observed
    assert f'range picked for pod "{TESTPOD}" already taken (by d)' in observed
    assert f"e {no_pod}: invalid user namespace configuration: UID 0 must be mapped" in observed
    assert f"f {no_pod}: invalid user namespace mappings file (" in observed
    assert f"g {no_pod}: unreadable" in observed
    assert f"h {no_pod}: wrong user namespace offset specified 196613" in observed
    assert "out of range" not in observed.split(f"c {no_pod}")[1].split(";")[0]


def test_bad_records_with_the_gate_off_do_not_stop_the_kubelet() -> None:
    text = with_lines(recorded("wk1"), record_line("b", 7274496))
    off = kubelet_config(feature_gates={"UserNamespacesSupport": False})
    check = by_id(report(context(text, config=off)))["userns-records"]
    assert check["status"] == "FAIL"
    assert (
        "the kubelet ignores while its user-namespace gate is off and rejects once it is on"
        in (check["observed"])
    )
    pool = by_id(report(context(recorded("broken"), config=off)))
    assert "ignored while the user-namespace gate is off" in pool["pool-alignment"]["observed"]
    on = by_id(report(context(recorded("broken"))))
    assert on["pool-alignment"]["observed"].endswith(": the kubelet fails to start")


def test_a_pool_past_2_32_wraps_to_host_root() -> None:
    line = "kubelet:4294901760:131072"  # the last 65536 IDs, then 65536 more past 2^32
    text = (
        recorded("wk1")
        .replace("kubelet:65536:7208960", line)
        .replace("0: kubelet 65536 7208960", "0: kubelet 4294901760 131072")
    )
    check = by_id(report(context(text, config=kubelet_config(max_pods=2))))["pool-end"]
    assert check["status"] == "FAIL"
    assert check["observed"].endswith(
        "the pool runs 65536 IDs past 2^32, and the kubelet's slots wrap around to low host "
        "IDs, host UID 0 (root) included"
    )


def test_a_kubelet_line_without_a_kubelet_user_is_not_a_failure() -> None:
    text = with_lines(recorded("wk1"), drop="user") + ""
    text = text.replace("subids\tuid\t0\t0: kubelet 65536 7208960", "subids\tuid\t1\t")
    rep = report(context(text.replace("end\n", "nouser\tkubelet\nend\n")))
    found = by_id(rep)
    assert [c["id"] for c in rep["checks"] if c["status"] == "FAIL"] == []
    assert found["kubelet-user"]["observed"].endswith(
        "its kubelet:65536:7208960 line(s) in /etc/subuid and /etc/subgid are not used"
    )
    assert found["subid-pool"]["status"] == "SKIP"


# --- settings from the node ------------------------------------------------------------------


def test_settings_from_the_nodes_config_file_and_command_line() -> None:
    config = (
        b"kind: KubeletConfiguration\nmaxPods: 200\ncgroupDriver: cgroupfs\n"
        b"featureGates:\n  UserNamespacesSupport: false\n"
    )
    args = [
        "/usr/bin/kubelet",
        "--config=/etc/kubernetes/kubelet.yaml",
        "--feature-gates=UserNamespacesSupport=true,Other=false",
        "--max-pods",
        "120",
    ]
    text = with_lines(
        recorded("wk1"),
        "kubeletproc\t4242\tok\t/usr/bin/kubelet",
        *(f"kubeletarg\t4242\t{arg}" for arg in args),
        "kubeletconfig\t/etc/kubernetes/kubelet.yaml\t" + base64.b64encode(config).decode(),
    )
    dump = parse_node_dump(text, "wk1")
    settings = settings_from_node(dump, "403 Forbidden")
    assert settings.source == "node"
    assert (
        settings.origin == "/etc/kubernetes/kubelet.yaml on the node and the kubelet's command line"
    )
    assert settings.feature_gates["UserNamespacesSupport"] is True  # the flag wins
    assert settings.max_pods == 120
    assert settings.cgroup_driver == "cgroupfs"
    assert settings_from_node(parse_node_dump(recorded("wk1"), "wk1"), "x").source == "defaults"
    assert settings_from_node(None, "x").source == "defaults"


# --- node names ------------------------------------------------------------------------------


def test_resolve_node_name() -> None:
    names = ["k8s-fedora-wk1.fedora-amd.home", "k8s-fedora-wk2.fedora-amd.home", "wk2"]
    assert resolve_node_name("wk2", names) == "wk2"  # an exact name wins
    assert resolve_node_name("wk1", names) == "k8s-fedora-wk1.fedora-amd.home"
    assert resolve_node_name("WK1", names) == "k8s-fedora-wk1.fedora-amd.home"
    with pytest.raises(AmbiguousNameError, match=r"matches 2 nodes \(k8s-fedora-wk1"):
        resolve_node_name("fedora", names)
    with pytest.raises(NotFoundError, match="3 node"):
        resolve_node_name("wk3", names)


def test_unreached_node_report() -> None:
    rep = build_report(context(""), node_error="cannot reach node wk1")
    assert rep["summary"]["verdict"] == "INCOMPLETE"
    assert rep["nodeReached"] is False
    assert all(c["source"] == "api" for c in rep["checks"])
    assert "INCOMPLETE - the node was not reached" in summary_line(rep)


def test_dump_type_is_frozen() -> None:
    dump = parse_node_dump(recorded("wk1"), "wk1")
    assert isinstance(dump, NodeDump)
    with pytest.raises(AttributeError):
        dump.kernel = "x"  # type: ignore[misc]


# --- OCI runtimes ------------------------------------------------------------------------------

CRUN_OK = "runtime\tcrun\t/usr/bin/crun\tcrun version 1.14.4"
RUNC_OLD = "runtime\trunc\t/usr/sbin/runc\trunc version 1.1.12"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["runtime\tcrun\t/usr/bin/crun\tcrun version 1.14.4"], "PASS"),
        (["runtime\trunc\t/usr/sbin/runc\trunc version 1.2.0"], "PASS"),
        (["runtime\tcrun\t/usr/bin/crun\tcrun version 1.10"], "WARN"),
        (["runtime\tcrun\t/usr/bin/crun\tcrun version 1.8.5"], "FAIL"),
        (["runtime\trunc\t/usr/sbin/runc\trunc version 1.1.12"], "FAIL"),
        ([CRUN_OK, RUNC_OLD], "WARN"),
        ([CRUN_OK, RUNC_OLD, "runtimeconf\t/etc/crio/crio.conf\tdefault_runtime\trunc"], "FAIL"),
        (["runtime\tcrun\t/usr/bin/crun\tsomething else"], "WARN"),
    ],
)  # fmt: skip
def test_oci_runtime_versions(lines: list[str], expected: str) -> None:
    check = by_id(report(context(with_lines(recorded("wk1"), *lines))))["oci-runtime"]
    assert check["status"] == expected
    if expected != "PASS":
        assert check["fix"]
