"""ID mappings and subordinate ID ranges: parsing and arithmetic, no I/O.

``uid_map``/``gid_map`` lines are ``inside outside length`` (man 7 user_namespaces); the
kubelet's per-pod record is JSON with ``uidMappings``/``gidMappings`` of
``{hostId, containerId, length}``; ``/etc/subuid`` lines are ``owner:start:count``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# The whole 32-bit ID space as the host's own namespace maps it.
HOST_MAP_LENGTH = 4294967295
MAX_ID = 4294967295


@dataclass(frozen=True, order=True)
class IdMapping:
    """One line of a uid_map/gid_map: IDs ``inside..inside+length-1`` are host ``outside..``."""

    inside: int
    outside: int
    length: int

    @property
    def host_end(self) -> int:
        """One past the last host ID of the range."""
        return self.outside + self.length

    def to_host(self, inside_id: int) -> int | None:
        if self.inside <= inside_id < self.inside + self.length:
            return self.outside + inside_id - self.inside
        return None

    def to_inside(self, host_id: int) -> int | None:
        if self.outside <= host_id < self.host_end:
            return self.inside + host_id - self.outside
        return None

    def __str__(self) -> str:
        return f"{self.inside} {self.outside} {self.length}"


def parse_id_map(text: str) -> tuple[IdMapping, ...]:
    """Parse uid_map/gid_map content: lines (or ``,``-joined lines) of three numbers.

    Raises ValueError on anything else; an empty map (a namespace whose map was never written)
    gives an empty tuple.
    """
    mappings = []
    for line in text.replace(",", "\n").splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise ValueError(f"an ID map line has three numbers, got {line.strip()!r}")
        inside, outside, length = (int(p) for p in parts)
        if min(inside, outside, length) < 0 or length == 0:
            raise ValueError(f"impossible ID map line {line.strip()!r}")
        mappings.append(IdMapping(inside, outside, length))
    return tuple(mappings)


def format_id_map(mappings: tuple[IdMapping, ...]) -> str:
    return ", ".join(str(m) for m in mappings) if mappings else "(empty)"


def is_host_map(mappings: tuple[IdMapping, ...]) -> bool:
    """True for the initial user namespace's identity map ``0 0 4294967295``."""
    return mappings == (IdMapping(0, 0, HOST_MAP_LENGTH),)


def ranges_overlap(a: IdMapping, b: IdMapping) -> bool:
    return a.outside < b.host_end and b.outside < a.host_end


@dataclass(frozen=True)
class KubeletUsernsRecord:
    """The kubelet's allocation for one pod, from ``<root>/pods/<uid>/userns``."""

    uid_mappings: tuple[IdMapping, ...]
    gid_mappings: tuple[IdMapping, ...]


def _record_id(item: object, key: str) -> int:
    value = item.get(key) if isinstance(item, dict) else None
    # an ID is a JSON integer in 0..2^32-1: not a bool, not 1e400 (a float, infinite here)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise ValueError(f"{key} is not an ID: {str(value)[:40]}")
    return value


def parse_kubelet_record(text: str) -> KubeletUsernsRecord:
    """Parse the kubelet's ``userns`` JSON file; ValueError when it is not that shape.

    Any text gives a record or ValueError: deep nesting, huge numbers and wrong types too.
    The kubelet writes ``{"uidMappings": [{"hostId": N, "containerId": N, "length": N}],
    "gidMappings": [...]}`` (kubernetes/kubernetes pkg/kubelet/userns/userns_manager.go,
    ``userNamespace`` with ``json`` tags ``uidMappings``/``gidMappings``).
    """
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError("the userns record is nested too deeply to be a record") from None
    except ValueError as exc:  # json.JSONDecodeError; also integers of over 4300 digits
        raise ValueError(f"the userns record is not JSON ({str(exc)[:80]})") from None
    if not isinstance(data, dict):
        raise ValueError("the userns record is not a JSON object")

    def mappings(key: str) -> tuple[IdMapping, ...]:
        items = data.get(key)
        if not isinstance(items, list):
            raise ValueError(f"the userns record has no {key} list")
        out = []
        for index, item in enumerate(items):
            try:
                length = _record_id(item, "length")
                mapping = IdMapping(
                    _record_id(item, "containerId"), _record_id(item, "hostId"), length
                )
            except ValueError as exc:
                raise ValueError(f"bad entry {index} in {key}: {exc}") from None
            if length == 0:
                raise ValueError(f"bad entry {index} in {key}: length 0")
            out.append(mapping)
        return tuple(out)

    return KubeletUsernsRecord(mappings("uidMappings"), mappings("gidMappings"))


@dataclass(frozen=True, order=True)
class SubIdRange:
    """A subordinate ID range ``start..start+count-1`` from /etc/subuid, /etc/subgid."""

    start: int
    count: int

    @property
    def end(self) -> int:
        """One past the last ID."""
        return self.start + self.count

    def contains(self, mapping: IdMapping) -> bool:
        return self.start <= mapping.outside and mapping.host_end <= self.end

    def __str__(self) -> str:
        return f"{self.start}-{self.end - 1} ({self.count} IDs)"


def parse_subid_file(
    text: str, owner: str = "kubelet", owner_id: int | None = None
) -> list[SubIdRange]:
    """The ranges of ``owner`` (by name, or by numeric ID as shadow-utils also allows).

    Malformed lines are skipped, as shadow-utils skips them.
    """
    ranges = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) != 3 or line.lstrip().startswith("#"):
            continue
        name, start, count = parts
        if name != owner and (owner_id is None or name != str(owner_id)):
            continue
        try:
            ranges.append(SubIdRange(int(start), int(count)))
        except ValueError:
            continue
    return ranges


def parse_getsubids(text: str) -> list[SubIdRange]:
    """Parse ``getsubids kubelet`` output: lines ``N: kubelet START COUNT``."""
    ranges = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0].rstrip(":").isdigit():
            try:
                ranges.append(SubIdRange(int(parts[2]), int(parts[3])))
            except ValueError:
                continue
    return ranges
