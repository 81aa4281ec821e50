"""Reader of the probe record format (see docs/probe-format.md).

One record per line, fields separated by TAB: ``TAG<TAB>FIELD...``. The first record is
``probe<TAB>kubectl-userns<TAB>VERSION<TAB>KIND``, the last is ``end``; output without the
``end`` record was cut short. Unknown tags are kept (a newer script may add some) and callers
ignore what they do not know.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_userns.errors import ProbeError

FORMAT_VERSION = "1"


@dataclass(frozen=True)
class Record:
    """One line of probe output."""

    tag: str
    fields: tuple[str, ...]
    line: int

    def field(self, index: int, default: str = "") -> str:
        return self.fields[index] if index < len(self.fields) else default


def parse_records(text: str, kind: str, node: str) -> list[Record]:
    """Split probe output into records and check its frame (header, version, end marker)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("probe\t"):
        raise ProbeError(
            f"the probe on node {node} printed no probe header (got "
            f"{(lines[0][:60] if lines else 'nothing')!r}); the node needs a POSIX sh at /bin/sh "
            "and the login shell must not print anything."
        )
    header = lines[0].split("\t")
    if header[1:3] != ["kubectl-userns", FORMAT_VERSION] or header[3:4] != [kind]:
        raise ProbeError(
            f"the probe on node {node} answered in an unknown format ({lines[0]!r}); "
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
        records.append(Record(tag, tuple(fields), number))
    return records
