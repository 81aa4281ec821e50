"""The kubelet's ID pool as plain arithmetic: how the kubelet finds it (``getsubids``, else
/etc/subuid and /etc/subgid, else its default) and the rules it applies at start-up
(userns-facts.md, section 2; kubernetes/kubernetes pkg/kubelet/userns/userns_manager.go and
pkg/kubelet/kubelet_pods.go getKubeletMappings)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubectl_userns.checks.idmap import MAX_ID
from kubectl_userns.probe.node_dump import NodeDump, SubIdLine

SUBID_FILES = "/etc/subuid and /etc/subgid"


@dataclass(frozen=True)
class Pool:
    """A contiguous range of host IDs ``first .. first+count-1``."""

    first: int
    count: int

    @property
    def last(self) -> int:
        return self.first + self.count - 1

    def line(self) -> str:
        return f"kubelet:{self.first}:{self.count}"

    def overlaps(self, first: int, count: int) -> bool:
        return first <= self.last and self.first <= first + count - 1


def default_pool(ids_per_pod: int) -> Pool:
    """The kubelet's pool when there is no ``kubelet`` user."""
    return Pool(ids_per_pod, 2**32 - ids_per_pod)


@dataclass(frozen=True)
class PoolRule:
    id: str
    ok: bool
    observed: str
    expected: str


def pool_rules(pool: Pool, ids_per_pod: int, max_pods: int) -> list[PoolRule]:
    """The kubelet's start-up rules for its pool, in the order it applies them."""
    slots = pool.count // ids_per_pod
    return [
        PoolRule(
            "pool-alignment",
            pool.first % ids_per_pod == 0,
            f"first ID {pool.first}"
            + (
                ""
                if pool.first % ids_per_pod == 0
                else f" ({pool.first % ids_per_pod} past a multiple)"
            ),
            f"first % {ids_per_pod} == 0",
        ),
        PoolRule(
            "pool-start",
            pool.first >= ids_per_pod,
            f"first ID {pool.first}",
            f"first >= {ids_per_pod}",
        ),
        PoolRule(
            "pool-length",
            pool.count % ids_per_pod == 0,
            f"{pool.count} IDs",
            f"count % {ids_per_pod} == 0",
        ),
        PoolRule(
            "pool-size",
            slots >= max_pods,
            f"{pool.count} IDs = {slots} pod slot(s)",
            f">= maxPods {max_pods} x {ids_per_pod} = {max_pods * ids_per_pod}",
        ),
        PoolRule(
            "pool-end",
            pool.last < MAX_ID,
            f"last ID {pool.last}",
            f"last ID < {MAX_ID}",
        ),
    ]


def suggest_pool(
    current: Pool | None, ids_per_pod: int, max_pods: int, taken: Sequence[Pool] = ()
) -> Pool:
    """A pool that passes every rule, close to ``current``, clear of other owners' ranges."""
    slots = max(max_pods, current.count // ids_per_pod if current else 0)
    need = slots * ids_per_pod
    first = ids_per_pod
    if current is not None:
        first = max(ids_per_pod, -(-current.first // ids_per_pod) * ids_per_pod)
    moved = True
    while moved:
        moved = False
        for other in sorted(taken, key=lambda p: p.first):
            if other.overlaps(first, need):
                first = -(-(other.last + 1) // ids_per_pod) * ids_per_pod
                moved = True
    if first + need - 1 >= MAX_ID:
        first, need = ids_per_pod, max_pods * ids_per_pod
    return Pool(first, need)


@dataclass(frozen=True)
class KubeletPool:
    """The pool the kubelet will read, and how it was found."""

    uid: tuple[Pool, ...]
    gid: tuple[Pool, ...]
    origin: str  # "getsubids", "/etc/subuid and /etc/subgid", "default"
    problem: str = ""  # why no usable pool could be read ("" when fine)
    raw_uid: tuple[str, ...] = ()  # the lines as getsubids printed them / the files hold them
    raw_gid: tuple[str, ...] = ()

    @property
    def pool(self) -> Pool | None:
        """The one pool, when UID and GID agree on exactly one range."""
        if len(self.uid) == 1 and self.uid == self.gid:
            return self.uid[0]
        return None


def _owned(lines: Sequence[SubIdLine], owner_uid: int | None) -> list[SubIdLine]:
    names = {"kubelet"} | ({str(owner_uid)} if owner_uid is not None else set())
    return [line for line in lines if line.owner in names]


def _getsubids_ranges(lines: Sequence[str]) -> list[Pool] | None:
    """``N: kubelet START COUNT`` lines; None when a line is not of that shape."""
    pools = []
    for line in lines:
        parts = line.split()
        if len(parts) != 4 or not parts[2].isdigit() or not parts[3].isdigit():
            return None
        pools.append(Pool(int(parts[2]), int(parts[3])))
    return pools


def kubelet_pool(dump: NodeDump, ids_per_pod: int) -> KubeletPool:
    """Find the pool the way the kubelet does: no user -> default, else ``getsubids``."""
    if dump.kubelet_user is None:
        pool = default_pool(ids_per_pod)
        return KubeletPool((pool,), (pool,), "default")
    owner = dump.kubelet_user[0]
    file_uid = _owned(dump.subuid, owner)
    file_gid = _owned(dump.subgid, owner)
    if dump.getsubids_path is not None and dump.getsubids:
        problems: list[str] = []
        pools: dict[str, list[Pool]] = {"uid": [], "gid": []}
        raw: dict[str, tuple[str, ...]] = {"uid": (), "gid": ()}
        for kind, flag in (("uid", ""), ("gid", "-g ")):
            out = dump.getsubids.get(kind)
            if out is None or out.exit_status != 0 or not out.lines:
                said = "; ".join(out.lines) if out is not None and out.lines else "nothing"
                problems.append(f"'getsubids {flag}kubelet' finds no range (it said: {said})")
                continue
            raw[kind] = out.lines
            parsed = _getsubids_ranges(out.lines)
            if parsed is None:
                problems.append(
                    f"'getsubids {flag}kubelet' printed what the kubelet cannot parse: "
                    + "; ".join(out.lines)
                )
                continue
            pools[kind] = parsed
        return KubeletPool(
            tuple(pools["uid"]),
            tuple(pools["gid"]),
            "getsubids",
            "; ".join(problems),
            raw["uid"],
            raw["gid"],
        )
    bad = [line.text for line in file_uid + file_gid if not line.valid]
    uid_pools = [Pool(x.start, x.count) for x in file_uid if x.valid]  # type: ignore[arg-type]
    gid_pools = [Pool(x.start, x.count) for x in file_gid if x.valid]  # type: ignore[arg-type]
    problem = ""
    if bad:
        problem = f"malformed kubelet lines: {', '.join(bad)}"
    elif not uid_pools or not gid_pools:
        missing = [
            name
            for name, pools in (("/etc/subuid", uid_pools), ("/etc/subgid", gid_pools))
            if not pools
        ]
        problem = f"no kubelet line in {' and '.join(missing)}"
    return KubeletPool(
        tuple(uid_pools),
        tuple(gid_pools),
        SUBID_FILES,
        problem,
        tuple(x.text for x in file_uid),
        tuple(x.text for x in file_gid),
    )
