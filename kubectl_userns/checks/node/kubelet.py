"""Kubelet and feature gate: the kubelet's version, its configuration, the user-namespace gate,
``idsPerPod`` and the kubelet's root directory (userns-facts.md, sections 1 and 2)."""

from __future__ import annotations

from kubectl_userns.checks.kubelet_root import (
    DEFAULT_ROOT,
    ROOT_HINT,
    missing_root,
    root_source,
    running_root,
)
from kubectl_userns.checks.node.catalogue import (
    API,
    FAIL,
    KUBELET,
    NODE,
    PASS,
    SKIP,
    WARN,
    Check,
    register,
)
from kubectl_userns.checks.node.facts import UNIT, Context, Version, show_minor
from kubectl_userns.probe.kubelet_records import KubeletRoot

KEP = "KEP-127 (kubernetes/enhancements keps/sig-node/127-user-namespaces)"

# --- the feature's timeline (userns-facts.md, section 1) --------------------------------------


def gate_name(kubelet: Version) -> str:
    return (
        "UserNamespacesSupport" if kubelet[:2] >= (1, 28) else "UserNamespacesStatelessPodsSupport"
    )


def feature_state(kubelet: Version) -> str:
    minor = kubelet[:2]
    if minor < (1, 25):
        return "not supported (user namespaces came in 1.25)"
    if minor < (1, 28):
        return "alpha, stateless pods only, gate off by default"
    if minor < (1, 30):
        return "alpha, gate off by default"
    if minor < (1, 33):
        return "beta, gate off by default"
    if minor < (1, 36):
        return "beta, on by default"
    return "GA, gate locked on"


def gate_default(kubelet: Version) -> bool:
    return kubelet[:2] >= (1, 33)


def userns_gate_on(ctx: Context) -> bool | None:
    """Whether the kubelet runs with its user-namespace gate on (None: not known).

    With the gate off the kubelet neither validates its ID pool nor reads the pod records:
    getKubeletMappings returns the default pool and MakeUserNsManager reads no records
    (kubernetes pkg/kubelet/kubelet_pods.go, pkg/kubelet/userns/userns_manager.go).
    """
    kubelet = ctx.kubelet
    if kubelet is None or kubelet[:2] < (1, 25):
        return None
    if kubelet[:2] >= (1, 36):
        return True
    configured = ctx.settings.feature_gates.get(gate_name(kubelet))
    if configured is not None:
        return configured
    if ctx.settings.source == "defaults" and not gate_default(kubelet):
        return None  # the config was not read: it may well turn the gate on
    return gate_default(kubelet)


def start_effect(ctx: Context) -> str:
    """What a bad pool or record does to the kubelet, given its gate."""
    gate = userns_gate_on(ctx)
    if gate is False:
        return (
            "ignored while the user-namespace gate is off; with it on, the kubelet fails to start"
        )
    if gate is None:
        return "with the user-namespace gate on, the kubelet fails to start"
    return "the kubelet fails to start"


# --- the checks --------------------------------------------------------------------------------


@register(
    "node-os",
    area=KUBELET,
    source=API,
    reads=("Node status.nodeInfo.operatingSystem", "else the kubernetes.io/os label"),
    expects="linux (user namespaces are a Linux kernel feature; the API refuses hostUsers on "
    "Windows pods); on another OS no other check runs and the node is not contacted",
    upstream=(
        KEP,
        "kubernetes/kubernetes pkg/apis/core/validation/validation.go (validateWindows)",
        "kubernetes/kubernetes pkg/kubelet/nodestatus/setters.go (GoRuntime)",
    ),
)
def operating_system(ctx: Context) -> Check:
    text = ctx.info.operating_system or "linux (not reported)"
    if ctx.info.is_linux:
        return Check("node-os", PASS, text, "linux", API)
    return Check(
        "node-os",
        FAIL,
        f"{text}: user namespaces are Linux only",
        "linux",
        API,
        "schedule hostUsers: false pods to Linux nodes (nodeSelector kubernetes.io/os: linux)",
    )


@register(
    "kubelet-version",
    area=KUBELET,
    source=API,
    reads=("Node status.nodeInfo.kubeletVersion",),
    expects=">= 1.30 (from 1.30 a pod the runtime cannot isolate fails instead of running "
    "without a user namespace); 1.33+ has the feature on by default",
    upstream=(KEP, "kubernetes/kubernetes pkg/features/kube_features.go"),
)
def kubelet_version(ctx: Context) -> Check:
    text = ctx.info.kubelet_version or "(not reported)"
    expected = ">= 1.30 (1.33+: on by default)"
    kubelet = ctx.kubelet
    if kubelet is None:
        return Check(
            "kubelet-version", WARN, text, expected, API, "check the kubelet's version by hand"
        )
    state = feature_state(kubelet)
    observed = f"{ctx.info.kubelet_version}: {state}"
    if kubelet[:2] < (1, 25):
        return Check(
            "kubelet-version",
            FAIL,
            observed,
            expected,
            API,
            "upgrade the node to Kubernetes 1.33 or later (user namespaces on by default)",
        )
    if kubelet[:2] < (1, 30):
        return Check(
            "kubelet-version",
            WARN,
            observed,
            expected,
            API,
            "upgrade to Kubernetes 1.33 or later: before 1.30 a pod can silently run without a "
            "user namespace when the runtime lacks support",
        )
    return Check("kubelet-version", PASS, observed, expected, API)


@register(
    "kubelet-config",
    area=KUBELET,
    source=API,
    reads=("GET /api/v1/nodes/NODE/proxy/configz", "else the node's kubelet config file"),
    expects="/configz readable through the API (get on nodes/proxy)",
    upstream=("kubernetes/kubernetes pkg/kubelet/server/server.go (/configz)",),
    reports=(NODE,),
)
def kubelet_config(ctx: Context) -> Check:
    s = ctx.settings
    expected = "/configz readable through the API"
    if s.source == "configz":
        return Check("kubelet-config", PASS, "/configz read", expected, API)
    grant = (
        "grant 'get' on nodes/proxy to read /configz through the API"
        if "403" in s.configz_problem
        else "make the API server's node proxy reach the kubelet (port 10250)"
    )
    if s.source == "node":
        return Check(
            "kubelet-config",
            WARN,
            f"/configz unavailable ({s.configz_problem}); used {s.origin}",
            expected,
            NODE,
            grant,
        )
    if ctx.dump is None:
        where = "the node was not read"
    elif ctx.dump.kubelet_pid is None:
        where = "no running kubelet found on the node to take its --config from"
    elif ctx.dump.kubelet_config_problem:
        where = (
            f"the kubelet's --config {ctx.dump.kubelet_config_path} is "
            f"{ctx.dump.kubelet_config_problem}"
        )
    else:
        where = "the running kubelet has no --config file"
    return Check(
        "kubelet-config",
        WARN,
        f"/configz unavailable ({s.configz_problem}); {where}; kubelet defaults assumed",
        expected,
        API,
        grant,
    )


@register(
    "feature-gate",
    area=KUBELET,
    source=API,
    reads=("kubelet version", "kubelet featureGates (/configz, config file, --feature-gates)"),
    expects="UserNamespacesSupport (before 1.28 UserNamespacesStatelessPodsSupport) on; "
    "default on from 1.33, locked on from 1.36",
    upstream=(KEP, "kubernetes/kubernetes pkg/features/kube_features.go"),
    reports=(NODE,),
)
def feature_gate(ctx: Context) -> Check:
    kubelet = ctx.kubelet
    if kubelet is None or kubelet[:2] < (1, 25):
        return Check(
            "feature-gate", SKIP, "no usable kubelet version", "the user namespace gate on", API
        )
    name = gate_name(kubelet)
    expected = f"{name}=true"
    fix = (
        f"set featureGates: {{{name}: true}} in the kubelet configuration and restart the "
        "kubelet (the kube-apiserver needs the same gate before 1.33)"
    )
    if kubelet[:2] >= (1, 36):
        return Check("feature-gate", PASS, f"{name} locked on (GA)", expected, API)
    configured = ctx.settings.feature_gates.get(name)
    default = gate_default(kubelet)
    if ctx.settings.source == "defaults":
        observed = f"unknown (config unreadable); default for {show_minor(kubelet)}: " + (
            "on" if default else "off"
        )
        return Check("feature-gate", WARN, observed, expected, API, "" if default else fix)
    src = ctx.settings_source
    if configured is None:
        observed = f"{name} not set, default " + ("on" if default else "off")
        return Check(
            "feature-gate",
            PASS if default else FAIL,
            observed,
            expected,
            src,
            "" if default else fix,
        )
    observed = f"{name}={str(configured).lower()}"
    return Check(
        "feature-gate",
        PASS if configured else FAIL,
        observed,
        expected,
        src,
        "" if configured else fix,
    )


@register(
    "ids-per-pod",
    area=KUBELET,
    source=API,
    reads=("kubelet userNamespaces.idsPerPod", "kubelet version"),
    expects=f"a multiple of {UNIT}; honoured from 1.35 (1.33/1.34 use {UNIT})",
    upstream=(
        "kubernetes/kubernetes pkg/kubelet/apis/config/validation/validation.go",
        "kubernetes#133373 (CHANGELOG-1.35)",
    ),
    reports=(NODE,),
)
def ids_per_pod(ctx: Context) -> Check:
    configured = ctx.settings.ids_per_pod
    kubelet = ctx.kubelet
    src = ctx.settings_source
    expected = f"a multiple of {UNIT}"
    if configured is None:
        return Check("ids-per-pod", PASS, f"{UNIT} (default)", expected, src)
    if configured <= 0 or configured % UNIT:
        return Check(
            "ids-per-pod",
            FAIL,
            f"userNamespaces.idsPerPod={configured}",
            expected,
            src,
            f"set userNamespaces.idsPerPod to a multiple of {UNIT} (or remove it for {UNIT}); "
            "the kubelet refuses to start otherwise",
        )
    if kubelet is not None and kubelet[:2] < (1, 35) and configured != UNIT:
        return Check(
            "ids-per-pod",
            WARN,
            f"userNamespaces.idsPerPod={configured}, ignored by kubelet "
            f"{ctx.info.kubelet_version} (uses {UNIT})",
            expected,
            src,
            f"remove userNamespaces.idsPerPod or upgrade the kubelet to 1.35; until then pods "
            f"get {UNIT} IDs",
        )
    return Check("ids-per-pod", PASS, f"userNamespaces.idsPerPod={configured}", expected, src)


# the kubelet root's words (DEFAULT_ROOT, ROOT_HINT, ...) are checks/kubelet_root.py's, the same
# for inspect and audit


@register(
    "kubelet-process",
    area=KUBELET,
    source=NODE,
    reads=("every process named kubelet on the node: uid_map, NSpid, Uid, cgroup, exe",),
    expects="one kubelet in the host user and PID namespace, as UID 0, outside the kubepods "
    "cgroups, running a root-owned kubelet binary of the node; processes that only call "
    "themselves kubelet are named and ignored",
    upstream=(
        "user_namespaces(7), pid_namespaces(7): a pod's namespaces are children of the host's",
        "kubernetes/kubernetes pkg/kubelet/cm (pods' cgroups under kubepods)",
    ),
)
def kubelet_process(ctx: Context) -> Check:
    dump = ctx.node
    expected = "the node's kubelet"
    ignored = [p for p in dump.kubelet_processes if not p.accepted]
    found = next((p for p in dump.kubelet_processes if p.accepted), None)
    not_believed = "; not believed: " + "; ".join(f"PID {p.pid} ({p.detail})" for p in ignored)
    if found is not None:
        observed = f"PID {found.pid}, {found.detail}" + (not_believed if ignored else "")
        return Check("kubelet-process", PASS, observed, expected, NODE)
    observed = "no running kubelet found" + (not_believed if ignored else "")
    return Check(
        "kubelet-process",
        WARN,
        observed,
        expected,
        NODE,
        "nothing on the node's command lines is used; pass --kubelet-root DIR when the kubelet's "
        f"root is not {DEFAULT_ROOT} ({ROOT_HINT})",
    )


@register(
    "kubelet-root",
    area=KUBELET,
    source=NODE,
    reads=("the kubelet's --root-dir (its command line on the node)", "--kubelet-root"),
    expects="the kubelet's root directory exists; --kubelet-root, when given, names the "
    "kubelet's --root-dir",
    upstream=(
        "kubernetes/kubernetes cmd/kubelet/app/options/options.go (--root-dir, a flag only)",
        "kubernetes/kubelet config/v1beta1/types.go (no rootDir field)",
    ),
)
def kubelet_root(ctx: Context) -> Check:
    dump = ctx.node
    found = KubeletRoot(
        dump.kubelet_root,
        dump.kubelet_root_source,
        dump.kubelet_root_state,
        dump.kubelet_cmdline_root,
    )
    kubelet_found = dump.kubelet_pid is not None
    expected = "the kubelet's root directory"
    where = root_source(found.source, kubelet_found)
    actual = running_root(found, kubelet_found)
    if found.state != "dir":
        what, fix = missing_root(found, kubelet_found)
        return Check("kubelet-root", WARN, what, expected, NODE, fix)
    root = found.path
    if found.source == "flag" and actual and actual.rstrip("/") != root.rstrip("/"):
        return Check(
            "kubelet-root",
            WARN,
            f"{root} (--kubelet-root), but the running kubelet's root is {actual}",
            expected,
            NODE,
            f"rerun with --kubelet-root {actual}, or without --kubelet-root",
        )
    return Check("kubelet-root", PASS, f"{root} ({where})", expected, NODE)
