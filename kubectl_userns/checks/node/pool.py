"""ID pool: the kubelet user, ``getsubids``, the kubelet's subordinate ID range and the rules
the kubelet applies to it at start-up (userns-facts.md, section 2). The arithmetic is in
:mod:`.subids`; each check here looks the pool up again, as cheap as reading two short lists."""

from __future__ import annotations

from kubectl_userns.checks.idmap import MAX_ID
from kubectl_userns.checks.node.catalogue import (
    FAIL,
    NODE,
    PASS,
    POOL,
    SKIP,
    WARN,
    Check,
    register,
)
from kubectl_userns.checks.node.facts import Context
from kubectl_userns.checks.node.kubelet import start_effect
from kubectl_userns.checks.node.subids import (
    SUBID_FILES,
    KubeletPool,
    Pool,
    default_pool,
    kubelet_pool,
    pool_rules,
    suggest_pool,
)
from kubectl_userns.probe.node_dump import NodeDump

USERNS_MANAGER = "kubernetes/kubernetes pkg/kubelet/userns/userns_manager.go"
GET_MAPPINGS = "kubernetes/kubernetes pkg/kubelet/kubelet_pods.go (getKubeletMappings)"
SUBID_READS = ("getsubids [-g] kubelet", "else kubelet lines of /etc/subuid, /etc/subgid")
EXPECTED_POOL = "exactly one kubelet range"


def _pool_fix(ctx: Context, dump: NodeDump, current: Pool | None) -> str:
    others = [
        Pool(line.start, line.count)  # type: ignore[arg-type]
        for line in dump.subuid + dump.subgid
        if line.valid and line.owner not in ("kubelet", str((dump.kubelet_user or (-1,))[0]))
    ]
    line = suggest_pool(current, ctx.ids_per_pod, ctx.max_pods, others).line()
    return (
        f"drain the node, write the line {line} (and no other kubelet line) to both "
        f"{SUBID_FILES}, then restart the kubelet"
    )


def _found(ctx: Context) -> KubeletPool:
    return kubelet_pool(ctx.node, ctx.ids_per_pod)


@register(
    "kubelet-user",
    area=POOL,
    source=NODE,
    reads=("getent passwd kubelet",),
    expects="a kubelet user (without one the kubelet uses a default pool that overlaps every "
    "other subordinate range)",
    upstream=(GET_MAPPINGS,),
)
def kubelet_user(ctx: Context) -> Check:
    dump = ctx.node
    expected = "a kubelet user"
    if dump.kubelet_user is not None:
        uid, gid = dump.kubelet_user
        return Check("kubelet-user", PASS, f"kubelet (UID {uid}, GID {gid})", expected, NODE)
    pool = default_pool(ctx.ids_per_pod)
    # getKubeletMappings looks the user up first: without one, kubelet: lines are never read
    # (kubernetes pkg/kubelet/kubelet_pods.go)
    unused = [line.text for line in dump.subuid + dump.subgid if line.owner == "kubelet"]
    ignored = (
        f"; its {', '.join(dict.fromkeys(unused))} line(s) in {SUBID_FILES} are not used"
        if unused
        else ""
    )
    return Check(
        "kubelet-user",
        WARN,
        f"no kubelet user: the kubelet uses its default pool {pool.first}-{pool.last}, which "
        f"overlaps every other subordinate range and ends at {MAX_ID}{ignored}",
        expected,
        NODE,
        "useradd --system --no-create-home --shell /usr/sbin/nologin kubelet; then "
        + _pool_fix(ctx, dump, None).replace("drain the node, ", ""),
    )


@register(
    "getsubids",
    area=POOL,
    source=NODE,
    reads=("getsubids on PATH",),
    expects="installed when there is a kubelet user (the kubelet runs it)",
    upstream=(GET_MAPPINGS,),
)
def getsubids(ctx: Context) -> Check:
    dump = ctx.node
    expected = "installed (the kubelet runs it)"
    if dump.getsubids_path is not None:
        return Check("getsubids", PASS, dump.getsubids_path, expected, NODE)
    if dump.kubelet_user is None:
        return Check(
            "getsubids", SKIP, "not installed; not needed without a kubelet user", expected, NODE
        )
    return Check(
        "getsubids",
        FAIL,
        "not installed: with a kubelet user the kubelet fails to start "
        '(exec: "getsubids": executable file not found)',
        expected,
        NODE,
        "install getsubids: 'apt-get install uidmap' (Debian, Ubuntu) or "
        "'dnf install shadow-utils-subid' (Fedora, RHEL)",
    )


@register(
    "subid-pool",
    area=POOL,
    source=NODE,
    reads=SUBID_READS,
    expects=EXPECTED_POOL,
    upstream=(GET_MAPPINGS, USERNS_MANAGER),
)
def subid_pool(ctx: Context) -> Check:
    dump = ctx.node
    found = _found(ctx)
    if found.origin == "default":
        pool = found.uid[0]
        return Check(
            "subid-pool",
            SKIP,
            f"no kubelet user: the default pool {pool.first}-{pool.last}",
            EXPECTED_POOL,
            NODE,
        )
    first_uid = found.uid[0] if found.uid else None
    shown_uid = ", ".join(p.line() for p in found.uid) or "none"
    shown_gid = ", ".join(p.line() for p in found.gid) or "none"
    if found.problem or not found.uid or not found.gid:
        problem = found.problem or "no range"
        return Check(
            "subid-pool",
            FAIL,
            f"{problem}: {start_effect(ctx)}",
            EXPECTED_POOL,
            NODE,
            _pool_fix(ctx, dump, first_uid),
        )
    if len(found.uid) > 1 or len(found.gid) > 1:
        return Check(
            "subid-pool",
            FAIL,
            f"UID ranges {shown_uid}; GID ranges {shown_gid}: the kubelet accepts only one "
            f"({start_effect(ctx)})",
            EXPECTED_POOL,
            NODE,
            _pool_fix(ctx, dump, first_uid),
        )
    via = " (read with getsubids)" if found.origin == "getsubids" else " (files; no getsubids)"
    return Check("subid-pool", PASS, f"{shown_uid}{via}", EXPECTED_POOL, NODE)


@register(
    "pool-uid-gid",
    area=POOL,
    source=NODE,
    reads=SUBID_READS,
    expects="UID range = GID range",
    upstream=(USERNS_MANAGER,),
)
def pool_uid_gid(ctx: Context) -> Check | None:
    dump = ctx.node
    found = _found(ctx)
    if found.origin == "default":
        return None
    if not found.uid and not found.gid:
        return Check("pool-uid-gid", SKIP, "no pool to check", "", NODE)
    shown_uid = ", ".join(p.line() for p in found.uid) or "none"
    shown_gid = ", ".join(p.line() for p in found.gid) or "none"
    if found.uid == found.gid:
        return Check("pool-uid-gid", PASS, f"both {shown_uid}", "UID range = GID range", NODE)
    return Check(
        "pool-uid-gid",
        FAIL,
        f"/etc/subuid {shown_uid}, /etc/subgid {shown_gid}: {start_effect(ctx)} "
        "(mismatched subuids and subgids)",
        "UID range = GID range",
        NODE,
        _pool_fix(ctx, dump, found.uid[0] if found.uid else None),
    )


def _pool_rule(ctx: Context, index: int, rule_id: str) -> Check:
    """The kubelet's start-up rule number ``index`` of :func:`.subids.pool_rules`."""
    dump = ctx.node
    ids, max_pods = ctx.ids_per_pod, ctx.max_pods
    found = _found(ctx)
    if found.origin == "default":
        rule = pool_rules(found.uid[0], ids, max_pods)[index]
        if rule.ok:
            return Check(rule.id, PASS, rule.observed, rule.expected, NODE)
        fix = "create the kubelet user and give it a range (see kubelet-user)"
        return Check(rule.id, WARN, rule.observed, rule.expected, NODE, fix)
    if not found.uid and not found.gid:
        return Check(rule_id, SKIP, "no pool to check", "", NODE)
    ranges = list(dict.fromkeys(found.uid + found.gid))
    results = [(pool, pool_rules(pool, ids, max_pods)[index]) for pool in ranges]
    failing = [(pool, rule) for pool, rule in results if not rule.ok]
    if not failing:
        rule = results[0][1]
        return Check(rule_id, PASS, rule.observed, rule.expected, NODE)
    pool, rule = failing[0]
    observed = rule.observed if len(ranges) == 1 else f"{pool.line()}: {rule.observed}"
    if rule_id != "pool-end":
        effect = start_effect(ctx)
    elif pool.first + pool.count > 2**32:
        # allocateOne computes uint32((index + off) * length): past 2^32 the slots wrap around to
        # the lowest host IDs (kubernetes pkg/kubelet/userns/userns_manager.go, #141345)
        effect = (
            f"the pool runs {pool.first + pool.count - 2**32} IDs past 2^32, and the kubelet's "
            "slots wrap around to low host IDs, host UID 0 (root) included"
        )
    else:
        effect = (
            f"the last pod slot ends at {MAX_ID}, which the kernel refuses to map "
            "(kubernetes#139916)"
        )
    return Check(
        rule_id,
        FAIL,
        f"{observed}: {effect}",
        rule.expected,
        NODE,
        _pool_fix(ctx, dump, pool),
    )


@register(
    "pool-alignment",
    area=POOL,
    source=NODE,
    reads=SUBID_READS,
    expects="first ID % idsPerPod == 0",
    upstream=(USERNS_MANAGER,),
)
def pool_alignment(ctx: Context) -> Check:
    return _pool_rule(ctx, 0, "pool-alignment")


@register(
    "pool-start",
    area=POOL,
    source=NODE,
    reads=SUBID_READS,
    expects="first ID >= idsPerPod",
    upstream=(USERNS_MANAGER,),
)
def pool_start(ctx: Context) -> Check:
    return _pool_rule(ctx, 1, "pool-start")


@register(
    "pool-length",
    area=POOL,
    source=NODE,
    reads=SUBID_READS,
    expects="count % idsPerPod == 0",
    upstream=(USERNS_MANAGER,),
)
def pool_length(ctx: Context) -> Check:
    return _pool_rule(ctx, 2, "pool-length")


@register(
    "pool-size",
    area=POOL,
    source=NODE,
    reads=(*SUBID_READS, "kubelet maxPods"),
    expects="count / idsPerPod >= maxPods",
    upstream=(USERNS_MANAGER,),
)
def pool_size(ctx: Context) -> Check:
    return _pool_rule(ctx, 3, "pool-size")


@register(
    "pool-end",
    area=POOL,
    source=NODE,
    reads=SUBID_READS,
    expects=f"last ID < {MAX_ID} (the kernel cannot map a slot ending there); a pool past "
    "2^32 wraps the kubelet's slots around to low host IDs, 0 included",
    upstream=(
        "kubernetes#139916",
        "kubernetes#141345",
        f"{USERNS_MANAGER} (allocateOne: uint32((index + off) * length))",
    ),
)
def pool_end(ctx: Context) -> Check:
    return _pool_rule(ctx, 4, "pool-end")


@register(
    "pool-overlap",
    area=POOL,
    source=NODE,
    reads=(*SUBID_READS, "other owners' lines of /etc/subuid, /etc/subgid"),
    expects="no other owner's range overlaps the pool",
    upstream=("kubectl-userns's own rule: host IDs that two owners share are not isolated",),
)
def pool_overlap(ctx: Context) -> Check | None:
    dump = ctx.node
    found = _found(ctx)
    if found.origin == "default" or (not found.uid and not found.gid):
        return None
    ranges = list(dict.fromkeys(found.uid + found.gid))
    expected = "no other owner's range"
    clashes = []
    owner_uid = str((dump.kubelet_user or (-1,))[0])
    for file, lines in (("/etc/subuid", dump.subuid), ("/etc/subgid", dump.subgid)):
        for line in lines:
            if not line.valid or line.owner in ("kubelet", owner_uid):
                continue
            assert line.start is not None and line.count is not None
            if any(pool.overlaps(line.start, line.count) for pool in ranges):
                clashes.append(f"{line.text} in {file}")
    if not clashes:
        return Check("pool-overlap", PASS, "none", expected, NODE)
    return Check(
        "pool-overlap",
        WARN,
        "overlaps " + ", ".join(clashes) + ": pods may share host IDs with that owner's containers",
        expected,
        NODE,
        _pool_fix(ctx, dump, ranges[0]),
    )
