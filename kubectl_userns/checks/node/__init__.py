"""Judging a node's readiness for user namespaces: a catalogue of checks, pure functions over
plain data.

:mod:`.facts` holds the inputs (the Node object, the kubelet's settings, the node probe's
output, all in a :class:`Context`); one module per area registers its checks in
:mod:`.catalogue` - :mod:`.kubelet` (kubelet and feature gate), :mod:`.runtime` (runtime and
OCI runtime), :mod:`.kernel` (kernel and filesystems), :mod:`.pool` with :mod:`.subids` (the
ID pool) and :mod:`.records` (the kubelet's pod records); :func:`build_report` runs them all.
The rules come from ../shared/docs/userns-facts.md and the upstream sources each check names
(docs/verify-node-checks.md lists them).
"""

from __future__ import annotations

# the area modules register their checks on import: import them all before the report runs
from kubectl_userns.checks.node import kernel, kubelet, pool, records, runtime  # noqa: F401
from kubectl_userns.checks.node.catalogue import (
    API,
    FAIL,
    NODE,
    PASS,
    PROBE,
    SKIP,
    WARN,
    Check,
    Rule,
    catalogue,
    docs_table,
)
from kubectl_userns.checks.node.facts import (
    Context,
    KubeletSettings,
    NodeInfo,
    node_info,
    parse_version,
    settings_from_configz,
    settings_from_node,
)
from kubectl_userns.checks.node.kubelet import feature_state, gate_name
from kubectl_userns.checks.node.report import REPORT_VERSION, build_report, summary_line
from kubectl_userns.checks.node.runtime import runtime_version
from kubectl_userns.checks.node.subids import Pool, kubelet_pool, pool_rules, suggest_pool
from kubectl_userns.checks.operating_system import node_os

__all__ = [
    "API",
    "FAIL",
    "NODE",
    "PASS",
    "PROBE",
    "REPORT_VERSION",
    "SKIP",
    "WARN",
    "Check",
    "Context",
    "KubeletSettings",
    "NodeInfo",
    "Pool",
    "Rule",
    "build_report",
    "catalogue",
    "docs_table",
    "feature_state",
    "gate_name",
    "kubelet_pool",
    "node_info",
    "node_os",
    "parse_version",
    "pool_rules",
    "runtime_version",
    "settings_from_configz",
    "settings_from_node",
    "suggest_pool",
    "summary_line",
]
