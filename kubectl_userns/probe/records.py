"""Reader of the probe record format (see docs/probe-format.md).

One record per line, fields separated by TAB: ``TAG<TAB>FIELD...``. The first record is
``probe<TAB>kubectl-userns<TAB>VERSION<TAB>KIND``, the last is ``end``; output without the
``end`` record was cut short. Unknown tags are kept (a newer script may add some) and callers
ignore what they do not know.

The probe writes no TAB or newline inside a field and every other byte outside printable ASCII
as ``\\ooo`` (``\\`` itself as ``\\\\``): only a newline ends a record and only a TAB ends a
field, whatever a tenant put into its comm, command line or cgroup names. Fields are decoded
here (UTF-8; bytes that are not UTF-8 stay as ``\\xNN`` text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubectl_userns.errors import ProbeError

FORMAT_VERSION = "2"

_ESCAPE = re.compile(r"\\(\\|[0-3][0-7][0-7])")


@dataclass(frozen=True)
class Record:
    """One line of probe output."""

    tag: str
    fields: tuple[str, ...]
    line: int

    def field(self, index: int, default: str = "") -> str:
        return self.fields[index] if index < len(self.fields) else default


def unescape(field: str) -> str:
    """A field as the probe read it: ``\\ooo`` and ``\\\\`` back to bytes, decoded as UTF-8."""
    if "\\" not in field and field.isascii():
        return field
    raw = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(field):
        raw += field[pos : match.start()].encode("utf-8", "surrogateescape")
        code = match.group(1)
        raw += b"\\" if code == "\\" else bytes([int(code, 8)])
        pos = match.end()
    raw += field[pos:].encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


def _shown(line: str) -> str:
    return ascii(line[:60])


def parse_records(text: str, kind: str, node: str) -> list[Record]:
    """Split probe output into records and check its frame (header, version, end marker).

    Only the frame is judged here: a record of the wrong shape is the caller's to isolate to
    the process or pod it is about.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or not lines[0].startswith("probe\t"):
        raise ProbeError(
            f"the probe on node {node} printed no probe header (got "
            f"{(_shown(lines[0]) if lines else 'nothing')}); the node needs a POSIX sh at "
            "/bin/sh and the login shell must not print anything."
        )
    header = lines[0].split("\t")
    if header[1:3] != ["kubectl-userns", FORMAT_VERSION] or header[3:4] != [kind]:
        raise ProbeError(
            f"the probe on node {node} answered in an unknown format ({_shown(lines[0])}); "
            "use the same kubectl-userns version for the script and the reader."
        )
    if lines[-1] != "end":
        raise ProbeError(
            f"the probe output from node {node} was cut short after {len(lines)} lines; "
            "try again, and check the node's free memory and disk if it repeats."
        )
    records = []
    for number, line in enumerate(lines[1:-1], start=2):
        if not line:
            continue
        tag, *fields = line.split("\t")
        records.append(Record(tag, tuple(unescape(f) for f in fields), number))
    return records
