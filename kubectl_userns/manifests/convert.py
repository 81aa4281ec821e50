"""``convert``: set ``hostUsers: false`` in every pod spec of existing manifests.

YAML is read and written with ruamel.yaml's round-trip mode, so comments, key order, quoting and
layout of everything untouched survive and a GitOps diff shows only the added lines.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubectl_userns.errors import InputError, NotFoundError

ERROR, WARN, INFO = "ERROR", "WARN", "INFO"
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
class Document:
    source: str
    data: Any
    is_json: bool
    text: str = ""  # the whole file the document came from (YAML edits are made in it)


@dataclass(frozen=True)
class _Edit:
    line: int  # 0-based line of the original text
    col: int
    kind: str  # "insert": a new line before `line`; "flip": true -> false at (line, col)


@dataclass
class Conversion:
    documents: list[Document] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    changed: int = 0
    edits: dict[str, list[_Edit]] = field(default_factory=dict)
    redump: set[str] = field(default_factory=set)  # sources that must be written anew

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == ERROR]


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def read_sources(paths: list[str], stdin_text: str | None = None) -> list[Document]:
    """Load every manifest document from files, directories (recursively) and ``-``."""
    documents: list[Document] = []
    for raw in paths:
        if raw == "-":
            documents += _parse("<stdin>", stdin_text or "")
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file()
            )
        elif path.is_file():
            files = [path]
        else:
            raise NotFoundError(f"{raw}: no such file or directory; pass -f FILE, DIR or -.")
        for file in files:
            try:
                text = file.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"{file}: cannot read it ({exc}).") from None
            documents += _parse(str(file), text, is_json=file.suffix == ".json")
    return documents


def _parse(source: str, text: str, is_json: bool = False) -> list[Document]:
    if is_json:
        try:
            return [Document(source, json.loads(text), True)]
        except ValueError as exc:
            line = getattr(exc, "lineno", "?")
            raise InputError(
                f"{source}: not valid JSON at line {line} ({exc}); fix the file."
            ) from None
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        docs = [d for d in _yaml().load_all(text) if d is not None]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else "?"
        raise InputError(
            f"{source}: not valid YAML at line {line} ({exc.problem or exc.context}); fix the file."
        ) from None
    except YAMLError as exc:
        raise InputError(f"{source}: not valid YAML ({exc}); fix the file.") from None
    return [Document(source, d, False, text) for d in docs]


def pod_specs(obj: Any, prefix: str = "") -> list[tuple[str, str, Any]]:
    """(object label, path, pod spec mapping) of every pod spec in an object or a List."""
    if not isinstance(obj, dict):
        return []
    kind = obj.get("kind")
    name = (obj.get("metadata") or {}).get("name", "?")
    label = f"{kind}/{name}"
    spec = obj.get("spec")
    found: list[tuple[str, str, Any]] = []
    if kind == "List" or (isinstance(kind, str) and kind.endswith("List") and "items" in obj):
        for index, item in enumerate(obj.get("items") or []):
            found += pod_specs(item, f"{prefix}items[{index}].")
    elif kind == "Pod" and isinstance(spec, dict):
        found.append((label, f"{prefix}spec", spec))
    elif kind in TEMPLATE_KINDS and isinstance(spec, dict):
        inner = (spec.get("template") or {}).get("spec")
        if isinstance(inner, dict):
            found.append((label, f"{prefix}spec.template.spec", inner))
    elif kind == "CronJob" and isinstance(spec, dict):
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        inner = (job.get("template") or {}).get("spec")
        if isinstance(inner, dict):
            found.append((label, f"{prefix}spec.jobTemplate.spec.template.spec", inner))
    elif kind == "PodTemplate":
        inner = (obj.get("template") or {}).get("spec")
        if isinstance(inner, dict):
            found.append((label, f"{prefix}template.spec", inner))
    return found


def conflicts(source: str, label: str, path: str, spec: Any) -> list[Finding]:
    """What in a pod spec fights with ``hostUsers: false``."""
    out = []

    def add(level: str, where: str, problem: str) -> None:
        out.append(Finding(level, source, label, f"{path}.{where}", problem))

    for key in ("hostNetwork", "hostPID", "hostIPC"):
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
            security = container.get("securityContext") or {}
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
                    "Unmasked is allowed only with hostUsers: false, which this adds",
                )
    for index, volume in enumerate(spec.get("volumes") or []):
        if not isinstance(volume, dict):
            continue
        where = f"volumes[{index}]"
        if "nfs" in volume:
            add(ERROR, f"{where}.nfs", "NFS cannot be idmapped, so the runtime fails the pod")
        if "hostPath" in volume:
            add(
                WARN,
                f"{where}.hostPath",
                "works only if the node's filesystem at that path can be idmapped",
            )
        medium = str((volume.get("emptyDir") or {}).get("medium", ""))
        if medium.startswith("HugePages"):
            add(WARN, f"{where}.emptyDir.medium", "hugetlbfs can be idmapped only from Linux 6.9")
    if spec.get("hostUsers") is True:
        add(WARN, "hostUsers", "explicitly true; left as it is unless --force is given")
    return out


def convert(documents: list[Document], *, force: bool = False) -> Conversion:
    """Set hostUsers: false where it is missing; collect the conflicts.

    The data is changed, and for YAML the edits are also recorded against the original text,
    so ``render`` can apply them line by line and leave every other byte as it was.
    """
    result = Conversion(documents=documents)
    for document in documents:
        for label, path, spec in pod_specs(document.data):
            result.findings += conflicts(document.source, label, path, spec)
            current = spec.get("hostUsers")
            if current is False or (current is True and not force):
                continue
            edit = None
            if current is True:
                if hasattr(spec, "lc"):
                    line, col = spec.lc.value("hostUsers")
                    edit = _Edit(line, col, "flip")
                spec["hostUsers"] = False
            else:
                if hasattr(spec, "lc") and not spec.fa.flow_style():
                    edit = _Edit(spec.lc.line, spec.lc.col, "insert")
                if hasattr(spec, "insert"):
                    spec.insert(0, "hostUsers", False)
                else:
                    spec["hostUsers"] = False
            if edit is not None:
                result.edits.setdefault(document.source, []).append(edit)
            else:
                result.redump.add(document.source)
            result.changed += 1
    return result


def _apply(text: str, edits: list[_Edit]) -> str:
    lines = text.splitlines(keepends=True)
    for edit in sorted(edits, key=lambda e: (e.line, e.col), reverse=True):
        if edit.kind == "insert":
            at = edit.line
            # above the comment lines that belong to the spec's first key
            while (
                at > 0
                and lines[at - 1].strip().startswith("#")
                and (len(lines[at - 1]) - len(lines[at - 1].lstrip()) == edit.col)
            ):
                at -= 1
            lines.insert(at, " " * edit.col + "hostUsers: false\n")
        else:
            line = lines[edit.line]
            lines[edit.line] = line[: edit.col] + line[edit.col :].replace("true", "false", 1)
    return "".join(lines)


def render(result: Conversion, fmt: str | None) -> str:
    """The converted manifests: the original YAML text with only the hostUsers lines changed,
    or JSON for JSON input (or ``-o json``)."""
    documents = result.documents
    if fmt == "json" or (fmt is None and documents and all(d.is_json for d in documents)):
        data = [d.data for d in documents]
        single = data[0] if len(data) == 1 else {"apiVersion": "v1", "kind": "List", "items": data}
        return json.dumps(single, indent=2) + "\n"
    parts: list[str] = []
    seen: set[str] = set()
    for document in documents:
        if document.source in seen:
            continue
        seen.add(document.source)
        mine = [d for d in documents if d.source == document.source]
        if document.is_json or document.source in result.redump:
            yaml = _yaml()
            stream = io.StringIO()
            yaml.dump_all([d.data for d in mine], stream)
            text = stream.getvalue()
        else:
            text = _apply(document.text, result.edits.get(document.source, []))
        if parts and not text.lstrip().startswith("---"):
            text = "---\n" + text
        parts.append(text if text.endswith("\n") else text + "\n")
    return "".join(parts)
