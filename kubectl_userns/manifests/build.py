"""Manifests with ``hostUsers: false``: builders (plain data) and a small, fast YAML writer.

The writer exists so ``new-pod`` prints the Kubernetes documentation's example byte for byte
(``command: ["sleep", "infinity"]``) and starts without importing a YAML library.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from kubectl_userns.errors import UsageError

KINDS = ("pod", "deployment", "statefulset", "daemonset", "job", "cronjob")
DEFAULT_IMAGE = "debian"
DEFAULT_COMMAND = ("sleep", "infinity")
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class PodRequest:
    """What the user asked ``new-pod`` for, validated."""

    name: str = "testpod"
    container: str = "shell"
    image: str = DEFAULT_IMAGE
    command: tuple[str, ...] = DEFAULT_COMMAND
    namespace: str | None = None
    kind: str = "pod"
    replicas: int | None = None
    schedule: str | None = None
    restricted: bool = False

    @classmethod
    def from_flags(
        cls,
        *,
        args: list[str],
        image: str,
        container: str | None,
        namespace: str | None,
        kind: str,
        replicas: int | None,
        schedule: str | None,
        restricted: bool,
    ) -> PodRequest:
        name = args[0] if args else "testpod"
        command = tuple(args[1:])
        for label, value in (
            ("NAME", name),
            ("--namespace", namespace),
            ("--container", container),
        ):
            if value is not None and (len(value) > 63 or not _DNS1123.match(value)):
                raise UsageError(
                    f"{label} {value!r} is not a valid name: use at most 63 lower-case letters, "
                    "digits and '-', starting and ending with a letter or digit."
                )
        if kind not in KINDS:
            raise UsageError(f"--kind {kind!r} is not one of {', '.join(KINDS)}.")
        if replicas is not None and kind not in ("deployment", "statefulset"):
            raise UsageError(
                f"--replicas only applies to --kind deployment or statefulset, not {kind}."
            )
        if replicas is not None and replicas < 0:
            raise UsageError("--replicas cannot be negative.")
        if schedule is not None and kind != "cronjob":
            raise UsageError(f"--schedule only applies to --kind cronjob, not {kind}.")
        if schedule is not None and len(schedule.split()) != 5 and not schedule.startswith("@"):
            raise UsageError(
                f"--schedule {schedule!r} is not a cron schedule: give five fields, such as "
                "'*/5 * * * *', or a macro such as @hourly."
            )
        if not command and image == DEFAULT_IMAGE:
            command = DEFAULT_COMMAND  # debian's default shell would exit at once
        return cls(
            name=name,
            container=container or ("shell" if not args else name),
            image=image,
            command=command,
            namespace=namespace,
            kind=kind,
            replicas=replicas,
            schedule=schedule or ("@hourly" if kind == "cronjob" else None),
            restricted=restricted,
        )


def pod_spec(request: PodRequest, restart_policy: str | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": request.container}
    if request.command:
        container["command"] = list(request.command)
    container["image"] = request.image
    spec: dict[str, Any] = {"hostUsers": False}
    if restart_policy:
        spec["restartPolicy"] = restart_policy
    if request.restricted:
        # Pod Security "restricted" without runAsNonRoot: for pods with hostUsers: false the
        # policy no longer requires it (userns-facts.md section 1).
        spec["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}
        container["securityContext"] = {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        }
    spec["containers"] = [container]
    return spec


def build_manifest(request: PodRequest) -> dict[str, Any]:
    """The object ``new-pod`` prints."""
    metadata: dict[str, Any] = {"name": request.name}
    if request.namespace:
        metadata["namespace"] = request.namespace
    if request.kind == "pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec(request)}
    labels = {"app": request.name}
    metadata["labels"] = dict(labels)

    def template(restart: str | None = None) -> dict[str, Any]:
        return {"metadata": {"labels": dict(labels)}, "spec": pod_spec(request, restart)}

    if request.kind in ("deployment", "statefulset", "daemonset"):
        kind = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet"}[
            request.kind
        ]
        spec: dict[str, Any] = {}
        if request.kind != "daemonset":
            spec["replicas"] = 1 if request.replicas is None else request.replicas
        if request.kind == "statefulset":
            spec["serviceName"] = request.name
        spec["selector"] = {"matchLabels": dict(labels)}
        spec["template"] = template()
        return {"apiVersion": "apps/v1", "kind": kind, "metadata": metadata, "spec": spec}
    if request.kind == "job":
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata,
            "spec": {"template": template("Never")},
        }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata,
        "spec": {
            "schedule": request.schedule,
            "jobTemplate": {"spec": {"template": template("OnFailure")}},
        },
    }


# --- a YAML writer for these manifests -----------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./ :-]*$")
_SPECIAL = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    plain = (
        _PLAIN.match(text)
        and text.lower() not in _SPECIAL
        and not text.endswith(":")
        and ": " not in text
        and not re.match(r"^[-+]?[0-9.]+$", text)
    )
    return text if plain else json.dumps(text)


def to_yaml(data: dict[str, Any], indent: int = 0) -> str:
    """YAML in kubectl's documentation style: lists of scalars in flow style, keys in order."""
    lines: list[str] = []
    pad = " " * indent
    for key, value in data.items():
        if isinstance(value, dict):
            if value:
                lines.append(f"{pad}{key}:")
                lines.append(to_yaml(value, indent + 2).rstrip("\n"))
            else:
                lines.append(f"{pad}{key}: {{}}")
        elif isinstance(value, list):
            if value and all(isinstance(v, dict) for v in value):
                lines.append(f"{pad}{key}:")
                for item in value:
                    body = to_yaml(item, indent + 2).rstrip("\n").splitlines()
                    lines.append(f"{pad}- {body[0].lstrip()}")
                    lines.extend(body[1:])
            else:
                lines.append(f"{pad}{key}: [{', '.join(json.dumps(v) for v in value)}]")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"
