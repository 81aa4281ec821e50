"""One kubeconfig file as YAML nodes with line numbers: every error names the file and line.

The walk reads only the fields it is asked for (so anchors and aliases cannot make it expand
anything), accepts only YAML's plain tags, and uses libyaml's parser when present (linear, with
a nesting limit; PyYAML's own parser is quadratic on deep nesting).
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Any

import yaml

from kubectl_userns.errors import KubeconfigError
from kubectl_userns.text import quoted


class YamlFile:
    """One kubeconfig file's YAML nodes, walked with line numbers for every error."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.base = path.resolve().parent
        try:
            try:
                self._loader = _Loader(text)
                self.root = self._loader.get_single_node()
            except yaml.reader.ReaderError as exc:
                number = text[: max(exc.position, 0)].count("\n") + 1
                raise KubeconfigError(
                    f"kubeconfig {path} line {number}: not valid YAML (a control character); fix "
                    "the file or point --kubeconfig or KUBECONFIG at another one."
                ) from None
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                line = f" line {mark.line + 1}" if mark is not None else ""
                problem = exc.problem or exc.context or "invalid YAML"
                raise KubeconfigError(
                    f"kubeconfig {path}{line}: not valid YAML ({quoted(problem)}); fix the "
                    "file or point --kubeconfig or KUBECONFIG at another one."
                ) from None
            except yaml.YAMLError as exc:
                raise KubeconfigError(
                    f"kubeconfig {path}: not valid YAML ({quoted(exc)}); fix the file or "
                    "point --kubeconfig or KUBECONFIG at another one."
                ) from None
            except RecursionError:
                raise KubeconfigError(
                    f"kubeconfig {path}: nested too deeply to be a kubeconfig; fix the file or "
                    "point --kubeconfig or KUBECONFIG at another one."
                ) from None
        finally:
            if hasattr(self, "_loader"):
                self._loader.dispose()

    def fail(self, node: yaml.Node | None, problem: str) -> KubeconfigError:
        line = f" line {node.start_mark.line + 1}" if node is not None else ""
        return KubeconfigError(
            f"kubeconfig {self.path}{line}: {problem}; fix the file or point --kubeconfig or "
            "KUBECONFIG at another one."
        )

    def mapping(self, node: yaml.Node | None, where: str) -> dict[str, yaml.Node]:
        """A mapping node's entries by key (null is an empty mapping, as in Go)."""
        if node is None or is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(
                node, f"{where} must be a mapping, not {_kind(node, self.scalar(node))}"
            )
        entries: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise self.fail(key, f"{where} has a key that is not a string")
            entries[str(key.value)] = value
        return entries

    def sequence(self, node: yaml.Node | None, where: str) -> list[yaml.Node]:
        if node is None or is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{where} must be a list, not {_kind(node, self.scalar(node))}")
        return list(node.value)

    def scalar(self, node: yaml.Node | None) -> Any:
        if node is None or is_null(node):
            return None
        if not isinstance(node, yaml.ScalarNode):
            return node  # the caller reports the wrong kind
        if node.tag not in _PLAIN_TAGS:
            raise self.fail(node, f"the YAML tag {quoted(node.tag)} is not allowed here")
        try:
            return yaml.SafeLoader("").construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError):
            return node.value

    def string(self, node: yaml.Node | None, where: str) -> str | None:
        value = self.scalar(node)
        if value is None:
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
            return str(value)
        if isinstance(value, str):
            return value
        raise self.fail(node, f"{where} must be a string, not {_kind(node, value)}")

    def boolean(self, node: yaml.Node | None, where: str) -> bool:
        value = self.scalar(node)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        raise self.fail(node, f"{where} must be true or false, not {_kind(node, value)}")

    def strings(self, node: yaml.Node | None, where: str) -> tuple[str, ...]:
        out = []
        for index, item in enumerate(self.sequence(node, where)):
            value = self.string(item, f"{where}[{index}]")
            if value is not None:
                out.append(value)
        return tuple(out)

    def data(self, node: yaml.Node | None, where: str) -> bytes | None:
        text = self.string(node, where)
        if text is None or not text:
            return None
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise self.fail(node, f"{where} is not base64 data") from None

    def path_value(self, node: yaml.Node | None, where: str) -> str | None:
        value = self.string(node, where)
        if not value:
            return None
        return value if os.path.isabs(value) else str(self.base / value)

    def named(self, key: str, inner: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """The ``name``/``inner`` entries of a top-level list (``clusters``, ...)."""
        top = self.mapping(self.root, "the kubeconfig")
        seen: set[str] = set()
        out = []
        for index, item in enumerate(self.sequence(top.get(key), key)):
            entry = self.mapping(item, f"{key}[{index}]")
            name = self.string(entry.get("name"), f"{key}[{index}].name")
            if not name:
                raise self.fail(item, f"{key}[{index}] has no name")
            if name in seen:
                raise self.fail(item, f'{key}[{index}]: the name "{quoted(name)}" is used twice')
            seen.add(name)
            body = entry.get(inner)
            self.mapping(body, f"{key}[{index}].{inner}")  # type check now, read later
            if body is None or is_null(body):  # an empty body, with the entry's line
                body = yaml.MappingNode("tag:yaml.org,2002:map", [], item.start_mark)
            out.append((name, body, item))
        return out


# libyaml's parser when present: linear, with a nesting limit (PyYAML's own is quadratic on
# deep nesting: 5000 '[' take seconds)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_PLAIN_TAGS = {
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "timestamp", "binary")
}


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _kind(node: yaml.Node | None, value: Any = None) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "a string" if isinstance(value, str) else "a scalar"


def read_file(path: Path) -> YamlFile | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise KubeconfigError(
            f"kubeconfig {path} is a directory; point --kubeconfig or KUBECONFIG at a file."
        ) from None
    except OSError as exc:
        raise KubeconfigError(
            f"cannot read the kubeconfig {path}: {exc.strerror or exc}; point --kubeconfig or "
            "KUBECONFIG at a readable file."
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise KubeconfigError(
            f"kubeconfig {path} line {line}: not UTF-8 text; fix the file or point --kubeconfig "
            "or KUBECONFIG at another one."
        ) from None
    return YamlFile(path, text)
