"""The plan's rules on recorded API objects (pure functions, no cluster), and a property test:
API objects are written by kubelets, controllers and anyone with pods/status - whatever their
shape, the plan gives a report, never another exception."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import example, given, settings
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


# The property test's objects: one of the shapes below (together they hold every field the rules
# read) with up to four edits, each at any place in it - the field or list item deleted, or
# replaced by a value the rules compare against or, one edit in thirty, by any JSON value. Drawing
# whole objects as random JSON trees instead reached no container, volume or status field in
# 300 examples; edits of whole shapes reach all of them, with a quarter of the choices
# (bench/test_suite_speed.md, "Hypothesis tests").
KEYS = ["metadata", "spec", "status", "name", "namespace", "uid", "ownerReferences", "kind",
        "hostUsers", "hostNetwork", "containers", "securityContext", "runAsUser", "volumes",
        "nfs", "nodeName", "annotations", "os", "containerStatuses", "user", "linux",
        "capabilities", "add", "runtimeHandlers", "features", "nodeInfo"]  # fmt: skip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6)
    ),
    max_leaves=8,
)
_CONTEXT = {
    "runAsUser": 1000, "runAsGroup": 65536, "fsGroup": 2000, "supplementalGroups": [10, 131072],
    "privileged": True, "capabilities": {"add": ["SYS_ADMIN", "CAP_NET_ADMIN", "chown"]},
}  # fmt: skip
POD_SHAPES: list[dict[str, Any]] = [
    {
        "metadata": {"name": "web-1", "namespace": "default", "uid": "u1", "ownerReferences": [
            {"kind": "ReplicaSet", "name": "web", "uid": "r", "controller": True}]},
        "spec": {
            "nodeName": "n1", "securityContext": _CONTEXT,
            "containers": [{"name": "c", "securityContext": _CONTEXT, "volumeDevices": [{}]}],
            "initContainers": [{"name": "i", "securityContext": {"runAsUser": 70000}}],
            "volumes": [
                {"name": "s", "secret": {}}, {"name": "e", "emptyDir": {"medium": "Memory"}},
                {"name": "h", "emptyDir": {"medium": "HugePages-2Mi"}}, {"name": "n", "nfs": {}},
                {"name": "p", "hostPath": {"path": "/"}}, {"name": "x", "cephfs": {}},
            ],
        },
        "status": {
            "containerStatuses": [{"name": "c", "user": {"linux": {"uid": 100000}}}],
            "initContainerStatuses": [{"name": "i"}],
        },
    },
    {
        "metadata": {"name": "etcd-n2", "namespace": "kube-system", "uid": "u2",
                     "annotations": {"kubernetes.io/config.mirror": "x"},
                     "ownerReferences": [{"kind": "Node", "name": "n2"}]},
        "spec": {"nodeName": "n2", "hostNetwork": True, "hostPID": True, "hostIPC": True,
                 "os": {"name": "windows"}, "containers": [{"name": "c"}]},
    },
    {
        "metadata": {"name": "j-1", "uid": "u3", "ownerReferences": [
            {"kind": "Job", "name": "j", "uid": "j"}, {"kind": "Rollout", "name": "r"}]},
        "spec": {"nodeName": "n1", "hostUsers": False, "containers": [{"name": "c"}]},
    },
]  # fmt: skip
NODE_SHAPES: list[dict[str, Any]] = [
    {"metadata": {"name": "n1"}, "status": {
        "nodeInfo": {"kubeletVersion": "v1.33.2", "operatingSystem": "linux",
                     "kernelVersion": "5.15.0"},
        "runtimeHandlers": [{"name": "", "features": {"userNamespaces": True}}, {"name": "crun"}],
    }},
    {"metadata": {"name": "n2"}, "status": {"nodeInfo": {
        "kubeletVersion": "v1.24.1", "operatingSystem": "windows", "kernelVersion": "6.12"}}},
]  # fmt: skip
ROW_SHAPES: list[dict[str, Any]] = [  # kubectl userns audit's rows (docs/audit-report.md)
    {"uid": "u1", "node": "n1", "namespace": "default", "name": "web-1", "verdict": "ISOLATED",
     "hostRange": [65536, 131071], "failedChecks": ["a"],
     "kubeletPool": {"first": 65536, "last": 4294967295}},
    {"uid": "u3", "node": "n1", "verdict": "NOT ISOLATED", "hostRange": [0, 65535],
     "failedChecks": ["b", 1]},
]  # fmt: skip
VALUES = [
    None, True, False, 0, -1, 65535, 65536, 2**32, 2**63, 1.5, float("nan"), "", "windows",
    "Memory", "HugePages", "ReplicaSet", "Deployment", "Job", "CronJob", "Node", "ISOLATED",
    "v1.30.0", "6.3", "SYS_PTRACE", [], {}, [[]], {"kind": None},
]  # fmt: skip
_DELETE = object()
_WHAT = [_DELETE, *VALUES]


@st.composite
def _edit(draw: st.DrawFn) -> tuple[int, Any]:
    """(where: an index into the object's places, modulo their number; what: _DELETE or a value).

    One number for both: two draws per edit made Hypothesis spend half again as many choices."""
    where, what = divmod(draw(st.integers(0, 10**4 * (len(_WHAT) + 1) - 1)), len(_WHAT) + 1)
    return where, _WHAT[what] if what < len(_WHAT) else draw(JSON_VALUES)


def _places(value: Any) -> list[tuple[Any, Any]]:
    """Every (dict or list, key or index) in ``value``, outermost first."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    found = []
    for key, child in items:
        found.append((value, key))
        if isinstance(child, dict | list):
            found += _places(child)
    return found


def _edited(shape: dict[str, Any], edits: list[tuple[int, Any]]) -> dict[str, Any]:
    obj = copy.deepcopy(shape)
    for where, what in edits:
        places = _places(obj)
        if not places:
            break
        parent, key = places[where % len(places)]
        if what is _DELETE:
            del parent[key]
        else:
            parent[key] = copy.deepcopy(what)
    return obj


def _api_objects(shapes: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(_edited, st.sampled_from(shapes), st.lists(_edit(), max_size=4))


@settings(max_examples=300, deadline=None)
@given(
    pods=st.lists(_api_objects(POD_SHAPES), max_size=4),
    nodes=st.lists(_api_objects(NODE_SHAPES), max_size=3),
    rows=st.none() | st.lists(_api_objects(ROW_SHAPES), max_size=3),
)
# TypeErrors found by this test (or next to what it found), fixed in checks/plan
@example(pods=[{"spec": {"containers": [{"name": []}]}}], nodes=[], rows=None)
@example(pods=[{"status": {"containerStatuses": [{"name": {}}]}}], nodes=[], rows=None)
@example(pods=[{"status": {"initContainerStatuses": 5}}], nodes=[], rows=None)
@example(
    pods=[{"metadata": {"uid": "u"}, "spec": {"hostUsers": False}}],
    nodes=[],
    rows=[{"uid": "u", "failedChecks": True}],
)
@example(
    pods=[],
    nodes=[{"status": {"nodeInfo": {"kubeletVersion": "v1.33.2"}, "runtimeHandlers": 1}}],
    rows=None,
)
def test_any_api_objects_give_a_plan(
    pods: list[dict[str, Any]], nodes: list[dict[str, Any]], rows: list[dict[str, Any]] | None
) -> None:
    plan = build_plan(pods, nodes=nodes, audit_rows=rows)
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
