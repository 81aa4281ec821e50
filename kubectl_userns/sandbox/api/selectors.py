"""Label and field selectors as the API server applies them to lists (``?labelSelector=``,
``?fieldSelector=``): ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``k in (a,b)``, ``k notin (a)``
(kubernetes/apimachinery pkg/labels/selector.go, pkg/fields/selector.go)."""

from __future__ import annotations

import re
from typing import Any

from kubectl_userns.sandbox.api.status import JSON

_SET_TERM = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split at commas that are not inside a ``(...)`` value set."""
    terms, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t.strip() for t in terms if t.strip()]


def label_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in _split_terms(selector):
        match = _SET_TERM.match(term)
        if match:
            key, op, values = match.groups()
            wanted = {v.strip() for v in values.split(",")}
            present = labels.get(key) in wanted
            if (op == "in" and not present) or (op == "notin" and present):
                return False
            continue
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field(obj: JSON, path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def field_matches(selector: str, obj: JSON) -> bool:
    for term in _split_terms(selector):
        if "!=" in term:
            path, value = term.split("!=", 1)
            if _field(obj, path.strip()) == value.strip():
                return False
        elif "=" in term:
            path, value = term.replace("==", "=").split("=", 1)
            if _field(obj, path.strip()) != value.strip():
                return False
    return True
