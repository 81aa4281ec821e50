"""``kubectl userns verify-node NODE``: what stands between a node and user namespaces."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from kubectl_userns.access.probe_pod import PodAccessOptions
from kubectl_userns.cli.flagsets import (
    API_FLAGS_NO_NAMESPACE,
    OUTPUT_FLAGS,
    NodeFlags,
    node_flags,
    with_flags,
)
from kubectl_userns.cli.render import (
    Printed,
    TextView,
    emit,
    print_report,
    render_table,
)
from kubectl_userns.errors import (
    EXIT_CHECK_FAILED,
    APIError,
    APIRefusedError,
    HostKeyError,
    NodeAuthError,
    NodeUnreachableError,
    NotFoundError,
    ProbeError,
    UsernsError,
)
from kubectl_userns.options import (
    ClusterOptions,
    NodeAccessOptions,
    OutputFormat,
    OutputOptions,
)
from kubectl_userns.text import printable

if TYPE_CHECKING:
    from kubectl_userns.access.api import KubeClient

HELP = """Check a node's prerequisites for user namespaces and say what to fix.

Reads the Node object and the kubelet's live configuration from the API, then checks the node
itself in one read-only round trip (SSH, or a short-lived probe pod with --via pod): kernel,
container and OCI runtime versions, the kubelet's subordinate ID pool, cgroup version,
max_user_namespaces, idmap support of the kubelet root's filesystem, and stale per-pod ID
records. A Windows node fails node-os and is not contacted. Exit 0 when nothing fails, 1 when
a check fails, 2 when the name matches no node or several, 3 when the node cannot be
reached."""

EPILOG = """Examples:
  kubectl userns verify-node wk2
  kubectl userns verify-node k8s-fedora-wk2 -o yaml
  kubectl userns verify-node wk2 --probe   # also mount an idmapped tmpfs to prove support
  kubectl userns verify-node wk2 --via pod # no SSH: a short-lived probe pod on the node"""


@with_flags(
    OUTPUT_FLAGS,
    node_flags(target="node_access"),
    API_FLAGS_NO_NAMESPACE,
)
def verify_node(
    node: Annotated[
        str,
        typer.Argument(
            metavar="NODE", help="Node name, or an unambiguous part of it.", show_default=False
        ),
    ],
    probe: Annotated[
        bool,
        typer.Option(
            "--probe",
            help="Prove idmapped-mount support by creating one in a private, throw-away mount "
            "namespace on the node (mounts, so it is opt-in; with --via pod the probe pod is "
            "then privileged).",
        ),
    ] = False,
    *,
    out: OutputOptions,
    node_access: NodeFlags,
    api: ClusterOptions,
) -> None:
    cluster, access, pod_access = api, node_access.access, node_access.pod_access
    report, node_error = run_verify_node(node, cluster, access, probe=probe, pod_access=pod_access)
    emit(render_report(report, out))
    if node_error is not None:
        raise node_error  # exit 3 at the boundary, after the API part of the report
    raise typer.Exit(EXIT_CHECK_FAILED if report["summary"]["failed"] else 0)


def find_node(client: KubeClient, query: str) -> dict[str, Any]:
    """The Node object for a full name, or for an unambiguous part of one."""
    from kubectl_userns.cli.names import resolve_node_name

    try:
        return client.get_node(query)
    except NotFoundError:
        pass
    nodes = {str((n.get("metadata") or {}).get("name", "")): n for n in client.list_nodes()}
    return nodes[resolve_node_name(query, list(nodes))]


def run_verify_node(
    query: str,
    cluster: ClusterOptions,
    access: NodeAccessOptions,
    *,
    probe: bool,
    pod_access: PodAccessOptions | None = None,
) -> tuple[dict[str, Any], UsernsError | None]:
    """Read the Node and the kubelet's config, probe the node once, and judge.

    With ``pod_access`` the probe runs in a probe pod chrooted into the node's root filesystem
    (privileged only for ``--probe``, which mounts), so it reads what it reads over SSH.

    Returns the report and, when the node could not be reached or probed, the error to raise
    after printing the API part of the report.
    """
    import threading

    from kubectl_userns.access.api import KubeClient
    from kubectl_userns.access.api_values import checked_host
    from kubectl_userns.access.node import NodeRunner, node_address, open_runner
    from kubectl_userns.access.ssh import SSHRunner
    from kubectl_userns.checks.node import (
        Context,
        build_report,
        node_info,
        settings_from_configz,
        settings_from_node,
    )
    from kubectl_userns.probe import load_script
    from kubectl_userns.probe.node_dump import NodeDump, parse_node_dump

    client = KubeClient.from_options(cluster)
    node_obj = find_node(client, query)
    info = node_info(node_obj)
    name = info.name
    if not info.is_linux:
        # a Windows node has no user namespaces to verify: judged from the API alone, never
        # contacted (no SSH, no probe pod)
        ctx = Context(
            info=info,
            settings=settings_from_node(None, ""),
            dump=None,
            kubelet_root=access.kubelet_root,
            probe_requested=probe,
            pods={},
        )
        return build_report(ctx), None
    node_error: UsernsError | None = None
    runner: NodeRunner | None = None
    if pod_access is not None:
        from kubectl_userns.access.via_pod import PodRunner

        runner = PodRunner(
            client,
            name,
            pod_access,
            kubelet_root=access.kubelet_root,
            host_root=True,
            privileged=probe,
        )
    else:
        try:
            address = None
            if not access.local and not access.ssh_host:
                found = node_address(node_obj, access.ssh_address_type)
                address = checked_host(found, name, f"{access.ssh_address_type.value} address")
            runner = open_runner(name, address, access)
        except (NodeUnreachableError, HostKeyError, NodeAuthError, APIError) as exc:
            node_error = exc  # e.g. no address of that type: the API checks still run

    # the SSH handshake, /configz and the node's pod list all run at the same time
    connect_error: list[UsernsError] = []
    pods: dict[str, str] = {}

    def connect() -> None:
        try:
            if isinstance(runner, SSHRunner):
                runner.connect()
        except UsernsError as exc:
            connect_error.append(exc)

    def list_pods() -> None:
        try:
            items = client.list_pods(None, field_selector=f"spec.nodeName={name}")
        except UsernsError:
            return  # names are a courtesy: without them the report shows pod UIDs only
        for pod in items:
            meta = pod.get("metadata") or {}
            pods[str(meta.get("uid", ""))] = f"{meta.get('namespace')}/{meta.get('name')}"

    threads = [threading.Thread(target=f, daemon=True) for f in (connect, list_pods)]
    for thread in threads:
        thread.start()
    dump: NodeDump | None = None
    try:
        configz, configz_problem = client.get_configz(name)
        threads[0].join()
        if connect_error:
            node_error = connect_error[0]
        if runner is not None and node_error is None:
            # "-": the probe finds the root on the running kubelet's command line
            root_arg = access.probe_root()
            args = [root_arg, *(["probe"] if probe else [])]
            try:
                output = runner.run(load_script("node"), args)
                if output.exit_status != 0:
                    raise ProbeError(
                        f"the node probe failed on node {name} (exit {output.exit_status}: "
                        f"{output.stderr.strip()[:200] or 'no message'}); check that the node "
                        "has a POSIX sh."
                    )
                dump = parse_node_dump(output.stdout, name)
            except (
                NodeUnreachableError,
                HostKeyError,
                NodeAuthError,
                ProbeError,
                APIRefusedError,  # --via pod: a probe pod the API does not allow
            ) as exc:
                node_error = exc
        threads[1].join()
    finally:
        if runner is not None:
            runner.close()
    if configz is not None:
        settings = settings_from_configz(configz)
    else:
        settings = settings_from_node(dump, configz_problem)
    ctx = Context(
        info=info,
        settings=settings,
        dump=dump,
        kubelet_root=dump.kubelet_root if dump is not None else access.kubelet_root,
        probe_requested=probe,
        pods=dict(pods),
    )
    report = build_report(ctx, node_error=node_error.message if node_error else "")
    return report, node_error


def text_view(report: dict[str, Any], out: OutputOptions, color: bool) -> TextView:
    """The checklist table, the fixes as numbered lines and a summary line."""
    from kubectl_userns.checks.node import summary_line

    wide = out.format is OutputFormat.wide
    # the free-text columns last, so that the words before them split on blanks
    headers = ["CHECK", "STATUS", "SOURCE", "OBSERVED", "EXPECTED"]
    if wide:
        headers.append("FIX")
    rows = []
    fixes: list[str] = []
    for check in report["checks"]:
        row = [check["id"], check["status"], check["source"], check["observed"], check["expected"]]
        if wide:
            row.append(check["fix"] or "-")
        rows.append(row)
        if check["fix"] and check["status"] in ("FAIL", "WARN"):
            # escaped here: the view keeps colour codes, and a fix quotes the node's own text
            fixes.append(f"{len(fixes) + 1}. {check['id']}: {printable(check['fix'])}")
    more = []
    if fixes and not wide:
        more.append("\n".join(["Fixes:", *fixes]))
    main = render_table(headers, rows, no_headers=out.no_headers, color=color)
    return TextView(main, more, [summary_line(report)])


def render_report(report: dict[str, Any], out: OutputOptions) -> Printed:
    """The report in the format of ``out``: tables, or the report as data."""
    return print_report(
        report,
        out,
        names=[f"node/{report['node']['name']}"],
        records=report["checks"],
        text=lambda color: text_view(report, out, color),
    )
