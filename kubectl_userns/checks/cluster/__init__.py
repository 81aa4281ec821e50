"""Judging a whole cluster from per-pod inspections (``kubectl userns audit``): pure functions
over plain data.

``audit_node`` (:mod:`.rows`) turns the pods of a node plus one probe output into one row per
pod; ``build_audit`` (:mod:`.report`) turns the rows of every node into the cluster report (the
schema of ``kubectl userns audit -o json``): one row per pod, the findings across pods, the
nodes that could not be reached, and the exit code the answers call for.
"""

from kubectl_userns.checks.cluster.report import (
    build_audit,
    node_error_text,
    overlap_findings,
    pod_findings,
    summary_line,
    unreachable_findings,
    verdict_text,
)
from kubectl_userns.checks.cluster.rows import (
    HOST_NAMESPACE_FIELDS,
    HOST_USERNS,
    ISOLATED,
    NOT_APPLICABLE,
    NOT_ISOLATED,
    RUNTIME_USERNS,
    UNKNOWN,
    audit_node,
    foreign_os_row,
    group_by_node,
    is_audited,
    judged_row,
    node_probe,
    unknown_row,
)
from kubectl_userns.checks.operating_system import pod_operating_system

__all__ = [
    "HOST_NAMESPACE_FIELDS",
    "HOST_USERNS",
    "ISOLATED",
    "NOT_APPLICABLE",
    "NOT_ISOLATED",
    "RUNTIME_USERNS",
    "UNKNOWN",
    "audit_node",
    "build_audit",
    "foreign_os_row",
    "group_by_node",
    "is_audited",
    "judged_row",
    "node_error_text",
    "node_probe",
    "overlap_findings",
    "pod_findings",
    "pod_operating_system",
    "summary_line",
    "unknown_row",
    "unreachable_findings",
    "verdict_text",
]
