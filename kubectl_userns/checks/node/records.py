"""Records: what the kubelet keeps on the node for each pod (``<root>/pods/<uid>/userns``) and
whether the probe could read everything as root (userns-facts.md, section 2)."""

from __future__ import annotations

from kubectl_userns.checks.idmap import parse_kubelet_record
from kubectl_userns.checks.node.catalogue import (
    FAIL,
    NODE,
    PASS,
    RECORDS,
    WARN,
    Check,
    register,
)
from kubectl_userns.checks.node.facts import Context
from kubectl_userns.checks.node.subids import Pool, kubelet_pool


@register(
    "probe-user",
    area=RECORDS,
    source=NODE,
    reads=("id -u of the node probe",),
    expects="the probe runs as root, so that every record and config file can be read",
    upstream=("kubectl-userns's own rule: the kubelet's files are readable by root only",),
)
def probe_user(ctx: Context) -> Check | None:
    uid = ctx.node.probe_uid
    if uid in (None, 0):
        return None
    return Check(
        "probe-user",
        WARN,
        f"the probe ran as UID {uid}",
        "root",
        NODE,
        "log in as root or allow passwordless sudo, so every file can be read",
    )


def _record_problem(text: str | None, problem: str, pool: Pool | None, ids: int) -> str:
    """Why the kubelet would refuse this pod record at start-up ("" when it accepts it)."""
    if text is None:
        return problem or "unreadable"
    try:
        record = parse_kubelet_record(text)
    except ValueError as exc:
        return f"not a valid record ({exc})"
    if len(record.uid_mappings) != 1 or record.uid_mappings != record.gid_mappings:
        return "needs exactly one UID mapping and an identical GID mapping"
    mapping = record.uid_mappings[0]
    if mapping.inside != 0:
        return f"container ID {mapping.inside}, not 0"
    if mapping.length != ids:
        return f"length {mapping.length}, not idsPerPod {ids}"
    if mapping.outside % ids:
        return f"host ID {mapping.outside} not a multiple of {ids}"
    if pool is not None and not (
        pool.first <= mapping.outside and mapping.outside + ids - 1 <= pool.last
    ):
        return f"host IDs {mapping.outside}-{mapping.outside + ids - 1} outside the pool"
    return ""


@register(
    "userns-records",
    area=RECORDS,
    source=NODE,
    reads=("KUBELET_ROOT/pods/*/userns", "the kubelet's pool", "the API's pods on the node"),
    expects="every record one mapping of idsPerPod IDs from container ID 0, inside the pool, "
    "no host ID used twice (else 'id N is out of range' at the kubelet's next start)",
    upstream=("kubernetes/kubernetes pkg/kubelet/userns/userns_manager.go",),
)
def userns_records(ctx: Context) -> Check:
    dump = ctx.node
    ids = ctx.ids_per_pod
    found = kubelet_pool(dump, ids)
    # with UID and GID ranges at odds the kubelet does not start at all; judge by the UID one
    pool = found.pool or (found.uid[0] if found.uid else None)
    root = dump.kubelet_root or ctx.kubelet_root
    pool_text = f"{pool.first}-{pool.last}" if pool else "unknown"
    expected = f"all inside the pool {pool_text}"
    if not dump.userns_files:
        return Check("userns-records", PASS, "no pod records", expected, NODE)
    bad: list[str] = []
    seen: dict[str, str] = {}
    for entry in dump.userns_files:
        why = _record_problem(entry.text, entry.problem, pool, ids)
        if not why and entry.text is not None:
            host = parse_kubelet_record(entry.text).uid_mappings[0].outside
            if str(host) in seen:
                why = f"host ID {host} also used by pod {seen[str(host)]}"
            seen[str(host)] = entry.pod_uid
        if why:
            name = ctx.pods.get(entry.pod_uid, "no such pod in the API")
            bad.append(f"{entry.pod_uid} ({name}): {why}")
    total = len(dump.userns_files)
    if not bad:
        return Check(
            "userns-records", PASS, f"{total} record(s), all inside the pool", expected, NODE
        )
    uids = " ".join(item.split(" ", 1)[0] for item in bad)
    return Check(
        "userns-records",
        FAIL,
        f"{len(bad)} of {total} record(s) the kubelet rejects at its next restart "
        f"('id N is out of range'): " + "; ".join(bad),
        expected,
        NODE,
        f"drain the node; for pods that are gone remove their directories ({root}/pods/UID "
        f"for UID in {uids}); for pods still wanted, delete them so they are recreated, or "
        "restore a pool that covers their IDs",
    )
