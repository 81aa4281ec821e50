"""``kubectl userns convert``: add ``hostUsers: false`` to existing manifests."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer

from kubectl_userns.errors import EXIT_CHECK_FAILED, UsageError

HELP = """Set spec.hostUsers: false in every pod spec of existing manifests, and report conflicts.

Reads files, pipes, directories (recursively: .yaml, .yml, .json; each file once) or - for
stdin: multi-document YAML, JSON (JSON in gives JSON out), List objects, Pods and the pod
templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs and
CronJobs. YAML is read as kubectl reads it (yes, on, True are booleans; the last of duplicate keys
wins): an existing hostUsers that is not false is replaced in place, never shadowed, and the
result is read back before it is reported. Comments, key order and layout are kept, so a diff
shows only the hostUsers lines. Fields that conflict with user namespaces are reported on stderr
first; errors (hostNetwork, hostPID, hostIPC, volumeDevices, NFS volumes, a hostUsers that is not
a boolean) make the command write nothing and exit 1 unless --force is given. Windows pods are
reported and left as they are."""

EPILOG = """Examples:
  kubectl userns convert -f deploy.yaml > deploy.userns.yaml
  kubectl userns convert -f manifests/ -o json
  kubectl get deploy web -o yaml | kubectl userns convert -f - | kubectl apply -f -"""


class ConvertFormat(str, Enum):
    yaml = "yaml"
    json = "json"


def convert(
    filename: Annotated[
        list[str],
        typer.Option(
            "--filename",
            "-f",
            metavar="FILE|DIR|-",
            help="Manifest file, directory, or - for stdin (repeatable).",
            show_default=False,
        ),
    ],
    output: Annotated[
        ConvertFormat | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FORMAT",
            case_sensitive=False,
            help="yaml or json (default: as the input).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write the result even when conflicts are errors, and "
            "turn an explicit hostUsers: true into false.",
        ),
    ] = False,
) -> None:
    from kubectl_userns.manifests.convert import convert as run
    from kubectl_userns.manifests.convert import render
    from kubectl_userns.manifests.sources import read_sources

    if filename.count("-") > 1:
        raise UsageError("-f - can be given once: stdin is read only once.")
    stdin_text = sys.stdin.read() if "-" in filename else None
    sources = read_sources(filename, stdin_text)
    result = run(sources, force=force)
    text = render(result, output.value if output else None) if force or not result.errors else ""
    for finding in result.findings:
        typer.echo(
            f"{finding.level}: {finding.source}: {finding.obj} {finding.path}: {finding.problem}",
            err=True,
        )
    errors = result.errors
    if errors and not force:
        typer.echo(
            f"error: {len(errors)} conflict(s) would make the API or the runtime reject these "
            "objects with hostUsers: false; fix them or use --force. Nothing was written.",
            err=True,
        )
        raise typer.Exit(EXIT_CHECK_FAILED)
    typer.echo(text, nl=False)
    plural = "" if result.changed == 1 else "s"
    typer.echo(f"set hostUsers: false in {result.changed} pod spec{plural}", err=True)
