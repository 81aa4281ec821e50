"""``convert``: set ``hostUsers: false`` in every pod spec of existing manifests.

YAML is edited in its text, at the positions of the nodes (:mod:`.yamlread`): a
``hostUsers: false`` line is inserted, or an existing value is replaced in place, and every other
byte stays as it was, so a GitOps diff shows only those lines. What counts is what kubectl reads
(YAML 1.1 booleans, the last of duplicate keys), so the edited text is read again that way and
every pod spec must read ``hostUsers: false`` before anything is reported as converted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kubectl_userns.errors import InputError
from kubectl_userns.manifests import yamlread
from kubectl_userns.manifests.sources import Source, parse
from kubectl_userns.manifests.yamlwrite import to_yaml

ERROR, WARN, INFO = "ERROR", "WARN", "INFO"
ABSENT = object()  # a pod spec without hostUsers
TEMPLATE_KINDS = {
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
}


@dataclass(frozen=True)
class Finding:
    level: str
    source: str
    obj: str
    path: str
    problem: str


@dataclass
class Conversion:
    sources: list[Source]
    findings: list[Finding] = field(default_factory=list)
    changed: int = 0
    output: list[tuple[Source, str]] = field(default_factory=list)  # YAML: the edited texts
    converted: list[list[Any]] = field(default_factory=list)  # objects after the edit, per source

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == ERROR]


# --- finding pod specs ------------------------------------------------------------------------


def pod_specs(obj: Any, prefix: str = "") -> list[tuple[str, str, dict[str, Any]]]:
    """(object label, path, pod spec mapping) of every pod spec in an object or a List."""
    if not isinstance(obj, dict):
        return []
    kind = obj.get("kind")
    metadata = obj.get("metadata")
    name = metadata.get("name", "?") if isinstance(metadata, dict) else "?"
    label = f"{kind}/{name}"
    spec = obj.get("spec")
    found: list[tuple[str, str, dict[str, Any]]] = []

    def inner(parent: Any, *keys: str) -> Any:
        for key in keys:
            parent = parent.get(key) if isinstance(parent, dict) else None
        return parent if isinstance(parent, dict) else None

    items = obj.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        for index, item in enumerate(items):
            found += pod_specs(item, f"{prefix}items[{index}].")
    elif kind == "Pod" and isinstance(spec, dict):
        found.append((label, f"{prefix}spec", spec))
    elif kind in TEMPLATE_KINDS and (pod := inner(spec, "template", "spec")) is not None:
        found.append((label, f"{prefix}spec.template.spec", pod))
    elif kind == "CronJob" and (pod := inner(spec, "jobTemplate", "spec", "template", "spec")):
        found.append((label, f"{prefix}spec.jobTemplate.spec.template.spec", pod))
    elif kind == "PodTemplate" and (pod := inner(obj, "template", "spec")) is not None:
        found.append((label, f"{prefix}template.spec", pod))
    return found


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def windows(spec: dict[str, Any]) -> bool:
    return bool(_get(spec.get("os"), "name") == "windows")


def conflicts(source: str, label: str, path: str, spec: dict[str, Any]) -> list[Finding]:
    """What in a pod spec fights with ``hostUsers: false``."""
    out = []

    def add(level: str, where: str, problem: str) -> None:
        out.append(Finding(level, source, label, f"{path}.{where}", problem))

    if windows(spec):
        # kubernetes pkg/apis/core/validation: hostUsers is forbidden for spec.os.name windows
        add(
            ERROR if "hostUsers" in spec else WARN,
            "os.name",
            "a Windows pod cannot have hostUsers (the API rejects it for spec.os.name: windows); "
            "left as it is",
        )
        return out
    if spec.get("hostNetwork") is True:
        add(
            ERROR,
            "hostNetwork",
            "the API rejects it together with hostUsers: false, unless the cluster (1.35+) "
            "enables the alpha feature gate UserNamespacesHostNetworkSupport; --force writes "
            "hostUsers: false anyway",
        )
    for key in ("hostPID", "hostIPC"):
        if spec.get(key) is True:
            add(ERROR, key, "the API rejects it together with hostUsers: false")
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in enumerate(spec.get(group) or []):
            if not isinstance(container, dict):
                continue
            where = f"{group}[{index}]"
            if container.get("volumeDevices"):
                add(
                    ERROR,
                    f"{where}.volumeDevices",
                    "raw block devices are not supported in a user namespace",
                )
            security = container.get("securityContext")
            security = security if isinstance(security, dict) else {}
            if security.get("privileged") is True:
                add(
                    WARN,
                    f"{where}.securityContext.privileged",
                    "privileged is root only inside the pod's user namespace; check the "
                    "workload still works",
                )
            if security.get("procMount") == "Unmasked":
                add(
                    INFO,
                    f"{where}.securityContext.procMount",
                    "Unmasked needs hostUsers: false, which this sets; Pod Security baseline "
                    "allows it for such pods from policy v1.35, restricted at no version",
                )
    for index, volume in enumerate(_dicts(spec.get("volumes"))):
        where = f"volumes[{index}]"
        if "nfs" in volume:
            add(ERROR, f"{where}.nfs", "NFS cannot be idmapped, so the runtime fails the pod")
        if "hostPath" in volume:
            add(
                WARN,
                f"{where}.hostPath",
                "works only if the node's filesystem at that path can be idmapped",
            )
        medium = str(_get(volume.get("emptyDir"), "medium") or "")
        if medium.startswith("HugePages"):
            add(WARN, f"{where}.emptyDir.medium", "hugetlbfs can be idmapped only from Linux 6.9")
    return out


# --- converting --------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{type(value).__name__} {value!r}"


class _Edits:
    """Text edits of one YAML source: (start, end, replacement), applied from the end."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.edits: set[tuple[int, int, str]] = set()

    def replace(self, start: int, end: int, new: str) -> None:
        old = self.text[start:end]
        self.edits.add((start, end, new + old[len(old.rstrip()) :]))  # keep a line break

    def apply(self) -> str:
        text = self.text
        for start, end, new in sorted(self.edits, reverse=True):
            text = text[:start] + new + text[end:]
        return text


def _insert_point(text: str, node: yamlread.Node) -> tuple[int, str] | None:
    """Where a first key goes in a mapping node, and the text to insert there."""
    if node.flow:
        brace = text.find("{", node.start, node.end)
        if brace < 0:
            return None
        return brace + 1, "hostUsers: false" + (", " if node.pairs else "")
    if not node.pairs:
        return None
    first = node.pairs[0][0].start
    line_start = text.rfind("\n", 0, first) + 1
    if text[line_start:first].strip(" "):
        return None  # the first key shares its line with something else ("- key:", "? key")
    indent = first - line_start
    line_end = text.find("\n", first)
    newline = "\r\n" if line_end > 0 and text[line_end - 1] == "\r" else "\n"
    at = line_start
    # above the comment lines of the first key, when they are indented like it
    while at > 0:
        previous = text.rfind("\n", 0, at - 1) + 1
        line = text[previous:at].rstrip("\r\n")
        if line.strip().startswith("#") and len(line) - len(line.lstrip(" ")) == indent:
            at = previous
        else:
            break
    return at, " " * indent + "hostUsers: false" + newline


def convert(sources: list[Source], *, force: bool = False) -> Conversion:
    """Set hostUsers: false where kubectl would not read it as false; collect the conflicts;
    edit each YAML text and check the edit reads back as intended."""
    result = Conversion(sources=sources)
    for source in sources:
        edits = _Edits(source.text)
        wanted: list[bool] = []  # per pod spec: must read hostUsers: false after the edit
        before: list[Any] = []
        for obj in source.objects:
            for label, path, spec in pod_specs(obj):
                findings = conflicts(source.name, label, path, spec)
                result.findings += findings
                before.append(spec.get("hostUsers", ABSENT))
                if windows(spec):
                    wanted.append(False)
                    continue
                blocking = any(f.level == ERROR for f in findings)
                done = _convert_spec(source, spec, label, path, edits, result, force=force)
                wanted.append(done and (force or not blocking))
        if source.is_json:
            output = source.objects
            text = ""
        else:
            text = edits.apply()
            output = parse(source.name, text).objects if edits.edits else source.objects
        after = [spec.get("hostUsers", ABSENT) for o in output for _, _, spec in pod_specs(o)]
        if len(after) != len(wanted):
            raise InputError(
                f"{source.name}: the edited text does not read back as the same objects; "
                "nothing was written: set hostUsers: false by hand."
            )
        for index, must in enumerate(wanted):
            if must and after[index] is not False:
                raise InputError(
                    f"{source.name}: after the edit kubectl would still read hostUsers "
                    f"{_describe(after[index])}; nothing was written: set it by hand."
                )
            if must and before[index] is not False:
                result.changed += 1
        result.output.append((source, text))
        result.converted.append(output)
    return result


def _convert_spec(
    source: Source,
    spec: dict[str, Any],
    label: str,
    path: str,
    edits: _Edits,
    result: Conversion,
    *,
    force: bool,
) -> bool:
    """Edit one pod spec (the data, and the YAML text). False: left as it is, with a finding."""

    def report(level: str, problem: str) -> bool:
        result.findings.append(Finding(level, source.name, label, f"{path}.hostUsers", problem))
        return False

    current = spec.get("hostUsers", ABSENT)
    if current is True and not force:
        return report(WARN, "explicitly true; left as it is unless --force is given")
    if not (current is True or current is False or current is None or current is ABSENT) and (
        not force
    ):
        return report(
            ERROR,
            f"is {_describe(current)}, which the API rejects (it must be true or false); "
            "--force writes false",
        )
    if source.is_json:
        if current is ABSENT:
            items = list(spec.items())
            spec.clear()
            spec["hostUsers"] = False
            spec.update(items)
        else:
            spec["hostUsers"] = False
        return True
    assert source.viewer is not None
    node = source.viewer.origin[id(spec)]
    own = yamlread.own_values(node, source.name, "hostUsers")
    if not own and yamlread.has_merge(node, source.name) and current is not ABSENT:
        if current is False:
            return True
        return report(
            ERROR,
            "comes from a YAML merge key (<<); set hostUsers: false in this mapping by hand",
        )
    if not own:
        point = _insert_point(source.text, node)
        if point is None:
            return report(ERROR, "this mapping's layout leaves no line for it; add it by hand")
        edits.edits.add((point[0], point[0], point[1]))
        return True
    canonical = all(
        value.kind == "scalar" and value.value == "false" and value.style is None
        and value.tag is None and (start, end) == (value.start, value.end)
        for _, value, start, end in own
    )  # fmt: skip
    if current is False and canonical:
        return False  # nothing to do: already false, however kubectl or another tool reads it
    for _key, value, start, end in own:
        if value.anchor and (start, end) == (value.start, value.end):
            return report(
                ERROR, f"carries the YAML anchor &{value.anchor}; set it to false by hand"
            )
    if len(own) > 1:
        lines = ", ".join(str(k.line + 1) for k, _, _, _ in own)
        report(INFO, f"given {len(own)} times (lines {lines}; kubectl reads the last); all set")
    elif current is False:
        report(INFO, "kubectl reads it as false, YAML 1.2 tools may not; written as false")
    for key, _value, start, end in own:
        if start == end:  # an empty value: write after the colon
            colon = source.text.find(":", key.end)
            edits.edits.add((colon + 1, colon + 1, " false"))
        else:
            edits.replace(start, end, "false")
    return True


# --- writing -----------------------------------------------------------------------------------


def render(result: Conversion, fmt: str | None) -> str:
    """The converted manifests: each YAML text with only its hostUsers lines changed, or JSON
    for JSON input (or ``-o json``)."""
    sources = result.sources
    if fmt == "json" or (fmt is None and sources and all(s.is_json for s in sources)):
        data = [obj for objects in result.converted for obj in objects]
        single = data[0] if len(data) == 1 else {"apiVersion": "v1", "kind": "List", "items": data}
        try:
            return json.dumps(single, indent=2, allow_nan=False) + "\n"
        except ValueError:
            raise InputError(
                "a value is .inf or .nan, which JSON cannot hold (nor can kubectl send it); "
                "fix the file or use -o yaml."
            ) from None
    parts: list[str] = []
    for (source, text), objects in zip(result.output, result.converted, strict=True):
        if source.is_json:
            docs = [to_yaml(obj) for obj in objects if isinstance(obj, dict)]
            text = "---\n".join(docs)
            if [o for o in parse(source.name, text).objects] != [
                o for o in objects if isinstance(o, dict)
            ]:
                raise InputError(f"{source.name}: cannot be written as YAML as read; use -o json.")
        if not text.strip():
            continue
        if parts and not text.lstrip().startswith("---"):
            text = "---\n" + text
        parts.append(text if text.endswith("\n") else text + "\n")
    return "".join(parts)
