"""Judging a pod's isolation from what the probe saw: pure functions over plain data.

``facts`` turns the API's pod and the probe's processes into plain values (roles, the idsPerPod
in force, the kubelet's allocation); ``catalogue`` and ``rules`` hold the checks, each
registered with its id, the facts it reads and its upstream source (docs/inspect-checks.md is
generated from them); ``report`` builds the report of ``-o json`` (docs/inspect-report.md).
"""

from __future__ import annotations

from kubectl_userns.checks.pod.catalogue import CATALOGUE, FAIL, PASS, WARN, catalogue_markdown
from kubectl_userns.checks.pod.facts import (
    DEFAULT_IDS_PER_POD,
    Classified,
    IdsPerPod,
    PodFacts,
    classify,
    default_pool,
    ids_per_pod_in_force,
    kubelet_pool,
    pod_facts,
)
from kubectl_userns.checks.pod.report import (
    REPORT_VERSION,
    build_report,
    judged_processes,
    summary_line,
)

__all__ = [
    "CATALOGUE",
    "DEFAULT_IDS_PER_POD",
    "FAIL",
    "PASS",
    "REPORT_VERSION",
    "WARN",
    "Classified",
    "IdsPerPod",
    "PodFacts",
    "build_report",
    "catalogue_markdown",
    "classify",
    "default_pool",
    "ids_per_pod_in_force",
    "judged_processes",
    "kubelet_pool",
    "pod_facts",
    "summary_line",
]
