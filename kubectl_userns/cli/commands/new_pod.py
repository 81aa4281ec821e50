"""``kubectl userns new-pod``: print a manifest that asks for a user namespace."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated

import typer

from kubectl_userns.manifests.build import PodRequest, build
from kubectl_userns.manifests.yamlwrite import to_yaml

HELP = """Print a manifest with spec.hostUsers: false (a pod in its own user namespace).

With no arguments it prints the Kubernetes documentation's example: pod testpod, container
shell, image debian, command sleep infinity. For workload kinds hostUsers: false goes into the
pod template. The output is ready for 'kubectl apply -f -'."""

EPILOG = """Examples:
  kubectl userns new-pod
  kubectl userns new-pod | kubectl apply -f -
  kubectl userns new-pod web --image nginx --kind deployment --replicas 3 --restricted
  kubectl userns new-pod web --restricted --pss-version v1.35
  kubectl userns new-pod nightly --kind cronjob --schedule '0 3 * * *' -- /bin/backup --all
  kubectl userns new-pod testpod -n shop -o json"""


class ManifestFormat(str, Enum):
    yaml = "yaml"
    json = "json"


class Kind(str, Enum):
    pod = "pod"
    deployment = "deployment"
    statefulset = "statefulset"
    daemonset = "daemonset"
    job = "job"
    cronjob = "cronjob"


def new_pod(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[NAME] [-- COMMAND [ARGS...]]",
            help="Name of the object (default testpod), then the container's command after --.",
            show_default=False,
        ),
    ] = None,
    image: Annotated[
        str, typer.Option("--image", metavar="IMAGE", help="Container image.")
    ] = "debian",
    container: Annotated[
        str | None,
        typer.Option(
            "--container",
            "-c",
            metavar="NAME",
            help="Container name (default: shell for the example, else NAME).",
            show_default=False,
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            "-n",
            metavar="NAMESPACE",
            help="Set metadata.namespace.",
            show_default=False,
        ),
    ] = None,
    kind: Annotated[
        Kind, typer.Option("--kind", case_sensitive=False, help="What to create.")
    ] = Kind.pod,
    replicas: Annotated[
        int | None,
        typer.Option(
            "--replicas",
            metavar="N",
            help="Replicas (deployment, statefulset; default 1).",
            show_default=False,
        ),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            "--schedule",
            metavar="CRON",
            help="Cron schedule (cronjob; default @hourly).",
            show_default=False,
        ),
    ] = None,
    restricted: Annotated[
        bool,
        typer.Option(
            "--restricted",
            help="Pass Pod Security 'restricted' at every policy version v1.30 to v1.37: seccomp "
            "RuntimeDefault, allowPrivilegeEscalation false, drop ALL capabilities (all "
            "versions), and runAsNonRoot with runAsUser 1000 (below v1.35 restricted demands "
            "them even with hostUsers: false). The YAML says why in comments.",
        ),
    ] = False,
    pss_version: Annotated[
        str | None,
        typer.Option(
            "--pss-version",
            metavar="VERSION",
            help="With --restricted: the namespace's Pod Security enforce-version (v1.30 to "
            "v1.37); v1.35 and later allow root in a hostUsers: false pod, so runAsNonRoot "
            "and runAsUser are left out.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        ManifestFormat,
        typer.Option(
            "--output", "-o", metavar="FORMAT", help="yaml or json.", case_sensitive=False
        ),
    ] = ManifestFormat.yaml,
) -> None:
    request = PodRequest.from_flags(
        args=list(args or []),
        image=image,
        container=container,
        namespace=namespace,
        kind=Kind(kind).value,
        replicas=replicas,
        schedule=schedule,
        restricted=restricted,
        pss_version=pss_version,
    )
    manifest = build(request)
    if ManifestFormat(output) is ManifestFormat.json:
        typer.echo(json.dumps(manifest.data, indent=2))
    else:
        typer.echo(to_yaml(manifest.data, manifest.notes), nl=False)
