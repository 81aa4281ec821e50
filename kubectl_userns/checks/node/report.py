"""verify-node's report: every check of the catalogue that applies, as plain data (the schema of
``-o json``, docs/verify-node-report.md), and its summary line."""

from __future__ import annotations

from typing import Any

from kubectl_userns.checks.node.catalogue import FAIL, PASS, SKIP, WARN, run_checks
from kubectl_userns.checks.node.facts import Context
from kubectl_userns.checks.node.kubelet import feature_state
from kubectl_userns.checks.node.subids import kubelet_pool

REPORT_VERSION = "kubectl-userns/v1"


def build_report(ctx: Context, *, node_error: str = "") -> dict[str, Any]:
    """The structured report (docs/verify-node-report.md)."""
    checks = list(run_checks(ctx))
    counts = {s: sum(1 for c in checks if c.status == s) for s in (PASS, WARN, FAIL, SKIP)}
    verdict = "INCOMPLETE" if node_error else "NOT READY" if counts[FAIL] else "READY"
    kubelet = ctx.kubelet
    pool = kubelet_pool(ctx.dump, ctx.ids_per_pod).pool if ctx.dump else None
    return {
        "apiVersion": REPORT_VERSION,
        "kind": "NodeVerification",
        "node": {
            "name": ctx.info.name,
            "kubeletVersion": ctx.info.kubelet_version,
            "featureState": feature_state(kubelet) if kubelet else None,
            "kernelVersion": ctx.info.kernel_version,
            "containerRuntimeVersion": ctx.info.container_runtime_version,
            "osImage": ctx.info.os_image,
            "operatingSystem": ctx.info.operating_system or None,
        },
        "kubelet": {
            "configSource": ctx.settings.source,
            "configOrigin": ctx.settings.origin,
            "configzProblem": ctx.settings.configz_problem or None,
            "idsPerPod": ctx.ids_per_pod,
            "maxPods": ctx.max_pods,
            "cgroupDriver": ctx.settings.cgroup_driver,
            "root": ctx.kubelet_root,
            "pool": {"first": pool.first, "count": pool.count} if pool else None,
        },
        "nodeReached": ctx.dump is not None,
        "nodeError": node_error or None,
        "probe": ctx.probe_requested,
        "checks": [c.to_json() for c in checks],
        "summary": {
            "verdict": verdict,
            "passed": counts[PASS],
            "warnings": counts[WARN],
            "failed": counts[FAIL],
            "skipped": counts[SKIP],
        },
    }


def summary_line(report: dict[str, Any]) -> str:
    name = report["node"]["name"]
    s = report["summary"]
    failed = [c["id"] for c in report["checks"] if c["status"] == FAIL]
    rest = f"{s['warnings']} warning(s), {s['skipped']} skipped"
    if s["verdict"] == "INCOMPLETE":
        return (
            f"node {name}: INCOMPLETE - the node was not reached; of the "
            f"{len(report['checks'])} checks from the API {s['passed']} passed, "
            f"{s['failed']} failed"
            + (f" ({', '.join(failed)})" if failed else "")
            + f", {s['warnings']} warning(s)"
        )
    if failed:
        return (
            f"node {name}: NOT READY for user namespaces - {len(failed)} of "
            f"{len(report['checks'])} checks failed ({', '.join(failed)}), {rest}"
        )
    return f"node {name}: ready for user namespaces - {s['passed']} checks passed, {rest}"
