"""``kubectl userns plan``: which workloads can move to hostUsers: false, and what blocks each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from kubectl_userns.access.probe_pod import PodAccessOptions
from kubectl_userns.cli import flags as f
from kubectl_userns.cli.flagsets import API_FLAGS, FlagSet, NodeFlags, node_flags, with_flags
from kubectl_userns.cli.render import Printed, TextView
from kubectl_userns.errors import UsageError
from kubectl_userns.options import ClusterOptions, NodeAccessOptions, OutputOptions

HELP = """Plan the move to user namespaces, workload by workload.

Groups the pods by the workload that owns them (Deployment through its ReplicaSet, StatefulSet,
DaemonSet, CronJob through its Job, static pods through their mirror, bare pods) and gives each
its state: isolated, not isolated (with the failing checks), asking for a user namespace but
not verified, or in the host user namespace. For host-namespace workloads it lists every
blocker in the pod spec and where it is (hostNetwork/hostPID/hostIPC, Windows, IDs outside
the pod's range, NFS and raw block volumes), warnings for what changes meaning (privileged,
capabilities, hostPath), the nodes that are not ready, and - only when nothing blocks - the
command that converts it. Reads the API only (one paginated list per kind, no SSH); --verify
also probes the nodes as 'audit' does. Exit 0 when every workload is isolated, 1 when any is
not (or runs in the host user namespace), 3 when some could not be verified."""

EPILOG = """Examples:
  kubectl userns plan -A
  kubectl userns plan -n shop -o wide
  kubectl userns plan -A --verify -o html > userns-plan.html
  kubectl userns plan -A -o policyreport | kubectl apply -f -"""


# the formats only the plan has, besides the ones every report has (-o json, name, jsonpath ...)
PLAN_ONLY_FORMATS = ("html", "policyreport")


@dataclass(frozen=True)
class PlanOutput:
    """-o html and -o policyreport, or the output every report has."""

    special: str | None
    out: OutputOptions


def _plan_output(values: dict[str, Any], _: dict[str, Any]) -> PlanOutput:
    from kubectl_userns.cli.render import output_options

    name = str(values["output"]).strip().lower()
    if name in PLAN_ONLY_FORMATS:
        if values["no_headers"]:
            raise UsageError(f"--no-headers only applies to table output (got -o {name}).")
        return PlanOutput(name, OutputOptions())
    return PlanOutput(None, output_options(values["output"], values["no_headers"], values["color"]))


PLAN_OUTPUT_FLAGS = FlagSet(
    "out",
    (
        f.output_flag(
            "Output format: table, wide, json, yaml, name, jsonpath=TEMPLATE, "
            "custom-columns=SPEC (and their -file=PATH forms, over the workloads of -o json), "
            "html (a self-contained page) or policyreport (wgpolicyk8s.io PolicyReports)."
        ),
        f.NO_HEADERS,
        f.COLOR,
    ),
    _plan_output,
)


@with_flags(
    # the node flags as audit reads them (--verify runs audit's probe)
    node_flags(
        local=False, ssh_host=False, requires=("verify", "the plan alone reads the API only")
    ),
    PLAN_OUTPUT_FLAGS,
    API_FLAGS,
)
def plan(
    all_namespaces: f.AllNamespaces = False,
    selector: f.Selector = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Also probe the nodes (as 'audit' does) to tell isolated pods from pods that "
            "only ask for a user namespace; needs SSH or --via pod.",
        ),
    ] = False,
    *,
    node: NodeFlags,
    out: PlanOutput,
    api: ClusterOptions,
) -> None:
    from kubectl_userns.cli.render import emit

    cluster, access, pod_access = api, node.access, node.pod_access
    result, audit = run_plan(
        cluster, access, pod_access, all_namespaces=all_namespaces, selector=selector, verify=verify
    )
    emit(render_plan(result, audit, out))
    raise typer.Exit(result["summary"]["exitCode"])


def run_plan(
    cluster: ClusterOptions,
    access: NodeAccessOptions,
    pod_access: PodAccessOptions | None,
    *,
    all_namespaces: bool,
    selector: str | None,
    verify: bool,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The plan (and, with ``verify``, the audit it was built from)."""
    from kubectl_userns.access.api import KubeClient
    from kubectl_userns.access.probe_pod import MANAGED_BY
    from kubectl_userns.checks.plan import build_plan

    client = KubeClient.from_options(cluster)
    ns = None if all_namespaces else client.namespace
    where = "in all namespaces" if ns is None else f'in namespace "{ns}"'

    def path(group: str, resource: str) -> str:
        prefix = "/api/v1" if not group else f"/apis/{group}"
        return f"{prefix}/{resource}" if ns is None else f"{prefix}/namespaces/{ns}/{resource}"

    query = {"labelSelector": selector or ""}
    listed = client.list_all(path("", "pods"), f"pods {where}", query)
    pods = [
        p
        for p in listed
        if ((p.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/managed-by")
        != MANAGED_BY
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]
    replicasets = client.list_all(path("apps/v1", "replicasets"), f"replicasets {where}")
    jobs = client.list_all(path("batch/v1", "jobs"), f"jobs {where}")
    nodes = client.list_all("/api/v1/nodes", "nodes")
    audit = None
    if verify:
        from kubectl_userns.cli.commands.audit import run_audit

        audit = run_audit(
            cluster,
            access,
            all_namespaces=all_namespaces,
            selector=selector,
            pod_access=pod_access,
            listed=(listed, nodes),  # every phase: the audit names the kubelet records by them
        )
    result = build_plan(
        pods,
        replicasets=replicasets,
        jobs=jobs,
        nodes=nodes,
        audit_rows=None if audit is None else audit["pods"],
        audit_findings=() if audit is None else audit["findings"],
        audit_nodes=() if audit is None else audit["nodes"],
        all_pods_listed=ns is None and not selector,
    )
    return result, audit


# kubectl's -o name for each kind the plan lists (RESOURCE.GROUP/NAME, pods in the core group)
_RESOURCE = {
    "Pod": "pod",
    "Deployment": "deployment.apps",
    "StatefulSet": "statefulset.apps",
    "DaemonSet": "daemonset.apps",
    "ReplicaSet": "replicaset.apps",
    "CronJob": "cronjob.batch",
    "Job": "job.batch",
}


def render_plan(result: dict[str, Any], audit: dict[str, Any] | None, out: PlanOutput) -> Printed:
    from kubectl_userns.cli.render import print_report, render_data

    if out.special == "html":
        from kubectl_userns.cli.report_html import render_html

        return Printed(render_html(result, audit), "")
    if out.special == "policyreport":
        from kubectl_userns.cli.policyreport import policy_reports

        return Printed(render_data(policy_reports(result, audit), "yaml"), "")
    workloads = result["workloads"]
    return print_report(
        result,
        out.out,
        names=[
            f"{_RESOURCE.get(w['kind'], str(w['kind']).lower())}/{w['name']}" for w in workloads
        ],
        records=workloads,
        text=lambda color: text_view(result, out.out, color),
    )


def text_view(result: dict[str, Any], out: OutputOptions, color: bool) -> TextView:
    """The workloads table, the blockers and convert commands after it, and the summary."""
    from kubectl_userns.checks.plan import summary_line
    from kubectl_userns.cli.render import render_table
    from kubectl_userns.options import OutputFormat

    wide = out.format is OutputFormat.wide
    headers = ["NAMESPACE", "WORKLOAD", "PODS", "STATE", "READINESS", "BLOCKERS"]
    if wide:
        headers += ["WARNINGS", "NODES", "CONVERT"]
    rows = []
    for w in result["workloads"]:
        blockers = ",".join(b["field"] for b in w["blockers"]) or "-"
        if w["notReadyNodes"]:
            blockers = ",".join(filter(None, [blockers.strip("-"), "nodes-not-ready"]))
        if w["state"] == "not-isolated" and w["failedChecks"]:
            blockers = ",".join(w["failedChecks"])
        cells = [
            w["namespace"],
            f"{w['kind'].lower()}/{w['name']}",
            len(w["pods"]),
            w["state"],
            w["readiness"] or "-",
            blockers.replace(" ", "") or "-",
        ]
        if wide:
            cells += [
                ",".join(x["field"] for x in w["warnings"]).replace(" ", "") or "-",
                ",".join(w["nodes"]) or "-",
                w["convertCommand"] or "-",
            ]
        rows.append(cells)
    more = []
    details = [
        f"  {w['namespace']}/{w['kind'].lower()}/{w['name']}: {b['field']}: {b['reason']}"
        for w in result["workloads"]
        for b in w["blockers"]
    ]
    if details:
        more.append("\n".join(["Blockers:", *details]))
    commands = [w["convertCommand"] for w in result["workloads"] if w["convertCommand"]]
    if commands:
        more.append("\n".join(["Convert (nothing blocks these):", *(f"  {c}" for c in commands)]))
    main = render_table(headers, rows, no_headers=out.no_headers, color=color)
    return TextView(main, more, [summary_line(result)])
