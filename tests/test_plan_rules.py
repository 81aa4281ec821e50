"""The plan's rules on recorded API objects (pure functions, no cluster), and a property test:
API objects are written by kubelets, controllers and anyone with pods/status - whatever their
shape, the plan gives a report, never another exception."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_userns.checks.plan import build_plan, node_problems, spec_blockers, workload_of


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c"}], **spec},
        "status": {"phase": "Running"},
    }


def _fields(found: list[dict[str, Any]], severity: str) -> list[str]:
    return [f["field"] for f in found if f["severity"] == severity]


def test_ids_outside_the_pods_range_are_blockers_where_they_are_set() -> None:
    pod = _pod(
        securityContext={"fsGroup": 65536, "supplementalGroups": [10, 131072], "runAsUser": 1000},
        containers=[{"name": "c", "securityContext": {"runAsGroup": 65535}}],
    )
    assert _fields(spec_blockers(pod, ids_per_pod=65536), "blocker") == [
        "spec.securityContext.fsGroup",
        "spec.securityContext.supplementalGroups",
    ]
    # a kubelet with idsPerPod 131072 gives the pod room for them
    assert _fields(spec_blockers(pod, ids_per_pod=262144), "blocker") == []


def test_the_image_user_the_kubelet_reports_counts() -> None:
    pod = _pod()
    pod["status"]["containerStatuses"] = [{"name": "c", "user": {"linux": {"uid": 100000}}}]
    (found,) = spec_blockers(pod, ids_per_pod=65536)
    assert found["field"] == "spec.containers[0] (image USER)"
    assert "runs as UID 100000" in found["reason"]


def test_volumes_by_what_the_node_can_idmap() -> None:
    pod = _pod(
        volumes=[
            {"name": "s", "secret": {"secretName": "x"}},
            {"name": "h", "emptyDir": {"medium": "HugePages-2Mi"}},
            {"name": "n", "nfs": {"server": "a", "path": "/"}},
        ],
        containers=[{"name": "c", "volumeDevices": [{"name": "b", "devicePath": "/dev/b"}]}],
    )
    old = spec_blockers(pod, ids_per_pod=65536, kernel=(5, 15))
    assert _fields(old, "blocker") == ["spec.containers[0].volumeDevices", "spec.volumes[2].nfs"]
    assert _fields(old, "warning") == ["spec.volumes[0].secret", "spec.volumes[1].emptyDir"]
    new = spec_blockers(pod, ids_per_pod=65536, kernel=(6, 12))
    assert _fields(new, "warning") == []


def test_windows_and_host_namespaces_block() -> None:
    found = spec_blockers(_pod(os={"name": "windows"}, hostPID=True), ids_per_pod=65536)
    assert _fields(found, "blocker") == ["spec.os.name", "spec.hostPID"]


def test_owners_through_their_controllers() -> None:
    rs = {"metadata": {"uid": "r", "ownerReferences": [{"kind": "Deployment", "name": "web"}]}}
    pod = _pod()
    pod["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "web-1", "uid": "r"}]
    assert workload_of(pod, {"r": rs}, {}) == ("Deployment", "web")
    assert workload_of(pod, {}, {}) == ("ReplicaSet", "web-1")
    mirror = _pod()
    mirror["metadata"].update(
        name="kube-apiserver-n1", annotations={"kubernetes.io/config.mirror": "abc"}
    )
    assert workload_of(mirror, {}, {}) == ("StaticPod", "kube-apiserver")


def test_a_node_without_userns_support_in_its_handler_is_not_ready() -> None:
    node = {
        "metadata": {"name": "n1"},
        "status": {
            "nodeInfo": {"kubeletVersion": "v1.33.2", "operatingSystem": "linux"},
            "runtimeHandlers": [{"name": "", "features": {"userNamespaces": False}}],
        },
    }
    assert "no runtime handler reports userNamespaces support" in node_problems(node)[0]
    node["status"]["runtimeHandlers"][0]["features"]["userNamespaces"] = True
    assert node_problems(node) == []
    del node["status"]["runtimeHandlers"]  # a runtime that reports none (CRI-O 1.29)
    assert "no runtime handler" in node_problems(node)[0]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(
        st.sampled_from(
            ["metadata", "spec", "status", "name", "namespace", "uid", "ownerReferences", "kind",
             "hostUsers", "hostNetwork", "containers", "securityContext", "runAsUser", "volumes",
             "nfs", "nodeName", "annotations", "os", "containerStatuses", "user", "linux",
             "capabilities", "add", "runtimeHandlers", "features", "nodeInfo"]
        ),
        inner,
        max_size=6,
    ),
    max_leaves=30,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    pods=st.lists(JSON_VALUES, max_size=4),
    nodes=st.lists(JSON_VALUES, max_size=3),
    rows=st.none() | st.lists(JSON_VALUES, max_size=3),
)
def test_any_api_objects_give_a_plan(pods: list[Any], nodes: list[Any], rows: Any) -> None:
    def objects(values: list[Any]) -> list[dict[str, Any]]:
        return [v for v in values if isinstance(v, dict)]

    plan = build_plan(
        objects(pods),
        nodes=objects(nodes),
        audit_rows=None if rows is None else objects(rows),
    )
    assert plan["summary"]["exitCode"] in (0, 1, 3)


def test_pods_and_jobs_are_replaced_other_owners_are_named() -> None:
    pod = _pod()
    job = _pod()
    job["metadata"].update(name="j-1", uid="j", ownerReferences=[{"kind": "Job", "name": "j"}])
    rollout = _pod()
    rollout["metadata"].update(
        name="r-1", uid="r", ownerReferences=[{"kind": "Rollout", "name": "r"}]
    )
    plan = {w["name"]: w for w in build_plan([pod, job, rollout])["workloads"]}
    assert plan["p"]["convertCommand"].endswith("| kubectl replace --force -f -")
    assert plan["j"]["convertCommand"].endswith("| kubectl replace --force -f -")
    assert plan["r"]["readiness"] == "blocked" and plan["r"]["convertCommand"] is None
    assert "owned by a Rollout" in plan["r"]["blockers"][0]["reason"]
