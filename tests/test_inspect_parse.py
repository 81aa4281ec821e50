"""The inspect probe's reader and the checks, on recorded real probe output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubectl_userns.checks.idmap import IdMapping
from kubectl_userns.checks.pod import build_report, pod_facts
from kubectl_userns.errors import ProbeError
from kubectl_userns.probe.pod_dump import parse_pod_dump

DATA = Path(__file__).parent / "data" / "inspect"


def load(name: str) -> tuple[dict[str, object], str]:
    pod = json.loads((DATA / f"{name}.pod.json").read_text())
    return pod, (DATA / f"{name}.probe.txt").read_text()


def report_for(name: str, text: str | None = None) -> dict[str, object]:
    pod, recorded = load(name)
    facts = pod_facts(pod)
    dump = parse_pod_dump(text if text is not None else recorded, facts.uid, "node")
    return build_report(facts, dump, ids_per_pod=65536, ids_source="default")


def statuses(report: dict[str, object]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["checks"]}  # type: ignore[attr-defined]


def test_testpod_dump_parses_into_processes_and_records() -> None:
    pod, text = load("testpod")
    dump = parse_pod_dump(text, pod["metadata"]["uid"], "wk2")  # type: ignore[index]
    assert dump.pod_dir is not None and dump.pod_dir.endswith(
        "kubepods-besteffort-pode33ed7f7_0c89_42a5_9956_94a0a1761b23.slice"
    )
    apps = [p for p in dump.processes if p.uids[0] == 4980736]
    assert len(apps) == 1
    assert apps[0].uid_map == (IdMapping(0, 4980736, 65536),)
    assert dump.record is not None and dump.record.uid_mappings == apps[0].uid_map
    assert dump.host_userns.startswith("user:[")


@pytest.mark.parametrize("name", ["testpod", "web", "hp"])
def test_recorded_isolated_pods_pass_every_check(name: str) -> None:
    report = report_for(name)
    assert set(statuses(report).values()) == {"PASS"}, report["checks"]
    roles = {p["role"] for p in report["processes"]}  # type: ignore[attr-defined]
    assert "app" in roles


def test_web_has_two_containers_sharing_one_namespace() -> None:
    report = report_for("web")
    apps = [p for p in report["processes"] if p["role"] == "app"]  # type: ignore[attr-defined]
    assert sorted(p["container"] for p in apps) == ["nginx", "sidecar"]
    assert len({p["userNamespace"] for p in apps}) == 1
    conmons = [p for p in report["processes"] if p["role"] == "conmon"]  # type: ignore[attr-defined]
    assert len(conmons) == 2 and all(p["uid"] == 0 for p in conmons)


def test_host_users_pod_fails_and_flags_host_root() -> None:
    report = report_for("hostpod")
    assert statuses(report) == {"user-namespace-requested": "FAIL", "no-host-root": "FAIL"}
    assert report["summary"]["result"] == "FAIL"  # type: ignore[index]


def test_a_different_kubelet_record_fails() -> None:
    _, text = load("testpod")
    changed = text.replace('"hostId": 4980736', '"hostId": 5046272')
    assert statuses(report_for("testpod", changed))["kubelet-record"] == "FAIL"


def test_missing_record_is_a_warning() -> None:
    _, text = load("testpod")
    lines = [line for line in text.splitlines() if not line.startswith("record\t")]
    uid = "e33ed7f7-0c89-42a5-9956-94a0a1761b23"
    lines.insert(-1, f"norecord\t{uid}\tmissing")
    report = report_for("testpod", "\n".join(lines) + "\n")
    assert statuses(report)["kubelet-record"] == "WARN"
    assert report["summary"]["result"] == "PASS"  # type: ignore[index]


def test_an_overlapping_neighbour_fails() -> None:
    _, text = load("testpod")
    neighbour = (
        'otherrecord\tabc\t{"uidMappings": [{"hostId": 4980736, "containerId": 0, "length": '
        '65536}], "gidMappings": [{"hostId": 4980736, "containerId": 0, "length": 65536}]}'
    )
    lines = text.splitlines()
    lines.insert(-1, neighbour)
    check = next(
        c
        for c in report_for("testpod", "\n".join(lines) + "\n")["checks"]  # type: ignore[attr-defined]
        if c["id"] == "no-overlap"
    )
    assert check["status"] == "FAIL" and "pod abc" in check["detail"]


def test_a_vanished_process_is_noted_not_failed() -> None:
    _, text = load("testpod")
    lines = text.splitlines()
    lines.insert(-1, "gone\te33ed7f7-0c89-42a5-9956-94a0a1761b23\t999999\t/sys/fs/cgroup/x")
    report = report_for("testpod", "\n".join(lines) + "\n")
    assert report["vanishedPIDs"] == [999999]
    assert report["summary"]["result"] == "PASS"  # type: ignore[index]


def test_truncated_output_is_a_probe_error() -> None:
    _, text = load("testpod")
    cut = "\n".join(text.splitlines()[:-3]) + "\n"
    with pytest.raises(ProbeError) as caught:
        report_for("testpod", cut)
    assert "cut short" in caught.value.message
    assert caught.value.exit_code == 3


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("\t0 4980736 65536\t", "\t0 4980736\t", "an ID map line has three numbers"),
        ("\tsleep\t", "\t\t", None),
    ],
)
def test_malformed_process_records(old: str, new: str, message: str | None) -> None:
    pod, text = load("testpod")
    assert old in text
    broken = text.replace(old, new, 1)
    if message is None:  # an empty comm is odd but harmless
        report_for("testpod", broken)
        return
    # only the pod the record is about is unreadable: the output as a whole is not rejected
    dump = parse_pod_dump(broken, pod["metadata"]["uid"], "wk2")  # type: ignore[index]
    (problem,) = dump.malformed
    assert message in problem and problem.startswith("line ")
    other = parse_pod_dump(broken, "another-pod", "wk2")
    assert other.malformed == ()


def test_garbage_instead_of_probe_output() -> None:
    with pytest.raises(ProbeError) as caught:
        report_for("testpod", "Welcome to the node!\nlast login: yesterday\n")
    assert "printed no probe header" in caught.value.message
    with pytest.raises(ProbeError):
        report_for("testpod", "")


def test_non_numeric_uid_line() -> None:
    pod, text = load("testpod")
    broken = text.replace("\t4980736 4980736 4980736 4980736\t", "\tx y z w\t", 1)
    dump = parse_pod_dump(broken, pod["metadata"]["uid"], "wk2")  # type: ignore[index]
    assert any("Uid should be four numbers" in m for m in dump.malformed)


def test_the_kubelets_pool_is_data_whatever_its_source() -> None:
    """kubeletPool carries the pool the subid-pool check judges by, from getsubids, else
    /etc/subuid, else the default pool (kubernetes pkg/kubelet/kubelet_pods.go
    getKubeletMappings) - with the same sentence the check says."""
    import dataclasses

    from kubectl_userns.checks.idmap import SubIdRange

    pod, text = load("testpod")
    facts = pod_facts(pod)
    dump = parse_pod_dump(text, facts.uid, "node")
    subuid = (SubIdRange(65536, 7208960),)
    cases = {
        "getsubids": dataclasses.replace(dump, getsubids_uid=subuid, subuid=()),
        "/etc/subuid": dataclasses.replace(dump, getsubids_uid=None, subuid=subuid),
        "default": dataclasses.replace(dump, has_kubelet_user=False, subuid=subuid),
    }
    for source, case in cases.items():
        report = build_report(facts, case, ids_per_pod=65536, ids_source="default")
        pool = report["kubeletPool"]
        assert pool["source"] == source  # type: ignore[index]
        first, count = (65536, 2**32 - 65536) if source == "default" else (65536, 7208960)
        expected = {"first": first, "last": first + count - 1, "count": count}
        assert {k: pool[k] for k in expected} == expected  # type: ignore[index]
        assert pool["ranges"] == [expected]  # type: ignore[index]
        check = next(c for c in report["checks"] if c["id"] == "subid-pool")  # type: ignore[attr-defined]
        assert check["detail"].endswith(f"from {pool['sourceDetail']}")  # type: ignore[index]
