"""A small, fast YAML writer, with a comment after any line that has a note.

It exists so ``new-pod`` prints the Kubernetes documentation's example byte for byte
(``command: ["sleep", "infinity"]``) and starts without importing a YAML library. ``convert``
uses it too, to write YAML for JSON input.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# A string is written plain only when every YAML reader takes it for that same string: it starts
# with a letter, '/' or '_' (so no YAML 1.1 or 1.2 number, timestamp, base-60 value, .inf/.nan,
# merge key '<<' or '=' value, which all start with a digit, sign, dot or symbol), holds only
# characters without a meaning in plain scalars, and is not one of the words a YAML 1.1 reader
# (go-yaml v2 under kubectl: sigs.k8s.io/yaml goyaml.v2/resolve.go; PyYAML) takes for a boolean
# or null. Everything else is double-quoted.
_PLAIN = re.compile(r"[A-Za-z/_][A-Za-z0-9_./@+-]*(?:[ :][A-Za-z0-9_./@+-]+)*")
_WORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "null"}
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def _printable(char: str) -> bool:
    # YAML's printable set (YAML 1.1 section 5.1, as PyYAML's reader checks it), minus the
    # line and paragraph separators that readers treat as line breaks
    code = ord(char)
    return (
        0x20 <= code <= 0x7E
        or (0xA0 <= code <= 0xD7FF and code not in (0x2028, 0x2029))
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
        or 0x10000 <= code <= 0x10FFFF
    )


def quote(text: str) -> str:
    """A YAML double-quoted scalar that every YAML 1.1 and 1.2 reader reads back as ``text``."""
    out = ['"']
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _printable(char):
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def plain_is_safe(text: str) -> bool:
    return bool(_PLAIN.fullmatch(text)) and text.lower() not in _WORDS


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a manifest holds no infinite or NaN number")
        return json.dumps(value)
    text = str(value)
    return text if plain_is_safe(text) else quote(text)


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, str):
        return quote(value)  # lists of strings are written quoted, as the documentation does
    return _scalar(value)


def to_yaml(data: dict[str, Any], notes: dict[str, str] | None = None, indent: int = 0) -> str:
    """YAML in kubectl's documentation style: lists of scalars in flow style, keys in order,
    ``notes`` as comment lines above the fields they name."""
    return "\n".join(_block(data, notes or {}, indent, "")) + "\n"


def _block(data: dict[str, Any], notes: dict[str, str], indent: int, path: str) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    for key, value in data.items():
        here = f"{path}.{key}" if path else str(key)
        if here in notes:
            lines.append(f"{pad}# {notes[here]}")
        name = _scalar(key)
        if isinstance(value, dict):
            if value:
                lines.append(f"{pad}{name}:")
                lines += _block(value, notes, indent + 2, here)
            else:
                lines.append(f"{pad}{name}: {{}}")
        elif isinstance(value, list):
            if value and all(isinstance(v, (dict, list)) for v in value):
                lines.append(f"{pad}{name}:")
                for item in value:
                    if isinstance(item, dict) and item:
                        body = _block(item, notes, indent + 2, f"{here}[]")
                        first = next(
                            i for i, line in enumerate(body) if not line.lstrip().startswith("#")
                        )
                        # comments of the item's first key go above the "- " line
                        lines += body[:first]
                        lines.append(f"{pad}- {body[first].lstrip()}")
                        lines += body[first + 1 :]
                    else:
                        lines.append(f"{pad}- {_flow(item)}")
            else:
                lines.append(f"{pad}{name}: {_flow(value)}")
        else:
            lines.append(f"{pad}{name}: {_scalar(value)}")
    return lines
