"""Printing reports: kubectl-like tables, JSON and YAML."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, no_headers: bool = False
) -> str:
    """A kubectl-style table: upper-case headers, columns aligned, no borders."""
    from tabulate import tabulate

    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    if no_headers:
        if not cells:
            return ""
        return str(tabulate(cells, tablefmt="plain", disable_numparse=True))
    return str(
        tabulate(
            cells, headers=[h.upper() for h in headers], tablefmt="plain", disable_numparse=True
        )
    )


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
