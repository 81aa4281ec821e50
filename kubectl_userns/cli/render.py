"""Printing reports the way kubectl prints objects: tables, JSON, YAML, names, JSONPath
templates and custom columns.

Tables are kubectl's: upper-case headers, columns padded to the widest cell plus 3 spaces and
at least 6 wide (kubectl's tabwriter: minwidth 6, padding 3, in k8s.io/cli-runtime
pkg/printers/tabwriter.go), no trailing spaces. Cells hold no spaces except in a table's last
columns of free text (DETAIL, COMMAND, OBSERVED ...), so ``awk '{print $2}'`` works.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from kubectl_userns.options import OutputFormat, OutputOptions
from kubectl_userns.text import printable

PADDING = 3
MIN_WIDTH = 6  # includes the padding, as tabwriter's minwidth does

# colours of the result words, in the columns that hold a result
RESULT_COLUMNS = frozenset({"STATUS", "VERDICT", "STATE"})
_SGR = {
    "PASS": "32",  # green
    "ISOLATED": "32",
    "FAIL": "31",  # red
    "NOT-ISOLATED": "31",
    "HOST-USERNS": "31",
    "WARN": "33",  # yellow
    "UNKNOWN": "33",
    # plan's workload states
    "isolated": "32",
    "not-isolated": "31",
    "host-userns": "33",
    "unverified": "33",
}


def output_options(output: str, no_headers: bool, color: str = "auto") -> OutputOptions:
    """The -o, --no-headers and --color flags, with a template checked before any network call."""
    from kubectl_userns.cli import jsonpath

    out = OutputOptions.from_flags(output, no_headers, color)
    if out.format is OutputFormat.jsonpath:
        jsonpath.parse_template(out.template)
    elif out.format is OutputFormat.custom_columns:
        jsonpath.parse_columns(out.template)
    return out


def color_enabled(mode: str, stream: IO[str]) -> bool:
    """Whether to colour: ``always``, ``never``, or ``auto`` = a terminal, no ``NO_COLOR``.

    ``NO_COLOR`` (https://no-color.org: set and not empty) and ``TERM=dumb`` turn ``auto`` off;
    an explicit ``--color always`` still colours, as the convention allows a flag to override.
    """
    if mode == "always":
        return True
    if mode == "never":
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _paint(text: str, header: str, color: bool) -> str:
    if not color or header not in RESULT_COLUMNS:
        return text
    word, sep, rest = text.partition(":")
    code = _SGR.get(word)
    return f"\033[{code}m{word}\033[0m{sep}{rest}" if code else text


def cell_text(value: Any) -> str:
    """A table cell: made :func:`printable` (its text may come from a node or the API)."""
    return "" if value is None else printable(str(value))


def printable_lines(text: str, *, keep: str = "") -> str:
    """Each line of ``text`` made :func:`printable`; the newlines (and characters in ``keep``,
    e.g. the TABs of a JSONPath template) stay."""
    if keep:
        return "\n".join(
            "".join(c if c in keep else printable(c) for c in line) for line in text.split("\n")
        )
    return "\n".join(printable(line) for line in text.split("\n"))


# the only escape sequences the table view may hold: the colours _paint writes
_OWN_SGR = re.compile("(\x1b\\[(?:3[123]|0)m)")


def _view_text(block: str) -> str:
    """A block of the table view made printable, keeping the colours of :func:`_paint` (cells
    are escaped before they are painted, so no other escape sequence can be in a table)."""
    parts = _OWN_SGR.split(block)
    return "".join(p if i % 2 else printable_lines(p) for i, p in enumerate(parts))


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    no_headers: bool = False,
    color: bool = False,
) -> str:
    """A kubectl-style table (no trailing newline); "" when there is nothing to print."""
    names = [h.upper() for h in headers]
    cells = [[cell_text(c) for c in row] for row in rows]
    lines = cells if no_headers else [names, *cells]
    if not lines:
        return ""
    widths = [
        max(MIN_WIDTH, max(len(line[i]) for line in lines) + PADDING) for i in range(len(names))
    ]
    out = []
    for n, line in enumerate(lines):
        header_line = n == 0 and not no_headers
        parts = []
        for i, text in enumerate(line):
            shown = text if header_line else _paint(text, names[i], color)
            pad = "" if i == len(line) - 1 else " " * (widths[i] - len(text))
            parts.append(shown + pad)
        out.append("".join(parts).rstrip(" "))
    return "\n".join(out)


def render_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def render_yaml(data: Any) -> str:
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def render_data(data: Any, fmt: str) -> str:
    """``data`` as ``json`` or ``yaml`` text."""
    if fmt == "json":
        return render_json(data)
    if fmt == "yaml":
        return render_yaml(data)
    raise ValueError(f"not a data format: {fmt}")


def as_list(items: Sequence[Any]) -> dict[str, Any]:
    """Several reports as one object, as kubectl prints several objects: a v1 List."""
    return {"apiVersion": "v1", "kind": "List", "items": list(items), "metadata": {}}


@dataclass(frozen=True)
class TextView:
    """A report as text: the main table, the blocks after it, and the summary sentence(s)."""

    main: str
    more: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Printed:
    stdout: str
    stderr: str
    color: bool = False  # stdout holds colour codes on purpose (click would strip them)


def print_report(
    data: Any,
    out: OutputOptions,
    *,
    names: Sequence[str],
    records: Sequence[Any],
    text: Callable[[bool], TextView],
    stream: IO[str] | None = None,
) -> Printed:
    """What to print for ``data`` (what -o json prints) in the format of ``out``.

    ``names`` are the ``-o name`` lines (``pod/NAME``, ``node/NAME``), ``records`` the objects
    that ``-o custom-columns`` makes rows of, ``text(color)`` the table view. With
    ``--no-headers`` stdout has the main table's rows only; the summary goes to stderr.
    """
    import sys

    from kubectl_userns.cli import jsonpath

    fmt = out.format
    if fmt in (OutputFormat.json, OutputFormat.yaml):
        return Printed(render_data(data, fmt.value), "")
    if fmt is OutputFormat.name:
        return Printed("".join(f"{printable(n)}\n" for n in names), "")
    if fmt is OutputFormat.jsonpath:
        return Printed(printable_lines(jsonpath.render(out.template, data), keep="\t"), "")
    if fmt is OutputFormat.custom_columns:
        headers, expressions = jsonpath.parse_columns(out.template)
        rows = [jsonpath.column_values(expressions, record) for record in records]
        table = render_table(headers, rows, no_headers=out.no_headers)
        return Printed(table + "\n" if table else "", "")
    color = color_enabled(out.color, stream or sys.stdout)
    view = text(color)
    summary = "".join(f"{printable(line)}\n" for line in view.summary)
    main = _view_text(view.main)
    if out.no_headers:
        return Printed(main + "\n" if main else "", summary, color)
    blocks = [_view_text(b) for b in (main, *view.more) if b]
    return Printed("".join(f"{b}\n\n" for b in blocks) + summary, "", color)


def emit(printed: Printed) -> None:
    import typer

    if printed.stdout:
        typer.echo(printed.stdout, nl=False, color=True if printed.color else None)
    if printed.stderr:
        typer.echo(printed.stderr, nl=False, err=True)
