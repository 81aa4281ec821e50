"""kubectl's ``-o jsonpath=TEMPLATE`` and ``-o custom-columns=SPEC`` over report objects.

The JSONPath expressions themselves are evaluated by jsonpath-ng (its ``ext`` dialect, which
has filters); this module only reads kubectl's template around them, as kubectl's parser does
(k8s.io/client-go/util/jsonpath/parser.go and jsonpath.go):

- text outside ``{...}`` is printed as it is; ``{"\\n"}`` and ``{'\\n'}`` print a quoted string
  literal, with Go's escapes (kubectl's UnquoteExtend: strconv.UnquoteChar, either quote);
- ``{.a.b}``, ``{@.a}``, ``{$.a}`` and ``{a.b}`` all start at the current object (kubectl
  resets its root to the item inside ``range``, so ``$`` there is the item as well);
- ``{range EXPR}...{end}`` repeats the part inside for every result of EXPR;
- several results of one expression are printed separated by one space, as kubectl does;
- a key that is missing prints nothing (kubectl get's --allow-missing-template-keys=true).

Where it differs from kubectl: a map or list prints as compact JSON, null prints as nothing,
and inside a filter ``[?(...)]`` field names are jsonpath-ng's (letters, digits and ``_``;
quote others: ``@['app-name']``).

custom-columns follows kubectl's k8s.io/kubectl/pkg/cmd/get/customcolumn.go: ``HEADER:EXPR``
pairs split at ``,``, each EXPR relaxed to ``{.EXPR}``, several results joined with ``,``, a
missing value printed as ``<none>``.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from kubectl_userns.errors import UsageError

NONE = "<none>"


@dataclass(frozen=True)
class Node:
    """One piece of a template: ``text``, ``expr``, ``range`` (with ``body``) or ``end``."""

    kind: str
    value: str = ""
    body: tuple[Node, ...] = ()


def _split(template: str) -> list[tuple[str, str]]:
    """The template as (``text`` | ``action``, string) pieces; braces inside quotes are text."""
    pieces: list[tuple[str, str]] = []
    i = 0
    while i < len(template):
        start = template.find("{", i)
        if start < 0:
            pieces.append(("text", template[i:]))
            break
        if start > i:
            pieces.append(("text", template[i:start]))
        j = start + 1
        quote = ""
        while j < len(template):
            ch = template[j]
            if quote:
                if ch == "\\":
                    j += 1
                elif ch == quote:
                    quote = ""
            elif ch in "\"'":
                quote = ch
            elif ch == "{":
                raise UsageError(f"-o jsonpath: unexpected '{{' inside an action at {template!r}.")
            elif ch == "}":
                break
            j += 1
        else:
            raise UsageError(f"-o jsonpath: unclosed action in {template!r}: '{{' without '}}'.")
        pieces.append(("action", template[start + 1 : j]))
        i = j + 1
    return pieces


# the escapes of a Go string literal (strconv.UnquoteChar), \' and \" only for their own quote
_GO_ESCAPE = re.compile(
    r"""\\(?:[abfnrtv\\'"]|x[0-9a-fA-F]{2}|[0-7]{3}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})"""
)
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def unquote(literal: str) -> str:
    """A template's quoted string, as kubectl's UnquoteExtend reads it: double or single quotes,
    Go's escapes; anything else is a UsageError."""
    quote, body = literal[:1], literal[1:-1]
    bad = UsageError(f"-o jsonpath: bad string literal {literal}.")
    if len(literal) < 2 or literal[-1] != quote:
        raise bad
    rest = _GO_ESCAPE.sub("", body)
    if "\\" in rest or quote in rest:
        raise bad

    def one(found: re.Match[str]) -> str:
        code = found.group(0)[1:]
        if code in _SIMPLE:
            return _SIMPLE[code]
        if code in "\\'\"":
            if code in "'\"" and code != quote:
                raise bad  # Go: the other quote may not be escaped
            return code
        value = int(code[1:], 16) if code[0] in "xuU" else int(code, 8)
        if code[0].isdigit() and value > 0xFF:
            raise bad  # Go: an octal escape is one byte
        if value > 0x10FFFF or (code[0] in "uU" and 0xD800 <= value < 0xE000):
            raise bad
        return chr(value)

    return _GO_ESCAPE.sub(one, body)


def parse_template(template: str) -> tuple[Node, ...]:
    """The template as a tree of nodes; bad templates raise UsageError."""
    stack: list[tuple[str, list[Node]]] = [("", [])]
    for kind, piece in _split(template):
        if kind == "text":
            stack[-1][1].append(Node("text", piece))
            continue
        action = piece.strip()
        if action.startswith(('"', "'")):
            stack[-1][1].append(Node("text", unquote(action)))
        elif action == "end":
            if len(stack) == 1:
                raise UsageError("-o jsonpath: {end} without a {range ...} before it.")
            expr, body = stack.pop()
            stack[-1][1].append(Node("range", expr, tuple(body)))
        elif re.match(r"range\s", action):
            expr = action[5:].strip()
            _compile(expr)
            stack.append((expr, []))
        elif not action:
            raise UsageError("-o jsonpath: empty action {}.")
        else:
            _compile(action)
            stack[-1][1].append(Node("expr", action))
    if len(stack) > 1:
        raise UsageError(f"-o jsonpath: {{range {stack[-1][0]}}} lacks its {{end}}.")
    return tuple(stack[0][1])


def _to_ng(expr: str) -> str:
    """kubectl's expression as jsonpath-ng's, rooted at ``$`` (the current object).

    Field names are passed quoted (``['app-name']``), since kubectl's may hold ``-``, ``/`` or
    a ``\\.``-escaped dot, which jsonpath-ng's bare names do not; brackets pass as they are.
    """
    expr = expr.strip()
    if expr[:1] in ("$", "@"):
        expr = expr[1:]
    if not expr.startswith((".", "[")):
        expr = "." + expr
    out = ["$"]
    i = 0
    while i < len(expr):
        if expr[i] == "[":
            end = _closing(expr, i)
            out.append(expr[i : end + 1])
            i = end + 1
            continue
        if expr[i] != ".":
            raise UsageError(f"-o jsonpath: cannot parse {{{expr}}} at {expr[i:]!r}.")
        recursive = expr.startswith("..", i)
        i += 2 if recursive else 1
        if recursive:
            out.append("..")
        name = []
        while i < len(expr) and expr[i] not in ".[":
            if expr[i] == "\\" and i + 1 < len(expr):  # kubectl's a\.b: a dot inside a name
                i += 1
            name.append(expr[i])
            i += 1
        field = "".join(name)
        if field == "*":
            out.append("*" if recursive else ".*")
        elif field:
            if "'" not in field:
                out.append(f"['{field}']")
            elif '"' not in field:
                out.append(f'["{field}"]')
            else:
                raise UsageError(f"-o jsonpath: a field name cannot hold both quotes: {field}.")
    return "".join(out)


def _closing(expr: str, start: int) -> int:
    """The index of the ``]`` that closes the ``[`` at ``start`` (quotes and nesting kept)."""
    depth = 0
    quote = ""
    for i in range(start, len(expr)):
        ch = expr[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
    raise UsageError(f"-o jsonpath: unclosed '[' in {{{expr}}}.")


@functools.lru_cache(maxsize=64)
def _compile(expr: str) -> Any:
    from jsonpath_ng.ext.parser import parse

    try:
        return parse(_to_ng(expr))
    except Exception as exc:  # jsonpath-ng raises lexer, parser and other errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"-o jsonpath: cannot parse {{{expr}}}: {first}.") from None


def find(expr: str, data: Any) -> list[Any]:
    """The values ``expr`` selects in ``data`` (none when a key is missing)."""
    compiled = _compile(expr)
    try:
        return [match.value for match in compiled.find(data)]
    except Exception as exc:  # e.g. a filter comparing a number with a string
        raise UsageError(f"-o jsonpath: cannot evaluate {{{expr}}}: {exc}.") from None


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _run(nodes: tuple[Node, ...], data: Any, out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.value)
        elif node.kind == "expr":
            out.append(" ".join(text_of(v) for v in find(node.value, data)))
        else:  # range
            for item in find(node.value, data):
                _run(node.body, item, out)


def render(template: str, data: Any) -> str:
    """``data`` through kubectl's JSONPath template (printed as is: no newline is added)."""
    out: list[str] = []
    _run(parse_template(template), data, out)
    return "".join(out)


def relaxed(expr: str) -> str:
    """kubectl's RelaxedJSONPathExpression: ``a.b``, ``.a.b`` and ``{.a.b}`` all mean ``.a.b``."""
    match = re.fullmatch(r"\{\.?([^{}]+)\}|\.?([^{}]+)", expr.strip())
    if match is None:
        raise UsageError(
            f"-o custom-columns: {expr!r} is not a JSONPath expression (e.g. .pod.name)."
        )
    return "." + (match.group(1) or match.group(2))


def parse_columns(spec: str) -> tuple[list[str], list[str]]:
    """``HEADER:EXPR,...`` as headers and relaxed expressions; a bad spec raises UsageError."""
    headers: list[str] = []
    expressions: list[str] = []
    if not spec.strip():
        raise UsageError("-o custom-columns needs a spec: -o custom-columns=HEADER:.path,...")
    for part in spec.split(","):
        header, colon, expr = part.partition(":")
        if not colon or not header.strip() or not expr.strip():
            raise UsageError(
                f"-o custom-columns: unexpected spec {part!r}, expected <header>:<json-path-expr>."
            )
        expression = relaxed(expr)
        _compile(expression)
        headers.append(header.strip())
        expressions.append(expression)
    return headers, expressions


def column_values(expressions: list[str], record: Any) -> list[str]:
    """One row: each column's values joined with ``,``, or ``<none>``."""
    row = []
    for expr in expressions:
        values = [text_of(v) for v in find(expr, record)]
        row.append(",".join(values) if values and values != [""] else NONE)
    return row
