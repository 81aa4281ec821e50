"""Read YAML the way kubectl does, keeping where every node sits in the text.

kubectl turns YAML into JSON with sigs.k8s.io/yaml, which decodes with its copy of go-yaml v2
(goyaml.v2/): a YAML 1.1 reader. So ``yes``, ``on``, ``y``, ``True`` and ``TRUE`` are booleans,
``~`` and an empty value are null, ``0x1F`` and ``1_000`` are integers (goyaml.v2/resolve.go), and
of duplicate keys the last one wins (decode.go stores every pair into the map in order, outside
strict mode). Our own resolver below follows resolve.go; the events come from PyYAML's
pure-Python parser (a YAML 1.1 parser, as go-yaml v2 is a port of libyaml).

The nodes are composed here, without recursion, so that nesting depth and alias expansion are
bounded before anything grows: go-yaml v2 stops at depth 10000 and at "excessive aliasing"
(decode.go allowedAliasRatio); these limits are lower, since no Kubernetes object comes close.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from kubectl_userns.errors import InputError

MAX_DEPTH = 200
# nodes that aliases may add to a document when expanded (a billion-laughs document asks for
# ~10^9 and is refused as soon as the count passes this)
MAX_ALIAS_NODES = 100_000

MERGE = object()  # the value of a plain "<<" key: a YAML merge

_MAP = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), True),
    **dict.fromkeys(("on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), False),
    **dict.fromkeys(("off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
# strconv.ParseInt(s, 0, 64) after resolve.go removed every "_"
_GO_INT = re.compile(r"[+-]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")  # yamlStyleFloat
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_TIMESTAMP = re.compile(r"[0-9]{4}-")
_TAG = "tag:yaml.org,2002:"
_OPEN_RUN = re.compile(rf"[\[{{](?:[ \t\r\n]*[\[{{]){{{MAX_DEPTH}}}")


def _go_int(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body[:2] in ("0x", "0X"):
        return sign * int(body[2:], 16)
    if body[:2] in ("0o", "0O"):
        return sign * int(body[2:], 8)
    if body[:2] in ("0b", "0B"):
        return sign * int(body[2:], 2)
    if len(body) > 1 and body[0] == "0":
        return sign * int(body[1:], 8)
    return sign * int(body)


def resolve_plain(text: str) -> Any:
    """What go-yaml v2 makes of an untagged plain scalar (resolve.go resolve)."""
    if text in _MAP:
        return _MAP[text]
    if text == "<<":
        return MERGE
    first = text[0]
    if first == ".":
        return float(text) if _DOT_FLOAT.fullmatch(text) else text
    if first in "+-0123456789":
        if _TIMESTAMP.match(text):
            return text  # a timestamp; sigs.k8s.io/yaml writes it back as a string
        plain = text.replace("_", "")
        if _GO_INT.fullmatch(plain):
            return _go_int(plain)
        if _GO_FLOAT.fullmatch(plain):
            return float(plain)
        if plain.startswith("-0b") and re.fullmatch(r"-0b[01]+", plain):
            return -int(plain[3:], 2)
    return text


@dataclass(eq=False)
class Node:
    """A node with its place in the text: ``start``/``end`` are character offsets."""

    kind: str  # "scalar", "map" or "seq"
    start: int
    end: int
    line: int  # 0-based
    tag: str | None = None
    anchor: str | None = None
    value: str = ""
    style: str | None = None  # a scalar's: None = plain
    flow: bool = False
    # a map's pairs: (key, value, where the value is written: start, end) - an alias's own
    # span, not its anchor's, so that an edit touches only this use
    pairs: list[tuple[Node, Node, int, int]] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)
    size: int = 1  # nodes when every alias is expanded


@dataclass
class YAMLDocument:
    root: Node | None
    start: int
    end: int


def _fail(source: str, line: int | str, problem: str) -> InputError:
    return InputError(f"{source}: not valid YAML at line {line} ({problem}); fix the file.")


def compose(source: str, text: str) -> list[YAMLDocument]:
    """Every document of ``text`` as nodes; InputError for what kubectl would refuse too."""
    import yaml

    # PyYAML's scanner looks ahead over every open flow collection (stale_possible_simple_keys
    # runs over each of them per token), so "[[[[..." costs seconds before the first event
    # arrives: a run of more open brackets than the depth limit is refused before parsing
    deep = _OPEN_RUN.search(text)
    if deep:
        raise InputError(
            f"{source}: nested more than {MAX_DEPTH} levels deep at line "
            f"{text.count(chr(10), 0, deep.start()) + 1}; no Kubernetes object is, fix the file."
        )
    documents: list[YAMLDocument] = []
    stack: list[tuple[Node, Node | None]] = []  # open collections, with a map's pending key
    anchors: dict[str, Node] = {}
    open_anchors: set[str] = set()
    alias_nodes = 0
    root: Node | None = None
    doc_start = 0

    def add(node: Node, start: int, end: int) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        parent, key = stack[-1]
        if parent.kind == "seq":
            parent.items.append(node)
        elif key is None:
            stack[-1] = (parent, node)
        else:
            parent.pairs.append((key, node, start, end))
            stack[-1] = (parent, None)

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            assert event.start_mark is not None and event.end_mark is not None
            start, end = event.start_mark.index, event.end_mark.index
            line = event.start_mark.line
            if isinstance(event, yaml.DocumentStartEvent):
                anchors, open_anchors, alias_nodes, root, doc_start = {}, set(), 0, None, start
            elif isinstance(event, yaml.DocumentEndEvent):
                documents.append(YAMLDocument(root, doc_start, end))
            elif isinstance(event, yaml.ScalarEvent):
                node = Node(
                    "scalar", start, end, line, event.tag, event.anchor, event.value, event.style
                )
                if event.anchor:
                    anchors[event.anchor] = node
                add(node, start, end)
            elif isinstance(event, yaml.AliasEvent):
                target = anchors.get(event.anchor or "")
                if target is None:
                    raise _fail(source, line + 1, f"unknown anchor {event.anchor!r}")
                if event.anchor in open_anchors:
                    raise _fail(source, line + 1, f"anchor {event.anchor!r} contains itself")
                alias_nodes += target.size
                if alias_nodes > MAX_ALIAS_NODES:
                    raise InputError(
                        f"{source}: its aliases expand to more than {MAX_ALIAS_NODES} nodes "
                        f"(line {line + 1}); a YAML bomb is not read, expand them by hand."
                    )
                add(target, start, end)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(stack) >= MAX_DEPTH:
                    raise InputError(
                        f"{source}: nested more than {MAX_DEPTH} levels deep at line "
                        f"{line + 1}; no Kubernetes object is, fix the file."
                    )
                kind = "map" if isinstance(event, yaml.MappingStartEvent) else "seq"
                node = Node(kind, start, end, line, event.tag, event.anchor)
                node.flow = bool(event.flow_style)
                if event.anchor:
                    anchors[event.anchor] = node
                    open_anchors.add(event.anchor)
                stack.append((node, None))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                node, _ = stack.pop()
                node.end = end
                children = node.items or [v for _, v, _, _ in node.pairs]
                children += [k for k, _, _, _ in node.pairs]
                node.size = 1 + sum(child.size for child in children)
                if node.anchor:
                    open_anchors.discard(node.anchor)
                add(node, node.start, end)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line_no: int | str = mark.line + 1 if mark is not None else "?"
        raise _fail(source, line_no, _one_line(exc.problem or exc.context or "")) from None
    except yaml.YAMLError as exc:  # the reader's: a character YAML does not allow
        raise InputError(
            f"{source}: not valid YAML ({_one_line(str(exc))}); fix the file."
        ) from None
    return documents


def _one_line(text: str) -> str:
    return " ".join(text.split()).encode("ascii", "backslashreplace").decode()


class Viewer:
    """Builds the plain object kubectl sees from nodes, and remembers which node each mapping of
    it came from (``origin``)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.origin: dict[int, Node] = {}
        self._keep: list[Any] = []

    def scalar(self, node: Node) -> Any:
        tag = node.tag
        if tag is None or tag == "!":
            if tag is None and node.style is None:
                return resolve_plain(node.value)
            return node.value
        if tag in (_TAG + "str", _TAG + "binary") or not tag.startswith(_TAG):
            return node.value  # go-yaml keeps the text of a tag it does not resolve
        kind = tag[len(_TAG) :]
        if kind == "timestamp":
            return node.value
        value = resolve_plain(node.value)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        fits = {
            "bool": isinstance(value, bool),
            "int": number and isinstance(value, int),
            "float": number,
            "null": value is None,
        }.get(kind)
        if fits is None:
            return node.value  # a tag resolve.go does not resolve: the text, as go-yaml keeps it
        if not fits:
            raise InputError(
                f"{self.source}: line {node.line + 1}: cannot read {node.value!r} as !!{kind}; "
                "fix the file."
            )
        return float(value) if kind == "float" else value

    def key(self, node: Node) -> Any:
        if node.kind != "scalar":
            raise InputError(
                f"{self.source}: line {node.line + 1}: a mapping key is a collection, which "
                "kubectl cannot read; fix the file."
            )
        value = self.scalar(node)
        if value is MERGE:
            return MERGE
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is None:
            return "null"
        return value if isinstance(value, str) else str(value)

    def view(self, node: Node, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:  # aliases inside aliases nest deeper than the text does
            raise InputError(
                f"{self.source}: nested more than {MAX_DEPTH} levels deep once its aliases are "
                "expanded; no Kubernetes object is, fix the file."
            )
        if node.kind == "scalar":
            value = self.scalar(node)
            return "<<" if value is MERGE else value
        if node.kind == "seq":
            return [self.view(item, depth + 1) for item in node.items]
        merged: dict[str, Any] = {}
        own: dict[str, Any] = {}
        for key_node, value_node, _, _ in node.pairs:
            key = self.key(key_node)
            if key is MERGE:
                sources = value_node.items if value_node.kind == "seq" else [value_node]
                for part in sources:
                    if part.kind != "map":
                        raise InputError(
                            f"{self.source}: line {key_node.line + 1}: a merge (<<) needs a "
                            "mapping or a list of mappings; fix the file."
                        )
                    for k, v in self.view(part, depth + 1).items():
                        merged.setdefault(k, v)  # the first mapping of a merge list wins
            else:
                own[key] = self.view(value_node, depth + 1)  # the last duplicate wins
        result = {**merged, **own}
        self.origin[id(result)] = node
        self._keep.append(result)
        return result


def own_values(node: Node, source: str, name: str) -> list[tuple[Node, Node, int, int]]:
    """The pairs of a mapping node whose key reads as ``name``, in text order."""
    viewer = Viewer(source)
    return [pair for pair in node.pairs if pair[0].kind == "scalar" and viewer.key(pair[0]) == name]


def has_merge(node: Node, source: str) -> bool:
    viewer = Viewer(source)
    return any(p[0].kind == "scalar" and viewer.key(p[0]) is MERGE for p in node.pairs)
