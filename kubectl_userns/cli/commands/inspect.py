"""``kubectl userns inspect POD``: prove on the node that a pod is isolated."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kubectl_userns.cli import flags as f
from kubectl_userns.cli.flagsets import API_FLAGS, OUTPUT_FLAGS, NodeFlags, node_flags, with_flags
from kubectl_userns.cli.render import (
    Printed,
    TextView,
    as_list,
    emit,
    print_report,
    render_table,
)
from kubectl_userns.errors import (
    EXIT_CHECK_FAILED,
    NotFoundError,
    NotLinuxError,
    PodCgroupNotFoundError,
    PodNotRunningError,
    ProbeError,
    UsageError,
    UsernsError,
)
from kubectl_userns.options import (
    AddressType,
    ClusterOptions,
    NodeAccessOptions,
    OutputFormat,
    OutputOptions,
)
from kubectl_userns.text import one_line

if TYPE_CHECKING:
    from kubectl_userns.access.probe_pod import PodAccessOptions
    from kubectl_userns.checks.pod import PodFacts

HELP = """Prove on the node that a pod is isolated by its user namespace.

Reads the pod from the API, reaches its node (SSH by default, one connection and one
read-only script), finds the pod's cgroup, and for every container process reads the host
UID/GID, uid_map, gid_map and user namespace. Then checks what a user namespace promises:
a private, non-root, non-overlapping ID range, shared by the pod's containers, matching what
the kubelet allocated. Several pods (names, or -l) give one report each; the exit code is
the worst of theirs. Exit 0 when every check holds, 1 when one fails."""

EPILOG = """Examples:
  kubectl userns inspect testpod
  kubectl userns inspect -l app=web -o custom-columns=POD:.pod.name,RESULT:.summary.result
  kubectl userns inspect web -n shop -c nginx -o wide
  kubectl userns inspect testpod -o json
  kubectl userns inspect testpod --ssh-user admin --ssh-key ~/.ssh/nodes
  kubectl userns inspect testpod --local   # on the node itself
  kubectl userns inspect testpod --via pod # no SSH: a short-lived probe pod on the node"""


@with_flags(OUTPUT_FLAGS, node_flags(), API_FLAGS)
def inspect(
    pods: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="POD...",
            help="Names of the pods (or pod/NAME); or none with -l.",
            show_default=False,
        ),
    ] = None,
    selector: f.Selector = None,
    container: Annotated[
        str | None,
        typer.Option(
            "--container", "-c", metavar="NAME", help="Only this container.", show_default=False
        ),
    ] = None,
    *,
    out: OutputOptions,
    node: NodeFlags,
    api: ClusterOptions,
) -> None:
    names = [_pod_name(name) for name in pods or []]
    if names and selector is not None:
        raise UsageError("give pod names or -l SELECTOR, not both (kubectl refuses both too).")
    if not names and selector is None:
        raise UsageError("give a pod name (or several), or -l SELECTOR.")
    access, pod_access = node.access, node.pod_access
    if selector is not None:
        names = _selected(api, selector)
    if len(names) == 1 and selector is None:  # one pod: its report, errors as they are
        report = run_inspect(names[0], container, api, access, pod_access=pod_access)
        emit(render_report(report, out))
        raise typer.Exit(EXIT_CHECK_FAILED if report["summary"]["failed"] else 0)
    # several: one report per pod; a pod that cannot be inspected is an error line, the
    # others go on; the exit code is the worst
    reports: list[dict[str, Any]] = []
    worst = 0
    for name in names:
        try:
            report = run_inspect(name, container, api, access, pod_access=pod_access)
        except UsernsError as exc:
            typer.echo(f"error: {one_line(exc.message)}", err=True)
            worst = max(worst, exc.exit_code)
            continue
        reports.append(report)
        worst = max(worst, EXIT_CHECK_FAILED if report["summary"]["failed"] else 0)
    emit(render_reports(reports, out))
    raise typer.Exit(worst)


def _pod_name(name: str) -> str:
    """POD or kubectl's pod/POD; another TYPE/NAME is a usage error."""
    kind, slash, rest = name.partition("/")
    if slash:
        if kind not in ("pod", "pods", "po"):
            raise UsageError(f"inspect takes a pod, not {kind}/{rest}; give POD or pod/POD.")
        return rest
    return name


def _selected(api: ClusterOptions, selector: str) -> list[str]:
    """The names of the pods -l selects, in name order; none is an error (exit 2)."""
    from kubectl_userns.access.api import KubeClient

    client = KubeClient.from_options(api)
    pods = client.list_pods(client.namespace, label_selector=selector)
    names = sorted(str((p.get("metadata") or {}).get("name", "")) for p in pods)
    if not names:
        raise NotFoundError(
            f'no pod in namespace "{client.namespace}" matches -l {selector}; list them with '
            f"'kubectl get pods -n {client.namespace} -l {selector}'."
        )
    return names


def run_inspect(
    pod_name: str,
    container: str | None,
    cluster: ClusterOptions,
    access: NodeAccessOptions,
    *,
    pod_access: PodAccessOptions | None = None,
) -> dict[str, Any]:
    """Read the pod, probe its node once (SSH, or a probe pod), and judge what it saw."""
    import threading

    from kubectl_userns.access.api import KubeClient
    from kubectl_userns.access.api_values import checked_host
    from kubectl_userns.access.node import NodeRunner, node_address, open_runner
    from kubectl_userns.access.ssh import SSHRunner
    from kubectl_userns.checks.operating_system import node_os, pod_operating_system
    from kubectl_userns.checks.pod import build_report, ids_per_pod_in_force, pod_facts
    from kubectl_userns.probe import load_script
    from kubectl_userns.probe.pod_dump import parse_pod_dump

    client = KubeClient.from_options(cluster)
    pod = client.get_pod(_pod_name(pod_name))
    facts = pod_facts(pod)
    phase = (pod.get("status") or {}).get("phase", "Unknown")
    where = f'pod "{facts.name}" in namespace "{facts.namespace}"'
    if not facts.node:
        raise PodNotRunningError(
            f"{where} is not scheduled to a node yet (phase {phase}); inspect it once it runs."
        )
    if phase != "Running":
        raise PodNotRunningError(
            f"{where} is {phase}, so it has no processes to inspect; inspect a running pod."
        )
    names = sorted(set(facts.containers.values()))
    if container is not None and container not in names:
        raise NotFoundError(
            f'container "{container}" is not in {where} (containers: {", ".join(names)}).'
        )
    uid = probe_uid(facts)
    node_obj: dict[str, Any] | None = None
    with contextlib.suppress(UsernsError):  # without 'get' on nodes inspect still goes on
        node_obj = client.get_node(facts.node)
    os_name = pod_operating_system(pod, node_os(node_obj) if node_obj is not None else "")
    if os_name not in ("", "linux"):
        asks = " (it asks for hostUsers: false, which that node cannot give)"
        raise NotLinuxError(
            f"{where} runs on node {facts.node}, a {os_name} node: user namespaces are Linux "
            f"only, so there is nothing to inspect{asks if facts.user_namespace_requested else ''}."
        )
    address = None
    runner: NodeRunner
    if pod_access is not None:
        from kubectl_userns.access.via_pod import PodRunner

        runner = PodRunner(client, facts.node, pod_access, kubelet_root=access.kubelet_root)
    else:
        if not access.local and not access.ssh_host:
            if access.ssh_address_type is AddressType.InternalIP:
                host_ip = (pod.get("status") or {}).get("hostIP")
                address = checked_host(host_ip, facts.node, "status.hostIP")
            if not address:
                kind = access.ssh_address_type.value
                found = node_address(
                    node_obj or client.get_node(facts.node), access.ssh_address_type
                )
                address = checked_host(found, facts.node, f"{kind} address")
        runner = open_runner(facts.node, address, access)
    # open the SSH connection while the API answers the configz request
    failure: list[BaseException] = []

    def connect() -> None:
        try:
            if isinstance(runner, SSHRunner):
                runner.connect()
        except BaseException as exc:  # re-raised in the main thread below
            failure.append(exc)

    connecting = threading.Thread(target=connect, daemon=True)
    connecting.start()
    try:
        config, why = client.get_configz(facts.node)
        version = node_kubelet_version(node_obj)
        connecting.join()
        if failure:
            raise failure[0]
        root = access.probe_root(sees_node=pod_access is None)
        output = runner.run(load_script("inspect"), [root, uid])
    finally:
        runner.close()
    if output.exit_status != 0:
        raise ProbeError(
            f"the probe failed on node {facts.node} (exit {output.exit_status}: "
            f"{output.stderr.strip()[:200] or 'no message'}); check that the node has a POSIX sh."
        )
    dump = parse_pod_dump(output.stdout, facts.node_uid, facts.node)
    if dump.malformed:
        raise ProbeError(
            f"the probe's records of {where} on node {facts.node} are malformed "
            f"({'; '.join(dump.malformed)}); this is a bug or an unusual /proc - please report it."
        )
    if dump.pod_dir is None:
        raise PodCgroupNotFoundError(
            f"the cgroup of {where} was not found on node {facts.node} (tried "
            f"{', '.join(dump.tried) or 'no cgroup mount'}); is this the pod's node, and does "
            "the kubelet use the systemd or cgroupfs driver?"
        )
    from kubectl_userns.checks.pod import judged_processes

    if not judged_processes(facts, dump, container):
        held = ", ".join(str(p.pid) for p in dump.processes)
        what = f"only runtime processes (PIDs {held})" if held else "no process"
        raise PodCgroupNotFoundError(
            f"{where} has no running container on node {facts.node}: its cgroup "
            f"{dump.pod_dir} holds {what} and no pod sandbox to judge from (CrashLoopBackOff "
            "or restarting?); inspect it once a container runs."
        )
    lengths = tuple(
        m.length
        for record in ([dump.record] if dump.record else []) + list(dump.other_records.values())
        for m in record.uid_mappings[:1]
    )
    ids = ids_per_pod_in_force(config, why, version, lengths)
    return build_report(
        facts, dump, ids_per_pod=ids.value, ids_source=ids.source, container=container
    )


def probe_uid(facts: PodFacts) -> str:
    """The UID the kubelet knows the pod by on its node (the probe's argument), checked: the
    API's metadata.uid, or a static pod's config hash from its mirror annotation."""
    from kubectl_userns.access.api_values import checked_uid

    field = "metadata.uid" if facts.node_uid == facts.uid else "kubernetes.io/config.mirror"
    return checked_uid(facts.node_uid, f"{facts.namespace}/{facts.name}", field)


def node_kubelet_version(node: dict[str, Any] | None) -> str:
    """The kubelet version a Node object reports ("" when unknown)."""
    info = ((node or {}).get("status") or {}).get("nodeInfo") or {}
    return str(info.get("kubeletVersion") or "") if isinstance(info, dict) else ""


def _map_cell(text: str | None) -> str:
    """``0 4980736 65536, ...`` as one word: ``0:4980736:65536,...`` (``-`` when empty)."""
    if not text or text == "(empty)":
        return "-"
    return ",".join(":".join(part.split()) for part in text.split(", "))


def process_rows(report: dict[str, Any], wide: bool) -> list[list[Any]]:
    rows = []
    for proc in report["processes"]:
        label = (
            proc["container"] if proc["role"] == "app" else f"{proc['container']}/{proc['role']}"
        )
        user = (
            f"{proc['uid']}(HOST-ROOT)"
            if proc["hostRoot"] and proc["role"] == "app"
            else proc["uid"]
        )
        inside = "-" if proc["uidInPod"] is None else proc["uidInPod"]
        row = [
            label,
            proc["pid"],
            user,
            inside,
            proc["userNamespace"],
            _map_cell(proc["uidMap"]),
            _map_cell(proc["gidMap"]),
            proc["command"],
        ]
        if wide:
            cgroup = proc["cgroup"]
            pod_dir = report["podCgroup"] or ""
            if pod_dir and cgroup.startswith(pod_dir):
                cgroup = "." + cgroup[len(pod_dir) :]
            row[-1:-1] = [cgroup, proc["containerID"][:13] or "-"]
        rows.append(row)
    return rows


PROCESS_HEADERS = ["CONTAINER", "PID", "USER", "UID-IN-POD", "USERNS", "UID-MAP", "GID-MAP"]


def text_view(report: dict[str, Any], out: OutputOptions, color: bool) -> TextView:
    """The processes table, then the checks table, then one summary line."""
    from kubectl_userns.checks.pod import summary_line

    wide = out.format is OutputFormat.wide
    headers = [*PROCESS_HEADERS, *(["CGROUP", "CONTAINER-ID"] if wide else []), "COMMAND"]
    rows = process_rows(report, wide)
    checks = [[c["id"], c["status"], c["detail"]] for c in report["checks"]]
    more = [render_table(["CHECK", "STATUS", "DETAIL"], checks, color=color)]
    if report["vanishedPIDs"]:
        gone = ", ".join(str(p) for p in report["vanishedPIDs"])
        more.insert(0, f"(PIDs {gone} exited while being read; not counted)")
    main = render_table(headers, rows, no_headers=out.no_headers, color=color)
    return TextView(main, more, [summary_line(report)])


def render_report(report: dict[str, Any], out: OutputOptions) -> Printed:
    """The report in the format of ``out``: tables, or the report as data."""
    return print_report(
        report,
        out,
        names=[f"pod/{report['pod']['name']}"],
        records=[report],
        text=lambda color: text_view(report, out, color),
    )


def several_view(reports: list[dict[str, Any]], out: OutputOptions, color: bool) -> TextView:
    """Several pods: one process table and one check table, each with a POD column first."""
    from kubectl_userns.checks.pod import summary_line

    wide = out.format is OutputFormat.wide
    headers = ["POD", *PROCESS_HEADERS, *(["CGROUP", "CONTAINER-ID"] if wide else []), "COMMAND"]
    rows = [[r["pod"]["name"], *row] for r in reports for row in process_rows(r, wide)]
    checks = [
        [r["pod"]["name"], c["id"], c["status"], c["detail"]] for r in reports for c in r["checks"]
    ]
    more = [render_table(["POD", "CHECK", "STATUS", "DETAIL"], checks, color=color)]
    for report in reports:
        if report["vanishedPIDs"]:
            gone = ", ".join(str(p) for p in report["vanishedPIDs"])
            more.insert(0, f"({report['pod']['name']}: PIDs {gone} exited while being read)")
    main = render_table(headers, rows, no_headers=out.no_headers, color=color) if rows else ""
    return TextView(main, more if reports else [], [summary_line(r) for r in reports])


def render_reports(reports: list[dict[str, Any]], out: OutputOptions) -> Printed:
    """Several reports: a v1 List as data, or the tables of all pods."""
    return print_report(
        as_list(reports),
        out,
        names=[f"pod/{r['pod']['name']}" for r in reports],
        records=reports,
        text=lambda color: several_view(reports, out, color),
    )
