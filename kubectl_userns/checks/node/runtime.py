"""Runtime and OCI runtime: the CRI runtime's version, its runtime handlers' user-namespace
support and the OCI runtimes on the node (userns-facts.md, section 3)."""

from __future__ import annotations

import re

from kubectl_userns.checks.node.catalogue import (
    API,
    FAIL,
    NODE,
    PASS,
    RUNTIME,
    SKIP,
    WARN,
    Check,
    register,
)
from kubectl_userns.checks.node.facts import Context, Version, parse_version, show_version
from kubectl_userns.checks.node.kubelet import gate_name, userns_gate_on
from kubectl_userns.probe.node_dump import NodeDump

KEP = "KEP-127 (kubernetes/enhancements keps/sig-node/127-user-namespaces)"


def runtime_version(text: str) -> tuple[str, Version | None]:
    """``containerRuntimeVersion`` (``cri-o://1.33.0``) as (runtime name, version)."""
    name, sep, rest = (text or "").partition("://")
    if not sep:
        return "", parse_version(text)
    return name.lower(), parse_version(rest)


def oci_runtime_version(name: str, line: str) -> Version | None:
    """The version in ``crun version 1.14.4`` / ``runc version 1.2.0``."""
    match = re.search(rf"{name}\s+version\s+(\S+)", line)
    return parse_version(match[1] if match else line)


# From 1.30 the kubelet asks the runtime handler before it creates a hostUsers: false pod and
# refuses the pod when the handler does not report user-namespace support
# (kubernetes pkg/kubelet/userns/userns_manager.go GetOrCreateUserNamespaceMappings ->
# pkg/kubelet/kubelet_getters.go HandlerSupportsUserNamespaces). Runtimes report it from:
CRIO_REPORTS = (1, 30)  # cri-o server/runtime_status.go (read: absent at v1.29.0, in v1.30.0)
CONTAINERD_REPORTS = (2, 0)  # containerd internal/cri/server/service.go (v2.0.0; not in 1.7)
HANDLER_CHECK_SINCE = (1, 30)


@register(
    "container-runtime",
    area=RUNTIME,
    source=API,
    reads=("Node status.nodeInfo.containerRuntimeVersion", "kubelet version"),
    expects="with kubelet >= 1.30: CRI-O >= 1.30 or containerd >= 2.0 (the releases that report "
    "user-namespace support, without which the kubelet refuses the pod); before 1.30: CRI-O "
    ">= 1.25, containerd >= 2.0 (1.7 with Kubernetes 1.25/1.26; <= 1.6 silently ignores "
    "hostUsers)",
    upstream=(
        KEP,
        "kubernetes/kubernetes pkg/kubelet/userns/userns_manager.go",
        "cri-o/cri-o server/runtime_status.go",
        "containerd/containerd internal/cri/server/service.go",
    ),
)
def container_runtime(ctx: Context) -> Check:
    text = ctx.info.container_runtime_version
    kubelet = ctx.kubelet
    checked = kubelet is None or kubelet[:2] >= HANDLER_CHECK_SINCE
    expected = "CRI-O >= 1.30, containerd >= 2.0" if checked else "CRI-O >= 1.25, containerd >= 2.0"
    if not text:
        return Check("container-runtime", SKIP, "(not reported)", expected, API)
    name, version = runtime_version(text)
    target = f"1.{kubelet[1]}" if kubelet else "a current release"
    if version is None:
        return Check(
            "container-runtime", WARN, text, expected, API, "check the runtime's version by hand"
        )
    refused = (
        f"kubelet {ctx.info.kubelet_version} refuses every hostUsers: false pod, since this "
        "runtime reports no user-namespace support for its handlers"
    )
    if name == "cri-o":
        if version[:2] >= CRIO_REPORTS or (not checked and version[:2] >= (1, 25)):
            return Check("container-runtime", PASS, text, expected, API)
        if checked and version[:2] >= (1, 25):
            return Check(
                "container-runtime",
                FAIL,
                f"{text}: {refused} (CRI-O reports it from 1.30.0)",
                expected,
                API,
                f"upgrade CRI-O to {target}",
            )
        return Check(
            "container-runtime",
            FAIL,
            text,
            expected,
            API,
            f"upgrade CRI-O to {target} (user namespaces need CRI-O 1.25 or later)",
        )
    if name == "containerd":
        if version[:2] >= CONTAINERD_REPORTS:
            return Check("container-runtime", PASS, text, expected, API)
        if checked:
            return Check(
                "container-runtime",
                FAIL,
                f"{text}: {refused} (containerd reports it from 2.0)",
                expected,
                API,
                "upgrade containerd to 2.0 or later",
            )
        if version[:2] == (1, 7):
            if kubelet is not None and kubelet[:2] in ((1, 25), (1, 26)):
                return Check(
                    "container-runtime",
                    PASS,
                    f"{text} (works with Kubernetes 1.25/1.26 only)",
                    expected,
                    API,
                )
            return Check(
                "container-runtime",
                FAIL,
                f"{text}: supports user namespaces only with Kubernetes 1.25/1.26",
                expected,
                API,
                "upgrade containerd to 2.0 or later",
            )
        return Check(
            "container-runtime",
            FAIL,
            f"{text}: silently ignores hostUsers: false with kubelets before 1.30 (pods run as "
            "host root)",
            expected,
            API,
            "upgrade containerd to 2.0 or later",
        )
    return Check(
        "container-runtime",
        WARN,
        f"{text}: not a runtime this tool knows",
        expected,
        API,
        "make sure the runtime supports user namespaces, or use CRI-O >= 1.30 / containerd >= 2.0",
    )


@register(
    "runtime-handlers",
    area=RUNTIME,
    source=API,
    reads=("Node status.runtimeHandlers[].features.userNamespaces", "the user-namespace gate"),
    expects="userNamespaces=true on every runtime handler (reported from kubelet 1.31, and only "
    "with the UserNamespacesSupport gate on)",
    upstream=(
        "kubernetes/api core/v1/types.go (NodeRuntimeHandlerFeatures)",
        "kubernetes/kubernetes pkg/kubelet/nodestatus/setters.go (RuntimeHandlers)",
        "cri-o/cri-o server/runtime_status.go",
        "containerd/containerd internal/cri/server/service.go",
    ),
)
def runtime_handlers(ctx: Context) -> Check:
    handlers = ctx.info.runtime_handlers
    expected = "userNamespaces=true on every handler"
    kubelet = ctx.kubelet
    gate = userns_gate_on(ctx)
    gate_text = gate_name(kubelet) if kubelet else "UserNamespacesSupport"
    name, version = runtime_version(ctx.info.container_runtime_version)
    old_runtime = version is not None and (
        (name == "cri-o" and version[:2] < CRIO_REPORTS)
        or (name == "containerd" and version[:2] < CONTAINERD_REPORTS)
    )
    if handlers is None:
        if kubelet is not None and kubelet[:2] < (1, 31):
            return Check(
                "runtime-handlers",
                SKIP,
                "not reported (kubelets report it from 1.31)",
                expected,
                API,
            )
        if old_runtime:
            return Check(
                "runtime-handlers",
                FAIL,
                f"none reported: {ctx.info.container_runtime_version} reports no runtime "
                "handlers, so the kubelet refuses hostUsers: false pods",
                expected,
                API,
                "upgrade the runtime (see container-runtime)",
            )
        return Check(
            "runtime-handlers",
            WARN,
            "status.runtimeHandlers not reported",
            expected,
            API,
            "upgrade the container runtime (CRI-O >= 1.30, containerd >= 2.0 report their "
            "features)",
        )
    shown = ", ".join(
        f"{name or '(default)'}={'?' if value is None else str(value).lower()}"
        for name, value in handlers
    )
    if handlers and all(value is None for _, value in handlers) and gate is not True:
        # the kubelet reports the field only with the gate on: its absence says nothing about
        # the runtime
        return Check(
            "runtime-handlers",
            SKIP,
            f"{shown}: the kubelet reports userNamespaces only with the {gate_text} gate on "
            "(see feature-gate); nothing to judge the runtime by",
            expected,
            API,
        )
    without = [name for name, value in handlers if value is not True]
    if not without:
        return Check("runtime-handlers", PASS, shown, expected, API)
    fix = "upgrade the runtime (or its OCI runtime) until every handler reports userNamespaces"
    if "" in without or len(without) == len(handlers):
        return Check("runtime-handlers", FAIL, shown, expected, API, fix)
    names = ", ".join(without)
    return Check(
        "runtime-handlers",
        WARN,
        shown,
        expected,
        API,
        f"pods using RuntimeClass handler {names} cannot use hostUsers: false; {fix}",
    )


def _default_runtime(dump: NodeDump) -> str | None:
    """The OCI runtime CRI-O is configured to use by default (crun, runc), when it says so."""
    for setting in dump.runtime_settings:
        if setting.key == "default_runtime" and setting.value in ("crun", "runc"):
            return setting.value
    return None


@register(
    "oci-runtime",
    area=RUNTIME,
    source=NODE,
    reads=("crun/runc --version on the node", "CRI-O default_runtime"),
    expects="crun >= 1.9 (1.13+ recommended) or runc >= 1.2: the releases that advertise "
    "mountExtensions.idmap",
    upstream=(KEP, "containerd/containerd internal/cri/server/service.go (supportsCRIUserns)"),
)
def oci_runtime(ctx: Context) -> Check:
    dump = ctx.node
    expected = "crun >= 1.9 (1.13+), runc >= 1.2"
    if not dump.runtimes:
        return Check(
            "oci-runtime",
            WARN,
            "no crun or runc found on PATH or in the usual places",
            expected,
            NODE,
            "check the OCI runtime's version by hand (crun --version, runc --version)",
        )
    good, meh, bad = [], [], []
    parts = []
    for binary in dump.runtimes:
        version = oci_runtime_version(binary.name, binary.version_line)
        shown = show_version(version) if version else "unknown version"
        parts.append(f"{binary.name} {shown} ({binary.path})")
        minimum, recommended = ((1, 9), (1, 13)) if binary.name == "crun" else ((1, 2), (1, 2))
        if version is None:
            meh.append(binary)
        elif version[:2] < minimum:
            bad.append(binary)
        elif version[:2] < recommended:
            meh.append(binary)
        else:
            good.append(binary)
    observed = ", ".join(parts)
    default = _default_runtime(dump)
    if default:
        observed += f"; CRI-O default_runtime={default}"
    if bad:
        names = ", ".join(f"{b.name} at {b.path}" for b in bad)
        fix = f"upgrade {names} (crun >= 1.13, runc >= 1.2)"
        if not good or (default and any(b.name == default for b in bad)):
            return Check("oci-runtime", FAIL, observed, expected, NODE, fix)
        return Check(
            "oci-runtime",
            WARN,
            observed,
            expected,
            NODE,
            f"{fix}, or make sure no runtime handler uses it",
        )
    if meh:
        return Check(
            "oci-runtime",
            WARN,
            observed,
            expected,
            NODE,
            "upgrade crun to 1.13 or later (earlier releases have idmap bugs)",
        )
    return Check("oci-runtime", PASS, observed, expected, NODE)
