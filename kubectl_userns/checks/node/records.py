"""Records: what the kubelet keeps on the node for each pod (``<root>/pods/<uid>/userns``) and
whether the probe could read everything as root (userns-facts.md, section 2)."""

from __future__ import annotations

from kubectl_userns.checks.idmap import parse_kubelet_record
from kubectl_userns.checks.node.catalogue import (
    FAIL,
    NODE,
    PASS,
    RECORDS,
    SKIP,
    WARN,
    Check,
    register,
)
from kubectl_userns.checks.node.facts import Context
from kubectl_userns.checks.node.kubelet import userns_gate_on
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
    """Why the kubelet would refuse this pod record at start-up, in the kubelet's own words
    ("" when it accepts it).

    The kubelet's order and messages: parseUserNsFileAndRecord, then record()
    (kubernetes pkg/kubelet/userns/userns_manager.go): invalid JSON, not exactly one UID
    mapping, GID mapping not identical, container ID not 0, then wrong length, wrong offset, an
    index outside its pool ("id N is out of range"). An empty file is a pod without a user
    namespace, not an error (recordPodMappings).
    """
    if text is None:
        return problem or "unreadable"
    if text == "":
        return ""
    try:
        record = parse_kubelet_record(text)
    except ValueError as exc:
        return f"invalid user namespace mappings file ({exc})"
    if len(record.uid_mappings) != 1:
        return "invalid user namespace configuration: no more than one mapping allowed"
    if record.uid_mappings != record.gid_mappings:
        return "invalid user namespace configuration: GID and UID mapping should be identical"
    mapping = record.uid_mappings[0]
    if mapping.inside != 0:
        return "invalid user namespace configuration: UID 0 must be mapped"
    if mapping.length != ids:
        return f"wrong user namespace length {mapping.length} (idsPerPod is {ids})"
    if mapping.outside % ids:
        return f"wrong user namespace offset specified {mapping.outside} (not a multiple of {ids})"
    if pool is not None and not (
        pool.first <= mapping.outside and mapping.outside + ids - 1 <= pool.last
    ):
        return (
            f"id {mapping.outside} is out of range (host IDs {mapping.outside}-"
            f"{mapping.outside + ids - 1} lie outside the pool)"
        )
    return ""


@register(
    "userns-records",
    area=RECORDS,
    source=NODE,
    reads=("KUBELET_ROOT/pods/*/userns", "the kubelet's pool", "the API's pods on the node"),
    expects="every record one mapping of idsPerPod IDs from container ID 0, inside the pool, "
    "no range used twice; an empty record is a pod without a user namespace. With the gate on "
    "the kubelet refuses to start on the first bad one, with its own error (wrong length, wrong "
    "offset, id out of range, range already taken, invalid file)",
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
    if dump.kubelet_root_state != "dir":
        return Check(
            "userns-records", SKIP, f"{root} does not exist (see kubelet-root)", expected, NODE
        )
    if not dump.userns_files:
        return Check("userns-records", PASS, "no pod records", expected, NODE)
    bad: list[str] = []
    seen: dict[int, str] = {}
    empty = 0
    # the kubelet reads the pod directories in name order (os.ReadDir); a range already held
    # by an earlier pod is "range picked for pod ... already taken" (record())
    for entry in sorted(dump.userns_files, key=lambda e: e.pod_uid):
        why = _record_problem(entry.text, entry.problem, pool, ids)
        if not why and entry.text == "":
            empty += 1
            continue
        if not why and entry.text is not None:
            host = parse_kubelet_record(entry.text).uid_mappings[0].outside
            if host in seen:
                why = f'range picked for pod "{entry.pod_uid}" already taken (by {seen[host]})'
            seen.setdefault(host, entry.pod_uid)
        if why:
            name = ctx.pods.get(entry.pod_uid, "no such pod in the API")
            bad.append(f"{entry.pod_uid} ({name}): {why}")
    total = len(dump.userns_files)
    without = f" ({empty} empty: pods without a user namespace)" if empty else ""
    if not bad:
        return Check(
            "userns-records",
            PASS,
            f"{total} record(s), all inside the pool{without}",
            expected,
            NODE,
        )
    uids = " ".join(item.split(" ", 1)[0] for item in bad)
    gate = userns_gate_on(ctx)
    when = (
        "the kubelet ignores while its user-namespace gate is off and rejects once it is on "
        "(it then fails to start)"
        if gate is False
        else "the kubelet rejects at its next restart (it then fails to start)"
    )
    return Check(
        "userns-records",
        FAIL,
        f"{len(bad)} of {total} record(s) {when}: " + "; ".join(bad),
        expected,
        NODE,
        f"drain the node; for pods that are gone remove their directories ({root}/pods/UID "
        f"for UID in {uids}); for pods still wanted, delete them so they are recreated, or "
        "restore a pool that covers their IDs",
    )
