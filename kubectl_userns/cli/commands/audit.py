"""``kubectl userns audit``: every running pod's isolation; one probe per node, in parallel."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from kubectl_userns.access.probe_pod import PodAccessOptions
from kubectl_userns.cli import flags as f
from kubectl_userns.cli.flagsets import API_FLAGS, OUTPUT_FLAGS, NodeFlags, node_flags, with_flags
from kubectl_userns.cli.render import (
    Printed,
    TextView,
    emit,
    print_report,
    render_table,
)
from kubectl_userns.errors import UsernsError
from kubectl_userns.options import (
    AddressType,
    ClusterOptions,
    NodeAccessOptions,
    OutputFormat,
    OutputOptions,
)

HELP = """Audit the user-namespace isolation of every running pod, node by node.

Lists the pods from the API, groups them by node and probes each node once (one read-only
script for all its pods), nodes in parallel. One row per pod: HOSTUSERS from the spec, the
host ID range of its user namespace (or 'host'), how many of its processes run as UID 0 on
the host, and the verdict: ISOLATED, NOT ISOLATED, HOST USERNS, RUNTIME USERNS (a user
namespace the runtime made without hostUsers: false), UNKNOWN (with the reason) or NOT
APPLICABLE (a pod on a Windows node, which has no user namespaces and is not contacted).
Then the findings across pods: overlapping ID ranges on a node, hostUsers: false pods that are
not isolated, host-root pods without a user namespace (candidates for hostUsers: false, except
those that need hostNetwork, hostPID or hostIPC), and unreachable nodes. A node that cannot be
reached does not stop the others. Exit 0 when all is well, 1 when a finding fails (overlap, not
isolated, host-root candidate), 3 when nothing failed but something could not be checked."""

EPILOG = """Examples:
  kubectl userns audit -A
  kubectl userns audit -n shop -l app=web
  kubectl userns audit -A --node wk1 --node wk2 -o wide
  kubectl userns audit -A -o json --parallel 32
  kubectl userns audit -A --via pod --probe-namespace kube-system   # no SSH to the nodes"""

ProgressFn = Callable[[int, int], None]


@with_flags(
    OUTPUT_FLAGS,
    node_flags(
        refuse={
            "local": "--local cannot be used with audit: --local reads only this machine, and "
            "an audit probes every node; drop --local (SSH is the default).",
            "ssh_host": "--ssh-host cannot be used with audit: it names one host, and an audit "
            "reaches every node; give each node a Host entry in the SSH config instead.",
        }
    ),
    API_FLAGS,
)
def audit(
    all_namespaces: f.AllNamespaces = False,
    selector: f.Selector = None,
    nodes: Annotated[
        list[str] | None,
        typer.Option(
            "--node",
            metavar="NODE",
            help="Only pods on this node (repeat for several).",
            show_default=False,
        ),
    ] = None,
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel", metavar="N", help="How many nodes to probe at the same time.", min=1
        ),
    ] = 16,
    *,
    out: OutputOptions,
    node: NodeFlags,
    api: ClusterOptions,
) -> None:
    cluster, access, pod_access = api, node.access, node.pod_access
    progress = _terminal_progress if sys.stderr.isatty() else None
    result = run_audit(
        cluster,
        access,
        all_namespaces=all_namespaces,
        selector=selector,
        nodes=tuple(nodes or ()),
        parallel=parallel,
        progress=progress,
        pod_access=pod_access,
    )
    if not result["pods"] and out.format in (OutputFormat.table, OutputFormat.wide):
        where = "any namespace" if all_namespaces else "the namespace"
        typer.echo(f"No running pods found in {where} with these filters.", err=True)
    else:
        emit(render_audit(result, out))
    raise typer.Exit(result["summary"]["exitCode"])


def _terminal_progress(done: int, total: int) -> None:
    end = "\r\033[K" if done == total else ""
    sys.stderr.write(f"\rprobed {done}/{total} nodes{end}")
    sys.stderr.flush()


def run_audit(
    cluster: ClusterOptions,
    access: NodeAccessOptions,
    *,
    all_namespaces: bool,
    selector: str | None,
    nodes: Sequence[str] = (),
    parallel: int = 16,
    progress: ProgressFn | None = None,
    pod_access: PodAccessOptions | None = None,
    listed: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """List the pods, probe every node once (in parallel) and build the cluster report.

    Nodes are reached over SSH with ``access``, or with probe pods when ``pod_access`` is set.
    ``listed``: the pods (of the same namespaces and selector, any phase) and the nodes the
    caller has listed already (plan --verify), so that they are not asked for again.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from kubectl_userns.access.api import KubeClient
    from kubectl_userns.access.node import open_runner
    from kubectl_userns.access.probe_pod import MANAGED_BY
    from kubectl_userns.access.via_pod import PodRunner
    from kubectl_userns.checks.cluster import build_audit, group_by_node

    client = KubeClient.from_options(cluster)
    if listed is not None:
        pods = list(listed[0])
    else:
        pods = client.list_pods(
            None if all_namespaces else client.namespace,
            label_selector=selector,
            field_selector="status.phase=Running",
        )
    known = pods  # every pod listed names the kubelet records it owns, probe pods too
    # probe pods (this tool's own, e.g. left by another run) are not workloads to judge
    pods = [
        p
        for p in pods
        if ((p.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/managed-by")
        != MANAGED_BY
    ]
    groups = group_by_node(pods)
    if nodes:
        for name in nodes:
            if name not in groups:
                client.get_node(name)  # an unknown node is bad input (exit 2)
        groups = {n: p for n, p in groups.items() if n in set(nodes)}
    node_objects = _node_objects(client, groups, None if listed is None else listed[1])

    cancel = threading.Event()

    def opener(node: str, address: str | None) -> Any:
        if pod_access is not None:
            return PodRunner(
                client, node, pod_access, kubelet_root=access.kubelet_root, cancel=cancel
            )
        return open_runner(node, address, access)

    rows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    probes: dict[str, dict[str, Any]] = {}
    total = len(groups)
    if progress and total:
        progress(0, total)
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, total or 1))) as pool:
        futures = {
            pool.submit(
                _audit_node,
                client,
                access,
                node,
                members,
                opener,
                pod_access is None,
                node_objects.get(node),
            ): node
            for node, members in groups.items()
        }
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                node_rows, error, probe = future.result()
                rows += node_rows
                if error:
                    errors[futures[future]] = error
                if probe:
                    probes[futures[future]] = probe
                if progress:
                    progress(done, total)
        except BaseException:
            # Ctrl-C: stop waiting for probe pods; each worker still deletes its own pod
            cancel.set()
            for future in futures:
                future.cancel()
            raise
    return build_audit(rows, errors, probes, known_pods=known)


def _node_objects(
    client: Any, groups: dict[str, Any], listed: list[dict[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """The Node objects of the nodes to probe, by name: from ``listed``, else in one paged list
    when there are several (one request per 500 nodes instead of one per node); {} when the
    API does not allow it - each node is then asked for by itself."""
    from kubectl_userns.access.objects import NODE, checked

    if listed is None and len(groups) < 2:
        return {}
    if listed is None:
        try:
            listed = client.list_all("/api/v1/nodes", "nodes")
        except UsernsError:
            return {}
    found = {}
    for obj in listed:
        with contextlib.suppress(UsernsError):  # a malformed one is asked for again, and named
            node = checked(obj, NODE, "a node")
            name = (node.get("metadata") or {}).get("name")
            if name in groups:
                found[str(name)] = node
    return found


def _audit_node(
    client: Any,
    access: NodeAccessOptions,
    node: str,
    pods: list[dict[str, Any]],
    opener: Callable[[str, str | None], Any],
    needs_address: bool = True,
    node_obj: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
    """Probe one node for all its pods: their rows, the node's error ("" when none) and what
    the probe saw of the node; a failure makes its pods UNKNOWN, never raises."""
    from kubectl_userns.access.api_values import checked_host
    from kubectl_userns.access.node import node_address
    from kubectl_userns.checks.cluster import (
        audit_node,
        foreign_os_row,
        node_error_text,
        pod_operating_system,
        unknown_row,
    )
    from kubectl_userns.checks.node import node_os
    from kubectl_userns.checks.pod import pod_facts
    from kubectl_userns.cli.commands.inspect import node_kubelet_version, probe_uid
    from kubectl_userns.probe import load_script

    if node_obj is None:
        with contextlib.suppress(UsernsError):  # without 'get' on nodes the audit still goes on
            node_obj = client.get_node(node)
    on_node = node_os(node_obj) if node_obj is not None else ""
    # a pod whose UID is not one is not looked for (it would be the probe's argument); a pod on
    # a Windows node is not probed: nothing there has user namespaces
    refused: list[dict[str, Any]] = []
    fit: list[dict[str, Any]] = []
    for pod in pods:
        if (os_name := pod_operating_system(pod, on_node)) not in ("", "linux"):
            refused.append(foreign_os_row(pod, os_name))
            continue
        try:
            probe_uid(pod_facts(pod))
            fit.append(pod)
        except UsernsError as exc:
            refused.append(unknown_row(pod, node_error_text(exc)))
    if not fit:
        return refused, "", {}
    pods = fit
    try:
        address = None
        if needs_address and access.ssh_address_type is AddressType.InternalIP:
            host_ip = (pods[0].get("status") or {}).get("hostIP")
            address = checked_host(host_ip, node, "status.hostIP")
        if needs_address and not address:
            found = node_address(node_obj or client.get_node(node), access.ssh_address_type)
            address = checked_host(found, node, f"{access.ssh_address_type.value} address")
        config, why = client.get_configz(node)
        version = node_kubelet_version(node_obj)
        runner = opener(node, address)
        try:
            uids = [probe_uid(pod_facts(p)) for p in pods]
            root = access.probe_root(sees_node=needs_address)  # False: a probe pod
            output = runner.run(load_script("inspect"), [root, *uids])
        finally:
            runner.close()
        if output.exit_status != 0:
            why = output.stderr.strip()[:200] or "no message"
            reason = f"the probe failed on node {node} (exit {output.exit_status}: {why})"
            return [*refused, *(unknown_row(p, reason) for p in pods)], reason, {}
        rows, probe = audit_node(
            node, pods, output.stdout, config=config, config_problem=why, kubelet_version=version
        )
        return [*refused, *rows], "", probe
    except UsernsError as exc:
        reason = node_error_text(exc)
        return [*refused, *(unknown_row(p, reason) for p in pods)], reason, {}


def text_view(result: dict[str, Any], out: OutputOptions, color: bool) -> TextView:
    """The pod table, the findings table and a summary line."""
    from kubectl_userns.checks.cluster import NOT_APPLICABLE, verdict_text
    from kubectl_userns.checks.cluster import summary_line as audit_summary

    wide = out.format is OutputFormat.wide
    headers = ["NAMESPACE", "POD", "NODE", "HOSTUSERS", "USERNS", "HOST-ROOT", "VERDICT"]
    if wide:
        headers[-1:-1] = ["HOST-NAMESPACES", "FAILED-CHECKS"]
    rows = []
    for row in result["pods"]:
        host_users = "false" if row["hostUsers"] is False else "true"
        root = "?" if row["hostRootProcesses"] is None else row["hostRootProcesses"]
        # one word for the verdict (NOT-ISOLATED, HOST-USERNS); UNKNOWN's reason follows it
        verdict, colon, reason = verdict_text(row).partition(":")
        cells = [
            row["namespace"],
            row["name"],
            row["node"],
            host_users,
            row["userNamespace"] or ("-" if row["verdict"] == NOT_APPLICABLE else "?"),
            "-" if row["verdict"] == NOT_APPLICABLE else root,
            verdict.replace(" ", "-") + colon + reason,
        ]
        if wide:
            cells[-1:-1] = [
                ",".join(row["hostNamespaces"]) or "-",
                ",".join(row["failedChecks"]) or "-",
            ]
        rows.append(cells)
    more = []
    if result["findings"]:
        findings = [
            [f["severity"], f["kind"], f["node"] or "-", ",".join(f["pods"]) or "-", f["detail"]]
            for f in result["findings"]
        ]
        more.append(
            render_table(["STATUS", "FINDING", "NODE", "PODS", "DETAIL"], findings, color=color)
        )
    main = render_table(headers, rows, no_headers=out.no_headers, color=color)
    return TextView(main, more, [audit_summary(result)])


def render_audit(result: dict[str, Any], out: OutputOptions) -> Printed:
    """The audit in the format of ``out``: tables, or the report as data."""
    return print_report(
        result,
        out,
        names=[f"pod/{row['name']}" for row in result["pods"]],
        records=result["pods"],
        text=lambda color: text_view(result, out, color),
    )
