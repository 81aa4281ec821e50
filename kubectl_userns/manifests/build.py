"""Manifests with ``hostUsers: false``: the builders of ``new-pod`` (plain data, with a note on
each field set for the restricted policy); written as YAML by :mod:`.yamlwrite`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kubectl_userns.errors import UsageError

KINDS = ("pod", "deployment", "statefulset", "daemonset", "job", "cronjob")
DEFAULT_IMAGE = "debian"
DEFAULT_COMMAND = ("sleep", "infinity")

# Names as the API validates them (k8s.io/apimachinery pkg/util/validation/validation.go
# IsDNS1123Label, IsDNS1123Subdomain). fullmatch, not match with `$`: `$` also matches before a
# final newline, which let "testpod\n" through.
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_MAX, SUBDOMAIN_MAX = 63, 253
# kubernetes pkg/apis/batch/validation/validation.go: a CronJob name leaves room for the Job
# names the controller derives from it (11 characters of suffix).
CRONJOB_NAME_MAX = 52

# Pod Security policy versions whose rules new-pod --restricted is built and tested against
# (kubernetes/pod-security-admission v0.30.0 .. v0.36.x, and master at 1.37.0-alpha for v1.37;
# tests/psa.py encodes the rules, tests/test_new_pod.py checks every output against them).
OLDEST_POLICY = (1, 30)
NEWEST_POLICY = (1, 37)
# From policy v1.35 restricted allows any runAsNonRoot / runAsUser for pods with hostUsers:
# false (policy/check_runAsNonRoot.go runAsNonRoot1_35, check_runAsUser.go runAsUser1_35, new
# in v0.35.0). Before, the relaxation needed the alpha gate UserNamespacesPodSecurityStandards.
USERNS_RELAXED_FROM = (1, 35)
# The UID the container runs as when runAsNonRoot is needed: the kubelet refuses to start a
# runAsNonRoot container whose user it cannot prove non-root (an image's USER may be a name or
# root), so the UID is given. In a user namespace it is an unprivileged ID of the pod's own range.
RESTRICTED_UID = 1000


def parse_policy_version(text: str) -> tuple[int, int]:
    """``v1.35`` or ``1.35`` -> (1, 35), within the versions this program knows."""
    match = re.fullmatch(r"v?1\.(0|[1-9][0-9]{0,2})", text)
    known = f"v{OLDEST_POLICY[0]}.{OLDEST_POLICY[1]} to v{NEWEST_POLICY[0]}.{NEWEST_POLICY[1]}"
    if text == "latest":
        raise UsageError(
            "--pss-version latest means the API server's own version, which a manifest cannot "
            f"know; give the namespace's enforce-version ({known}), or leave the flag out for a "
            "manifest that passes at every version."
        )
    if not match:
        raise UsageError(
            f"--pss-version {text!r} is not a Pod Security policy version; give one such as "
            f"v1.35 ({known})."
        )
    version = (1, int(match.group(1)))
    if not OLDEST_POLICY <= version <= NEWEST_POLICY:
        raise UsageError(
            f"--pss-version {text} is outside the policy versions this version of "
            f"kubectl-userns knows ({known})."
        )
    return version


def _utf8(label: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"{label} {value!r} is not valid UTF-8, which a manifest must be."
        ) from None


def _check_name(label: str, value: str, *, subdomain: bool, limit: int, what: str) -> None:
    pattern = _SUBDOMAIN if subdomain else _LABEL
    if len(value) <= limit and pattern.fullmatch(value):
        return
    chars = (
        "lower-case letters, digits, '-' and '.'"
        if subdomain
        else ("lower-case letters, digits and '-'")
    )
    ends = "each part between dots " if subdomain else ""
    raise UsageError(
        f"{label} {value!r} is not a valid {what}: use at most {limit} {chars}, "
        f"{ends}starting and ending with a letter or digit."
    )


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
    # the Pod Security policy version to target; None = every version this program knows
    pss_version: tuple[int, int] | None = None

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
        pss_version: str | None = None,
    ) -> PodRequest:
        name = args[0] if args else "testpod"
        command = tuple(args[1:])
        if kind not in KINDS:
            raise UsageError(f"--kind {kind!r} is not one of {', '.join(KINDS)}.")
        _utf8("NAME", name)
        if kind == "pod":
            _check_name("NAME", name, subdomain=True, limit=SUBDOMAIN_MAX, what="pod name")
        else:
            # workloads carry the name as the value of their `app` label as well, and a label
            # value is at most 63 characters (IsValidLabelValue)
            limit = CRONJOB_NAME_MAX if kind == "cronjob" else LABEL_MAX
            _check_name("NAME", name, subdomain=True, limit=limit, what=f"{kind} name")
        if namespace is not None:
            _utf8("--namespace", namespace)
            _check_name(
                "--namespace", namespace, subdomain=False, limit=LABEL_MAX, what="namespace name"
            )
        if container is not None:
            _utf8("--container", container)
            _check_name(
                "--container", container, subdomain=False, limit=LABEL_MAX, what="container name"
            )
        elif args and not (len(name) <= LABEL_MAX and _LABEL.fullmatch(name)):
            raise UsageError(
                f"NAME {name!r} cannot also name the container (a container name has no dots "
                "and at most 63 characters); give one with --container."
            )
        _utf8("--image", image)
        if not image or image != image.strip():
            raise UsageError(
                f"--image {image!r} is not an image: give a non-empty name without leading or "
                "trailing white space."
            )
        for word in command:
            _utf8("COMMAND", word)
        if replicas is not None and kind not in ("deployment", "statefulset"):
            raise UsageError(
                f"--replicas only applies to --kind deployment or statefulset, not {kind}."
            )
        if replicas is not None and replicas < 0:
            raise UsageError("--replicas cannot be negative.")
        if schedule is not None and kind != "cronjob":
            raise UsageError(f"--schedule only applies to --kind cronjob, not {kind}.")
        if schedule is not None:
            _utf8("--schedule", schedule)
            if len(schedule.split()) != 5 and not schedule.startswith("@"):
                raise UsageError(
                    f"--schedule {schedule!r} is not a cron schedule: give five fields, such as "
                    "'*/5 * * * *', or a macro such as @hourly."
                )
        version = None
        if pss_version is not None:
            if not restricted:
                raise UsageError(
                    "--pss-version only applies with --restricted: it says which Pod Security "
                    "policy version the restricted manifest must pass."
                )
            version = parse_policy_version(pss_version)
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
            pss_version=version,
        )

    @property
    def needs_run_as_non_root(self) -> bool:
        """Whether restricted at the targeted policy versions demands runAsNonRoot: true."""
        return self.pss_version is None or self.pss_version < USERNS_RELAXED_FROM


@dataclass(frozen=True)
class Manifest:
    """An object to print, with the comments its YAML form carries (keyed by field path, list
    items written ``[]``: ``spec.containers[].securityContext``)."""

    data: dict[str, Any]
    notes: dict[str, str] = field(default_factory=dict)


# Why --restricted sets each field (kubernetes/pod-security-admission policy/*.go, v0.30-v0.36).
NOTE_RUN_AS_NON_ROOT = (
    "Pod Security restricted below policy v1.35 demands this even with hostUsers: false"
)
NOTE_RUN_AS_USER = (
    "a non-root UID the kubelet can check against runAsNonRoot (the image may run as root)"
)
NOTE_SECCOMP = "restricted at every policy version: RuntimeDefault or Localhost"
NOTE_ESCALATION = "restricted at every policy version"
NOTE_CAPABILITIES = (
    "restricted at every policy version: drop ALL (only NET_BIND_SERVICE may be added back)"
)
NOTE_RELAXED = (
    "from policy v1.35 restricted allows root in a pod with hostUsers: false: no runAsNonRoot"
)


def pod_spec(
    request: PodRequest, restart_policy: str | None = None, prefix: str = "spec"
) -> tuple[dict[str, Any], dict[str, str]]:
    """The pod spec and the comments on its restricted fields."""
    notes: dict[str, str] = {}
    container: dict[str, Any] = {"name": request.container}
    if request.command:
        container["command"] = list(request.command)
    container["image"] = request.image
    spec: dict[str, Any] = {"hostUsers": False}
    if restart_policy:
        spec["restartPolicy"] = restart_policy
    if request.restricted:
        security: dict[str, Any] = {}
        if request.needs_run_as_non_root:
            security["runAsNonRoot"] = True
            security["runAsUser"] = RESTRICTED_UID
            notes[f"{prefix}.securityContext.runAsNonRoot"] = NOTE_RUN_AS_NON_ROOT
            notes[f"{prefix}.securityContext.runAsUser"] = NOTE_RUN_AS_USER
        else:
            notes[f"{prefix}.hostUsers"] = NOTE_RELAXED
        security["seccompProfile"] = {"type": "RuntimeDefault"}
        notes[f"{prefix}.securityContext.seccompProfile"] = NOTE_SECCOMP
        spec["securityContext"] = security
        container["securityContext"] = {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        }
        where = f"{prefix}.containers[].securityContext"
        notes[f"{where}.allowPrivilegeEscalation"] = NOTE_ESCALATION
        notes[f"{where}.capabilities"] = NOTE_CAPABILITIES
    spec["containers"] = [container]
    return spec, notes


def build(request: PodRequest) -> Manifest:
    """The object ``new-pod`` prints, with the comments of its YAML form."""
    metadata: dict[str, Any] = {"name": request.name}
    if request.namespace:
        metadata["namespace"] = request.namespace
    if request.kind == "pod":
        spec, notes = pod_spec(request)
        data = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
        return Manifest(data, notes)
    labels = {"app": request.name}
    metadata["labels"] = dict(labels)
    found: dict[str, str] = {}

    def template(prefix: str, restart: str | None = None) -> dict[str, Any]:
        inner, notes = pod_spec(request, restart, f"{prefix}.spec")
        found.update(notes)
        return {"metadata": {"labels": dict(labels)}, "spec": inner}

    if request.kind in ("deployment", "statefulset", "daemonset"):
        kind = {"deployment": "Deployment", "statefulset": "StatefulSet", "daemonset": "DaemonSet"}[
            request.kind
        ]
        spec = {}
        if request.kind != "daemonset":
            spec["replicas"] = 1 if request.replicas is None else request.replicas
        if request.kind == "statefulset":
            spec["serviceName"] = request.name
        spec["selector"] = {"matchLabels": dict(labels)}
        spec["template"] = template("spec.template")
        data = {"apiVersion": "apps/v1", "kind": kind, "metadata": metadata, "spec": spec}
    elif request.kind == "job":
        data = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata,
            "spec": {"template": template("spec.template", "Never")},
        }
    else:
        data = {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": metadata,
            "spec": {
                "schedule": request.schedule,
                "jobTemplate": {
                    "spec": {"template": template("spec.jobTemplate.spec.template", "OnFailure")}
                },
            },
        }
    return Manifest(data, found)


def build_manifest(request: PodRequest) -> dict[str, Any]:
    """The object ``new-pod`` prints, as plain data."""
    return build(request).data


# --- a YAML writer for these manifests -----------------------------------------------------
