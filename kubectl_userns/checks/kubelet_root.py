"""The kubelet root in words, the same for inspect, audit and verify-node: where the probe took
it from (``--kubelet-root``, the running kubelet's ``--root-dir``, the default) and what to do
when it is not there. ``--root-dir`` is a command-line flag only, never in /configz
(kubernetes/kubernetes cmd/kubelet/app/options/options.go; kubernetes/kubelet
config/v1beta1/types.go has no rootDir field)."""

from __future__ import annotations

from kubectl_userns.probe.kubelet_records import KubeletRoot

DEFAULT_ROOT = "/var/lib/kubelet"  # --root-dir's default
ROOT_HINT = "k0s: /var/lib/k0s/kubelet, microk8s: /var/snap/microk8s/common/var/lib/kubelet"


def root_source(source: str, kubelet_found: bool) -> str:
    """Where the root came from, as a parenthesis names it."""
    if source == "flag":
        return "--kubelet-root"
    if source == "cmdline":
        return "the running kubelet's --root-dir"
    if source == "unseen":
        return "default; a probe pod cannot see the kubelet's command line"
    if kubelet_found:
        return "default; the kubelet has no --root-dir"
    return "default; no running kubelet found"


def running_root(root: KubeletRoot, kubelet_found: bool) -> str | None:
    """The running kubelet's own root: its --root-dir, else the default; None without one."""
    return root.cmdline_root or (DEFAULT_ROOT if kubelet_found else None)


def missing_root(root: KubeletRoot, kubelet_found: bool) -> tuple[str, str]:
    """(what, fix) for a root that is not a directory: ``"/x (where) does not exist"``."""
    what = "does not exist" if root.state == "missing" else "is not a directory"
    actual = running_root(root, kubelet_found)
    if root.source == "flag" and actual and actual != root.path:
        fix = f"rerun with --kubelet-root {actual} (the running kubelet's root)"
    else:
        fix = f"rerun with --kubelet-root DIR, the kubelet's --root-dir ({ROOT_HINT})"
    return f"{root.path} ({root_source(root.source, kubelet_found)}) {what}", fix
