"""The pure parts of inspect's judgement: pod facts from untrusted API objects, process roles
from cgroup paths, idsPerPod by kubelet version, the check catalogue."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_userns.checks.idmap import IdMapping
from kubectl_userns.checks.pod import (
    CATALOGUE,
    classify,
    ids_per_pod_in_force,
    pod_facts,
)
from kubectl_userns.probe.pod_dump import ProcessInfo

SANDBOX = "a" * 64
CID = "b" * 64
POD = "/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podx.slice"


def proc(pid: int, cgroup: str, comm: str = "sleep") -> ProcessInfo:
    mapping = (IdMapping(0, 655360, 65536),)
    ids = (655360,) * 4
    return ProcessInfo(pid, cgroup, ids, ids, mapping, mapping, "user:[1]", comm, "")


def pod(annotations: Any = None, statuses: Any = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "namespace": "ns", "uid": "u-1"}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": {}, "status": {"containerStatuses": statuses or []}}


def test_roles_from_cgroups() -> None:
    facts = pod_facts(pod(statuses=[{"name": "app", "containerID": f"containerd://{CID}"}]))
    found = classify(
        facts,
        (
            proc(1, f"{POD}/cri-containerd-{SANDBOX}.scope", "pause"),
            proc(2, f"{POD}/cri-containerd-{CID}.scope"),
            proc(3, f"{POD}/crio-conmon-{SANDBOX}.scope", "conmon"),
            proc(4, f"{POD}/crio-{SANDBOX}.scope/container", "pause"),
            proc(5, f"{POD}/{SANDBOX}", "pause"),  # cgroupfs containerd
            proc(6, f"{POD}/something-else"),
        ),
    )
    assert [(c.process.pid, c.role) for c in found] == [
        (2, "app"),
        (1, "sandbox"),
        (4, "sandbox"),
        (5, "sandbox"),
        (3, "conmon"),
        (6, "infra"),
    ]
    assert {c.container_id for c in found if c.role == "sandbox"} == {SANDBOX}


def test_static_pod_uses_the_mirror_hash_only_when_it_is_one() -> None:
    digest = "0123456789abcdef0123456789abcdef"
    assert pod_facts(pod({"kubernetes.io/config.mirror": digest})).node_uid == digest
    assert pod_facts(pod({"kubernetes.io/config.mirror": "../../etc"})).node_uid == "u-1"
    assert pod_facts(pod({"kubernetes.io/config.mirror": "mirror"})).node_uid == "u-1"


# no time limits: the suite must not depend on the machine's load
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@RELAXED
@given(
    st.one_of(
        st.none(),
        st.dictionaries(st.text(max_size=40), st.one_of(st.text(max_size=80), st.integers())),
        st.lists(st.text(max_size=5)),
    )
)
def test_any_annotations_give_facts_with_a_safe_node_uid(annotations: Any) -> None:
    raw = pod(annotations if isinstance(annotations, dict) or annotations is None else {})
    facts = pod_facts(raw)
    assert facts.node_uid == "u-1" or set(facts.node_uid) <= set("0123456789abcdef")


@RELAXED
@given(st.text(max_size=200), st.text(max_size=12))
def test_any_cgroup_path_gets_a_role(cgroup: str, comm: str) -> None:
    (found,) = classify(pod_facts(pod()), (proc(1, cgroup, comm),))
    assert found.role in ("app", "sandbox", "conmon", "infra")


def test_ids_per_pod_by_kubelet_version_and_records() -> None:
    config = {"userNamespaces": {"idsPerPod": 131072}}
    assert ids_per_pod_in_force(config, "", "v1.35.2").value == 131072
    old = ids_per_pod_in_force(config, "", "v1.34.0")
    assert (old.value, old.source) == (
        65536,
        "kubelet v1.34.0 ignores configz idsPerPod 131072 (honoured from 1.35)",
    )
    blind = ids_per_pod_in_force(None, "forbidden", "v1.36.0", (131072, 131072))
    assert (blind.value, blind.source) == (
        131072,
        "the kubelet's records on the node (configz: forbidden)",
    )
    assert ids_per_pod_in_force(None, "forbidden", "v1.33.0", ()).value == 65536
    assert ids_per_pod_in_force({}, "", "v1.36.0").source == "default (configz sets no idsPerPod)"
    assert ids_per_pod_in_force({"userNamespaces": {"idsPerPod": True}}, "", "").value == 65536


def test_every_check_names_what_it_reads_and_its_source() -> None:
    from kubectl_userns.checks.pod import rules  # noqa: F401

    assert len({(c.id, c.pods) for c in CATALOGUE}) == len(CATALOGUE)
    for entry in CATALOGUE:
        assert entry.reads and entry.rule and entry.source, entry.id
