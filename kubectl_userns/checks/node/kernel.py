"""Kernel and filesystems: the kernel release, ``user.max_user_namespaces``, the cgroup version,
the kubelet root's filesystem and ``--probe``'s idmapped mounts (userns-facts.md, section 3)."""

from __future__ import annotations

from kubectl_userns.checks.node.catalogue import (
    API,
    FAIL,
    KERNEL,
    NODE,
    PASS,
    PROBE,
    SKIP,
    WARN,
    Check,
    register,
)
from kubectl_userns.checks.node.facts import Context, Version, parse_version, show_minor

KEP = "KEP-127 (kubernetes/enhancements keps/sig-node/127-user-namespaces)"
IDMAP_KERNELS = "the kernel releases that added FS_ALLOW_IDMAP to each filesystem (torvalds/linux)"

# Kernel release from which each filesystem can be idmapped (userns-facts.md, section 3); the
# names are those of /proc/self/mountinfo.
IDMAP_SINCE: dict[str, Version] = {
    "xfs": (5, 12, 0),
    "ext4": (5, 12, 0),
    "vfat": (5, 12, 0),
    "btrfs": (5, 15, 0),
    "ntfs3": (5, 15, 0),
    "f2fs": (5, 18, 0),
    "erofs": (5, 19, 0),
    "overlay": (5, 19, 0),
    "squashfs": (6, 2, 0),
    "tmpfs": (6, 3, 0),
    "ceph": (6, 7, 0),
    "hugetlbfs": (6, 9, 0),
}
IDMAP_NEVER = ("nfs", "nfs4")
TMPFS_FLOOR: Version = (6, 3, 0)


def _probe_step(ctx: Context, step: str) -> str | None:
    """``ok``/``fail`` of an idmap probe step, None when it did not run."""
    if ctx.dump is None:
        return None
    found = ctx.dump.idmap_step(step)
    return found.result if found and found.result in ("ok", "fail") else None


@register(
    "kernel-version",
    area=KERNEL,
    source=API,
    reads=("Node status.nodeInfo.kernelVersion", "--probe's idmapped tmpfs"),
    expects=f">= {show_minor(TMPFS_FLOOR)}, the first release that idmaps tmpfs (service "
    "account tokens, Secrets); an older one passes when --probe idmaps a tmpfs",
    upstream=(KEP, IDMAP_KERNELS),
    reports=(PROBE,),
)
def kernel_version(ctx: Context) -> Check:
    text = ctx.info.kernel_version or (ctx.dump.kernel if ctx.dump else "")
    expected = f">= {show_minor(TMPFS_FLOOR)} (idmapped tmpfs)"
    version = parse_version(text)
    tmpfs = _probe_step(ctx, "tmpfs")
    if version is None:
        return Check(
            "kernel-version",
            WARN,
            text or "(not reported)",
            expected,
            API,
            "run verify-node --probe to test idmapped mounts on this kernel",
        )
    if version >= TMPFS_FLOOR:
        return Check("kernel-version", PASS, text, expected, API)
    if tmpfs == "ok":
        return Check(
            "kernel-version",
            PASS,
            f"{text} (older than 6.3, but --probe idmapped a tmpfs: the fix is backported)",
            expected,
            PROBE,
        )
    if tmpfs == "fail":
        return Check(
            "kernel-version",
            FAIL,
            f"{text} (--probe: this kernel cannot idmap tmpfs)",
            expected,
            PROBE,
            "upgrade to kernel 6.3 or later (or a distribution kernel that backports idmapped "
            "tmpfs)",
        )
    return Check(
        "kernel-version",
        WARN,
        f"{text}: older than 6.3; distribution kernels often backport idmapped tmpfs",
        expected,
        API,
        "run verify-node --probe to test this kernel, or upgrade to kernel 6.3 or later",
    )


@register(
    "max-user-namespaces",
    area=KERNEL,
    source=NODE,
    reads=("/proc/sys/user/max_user_namespaces", "kubelet maxPods"),
    expects="user.max_user_namespaces > 0, and at least maxPods",
    upstream=("torvalds/linux kernel/ucount.c (user.max_user_namespaces)",),
)
def max_user_namespaces(ctx: Context) -> Check:
    dump = ctx.node
    value = dump.max_user_namespaces
    expected = f">= maxPods ({ctx.max_pods})"
    fix = (
        "sysctl -w user.max_user_namespaces=65536 and keep it in "
        "/etc/sysctl.d/90-userns.conf (user.max_user_namespaces = 65536)"
    )
    if value is None:
        return Check(
            "max-user-namespaces",
            WARN,
            "unreadable",
            expected,
            NODE,
            "check /proc/sys/user/max_user_namespaces by hand",
        )
    observed = f"user.max_user_namespaces={value}"
    if value == 0:
        return Check(
            "max-user-namespaces",
            FAIL,
            observed + ": no user namespace can be created",
            expected,
            NODE,
            fix,
        )
    if value < ctx.max_pods:
        return Check(
            "max-user-namespaces", WARN, observed + ": fewer than maxPods", expected, NODE, fix
        )
    return Check("max-user-namespaces", PASS, observed, expected, NODE)


@register(
    "cgroup-version",
    area=KERNEL,
    source=NODE,
    reads=("the filesystem of /sys/fs/cgroup", "kubelet failCgroupV1, cgroupDriver"),
    expects="cgroup v2 (a kubelet >= 1.35 refuses v1 unless failCgroupV1 is false)",
    upstream=(
        "KEP-4569 (kubernetes/enhancements keps/sig-node/4569-cgroup-v1-maintenance-mode)",
        "kubernetes/kubernetes pkg/kubelet/apis/config/v1beta1/defaults.go (failCgroupV1)",
    ),
)
def cgroup_version(ctx: Context) -> Check:
    dump = ctx.node
    driver = ctx.settings.cgroup_driver
    extra = f", cgroupDriver {driver}" if driver else ""
    expected = "v2"
    if dump.cgroup_fs == "cgroup2fs":
        return Check("cgroup-version", PASS, f"v2 at /sys/fs/cgroup{extra}", expected, NODE)
    hybrid = any(fstype == "cgroup2" for fstype, _ in dump.cgroup_mounts)
    observed = ("hybrid (v1 with a v2 mount beside it)" if hybrid else "v1") + extra
    fail_v1 = ctx.settings.fail_cgroup_v1
    if fail_v1 is None:
        fail_v1 = ctx.kubelet is not None and ctx.kubelet[:2] >= (1, 35)
    fix = (
        "boot the node with cgroup v2 (kernel argument systemd.unified_cgroup_hierarchy=1 on "
        "older systemd), then restart the kubelet"
    )
    if fail_v1:
        return Check(
            "cgroup-version",
            FAIL,
            observed + ": the kubelet refuses to start (failCgroupV1)",
            expected,
            NODE,
            fix,
        )
    return Check(
        "cgroup-version",
        WARN,
        observed + ": the kubelet sees cgroup v1 (deprecated)",
        expected,
        NODE,
        fix,
    )


@register(
    "kubelet-root-fs",
    area=KERNEL,
    source=NODE,
    reads=("the mount holding the kubelet root (/proc/self/mountinfo)", "kernel release"),
    expects="a filesystem this kernel can idmap (ext4, xfs 5.12; btrfs 5.15; overlay 5.19; "
    "tmpfs 6.3; never NFS), or --probe's idmapped bind mount",
    upstream=(KEP, IDMAP_KERNELS),
    reports=(PROBE,),
)
def kubelet_root_fs(ctx: Context) -> Check:
    dump = ctx.node
    root = dump.kubelet_root or ctx.kubelet_root
    fstype = dump.root_fstype
    expected = "a filesystem this kernel can idmap"
    bind = _probe_step(ctx, "bind")
    if dump.kubelet_root_state != "dir":
        return Check(
            "kubelet-root-fs",
            SKIP,
            f"{root} does not exist (see kubelet-root)",
            expected,
            NODE,
        )
    if fstype is None:
        return Check(
            "kubelet-root-fs",
            WARN,
            f"{root}: no mount found",
            expected,
            NODE,
            f"check the mounts under {root}",
        )
    observed = f"{fstype} ({dump.root_mountpoint or '?'})"
    fix_fs = f"move {root} to a local filesystem that supports idmapped mounts (ext4, xfs, btrfs)"
    if bind == "ok":
        return Check(
            "kubelet-root-fs", PASS, observed + ": idmapped bind proven by --probe", expected, PROBE
        )
    if bind == "fail":
        return Check(
            "kubelet-root-fs",
            FAIL,
            observed + ": --probe could not idmap it",
            expected,
            PROBE,
            fix_fs,
        )
    if fstype in IDMAP_NEVER:
        return Check(
            "kubelet-root-fs", FAIL, observed + ": NFS cannot be idmapped", expected, NODE, fix_fs
        )
    since = IDMAP_SINCE.get(fstype)
    kernel = parse_version(dump.kernel)
    if since is None:
        return Check(
            "kubelet-root-fs",
            WARN,
            observed + ": idmap support unknown",
            expected,
            NODE,
            "run verify-node --probe to test it",
        )
    if kernel is not None and kernel >= since:
        return Check(
            "kubelet-root-fs",
            PASS,
            observed + f", idmappable since {show_minor(since)}",
            expected,
            NODE,
        )
    return Check(
        "kubelet-root-fs",
        WARN,
        observed + f": idmappable from kernel {show_minor(since)}, this is {dump.kernel}",
        expected,
        NODE,
        "run verify-node --probe to test this kernel, or upgrade it",
    )


# --- --probe: what the kernel does when asked (probe/node.sh, "idmap" records) ----------------


@register(
    "idmap-mounts",
    area=KERNEL,
    source=PROBE,
    reads=("whether --probe was given",),
    expects="add --probe to mount an idmapped tmpfs",
    upstream=(KEP,),
)
def idmap_mounts(ctx: Context) -> Check | None:
    if ctx.probe_requested:
        return None
    return Check(
        "idmap-mounts",
        SKIP,
        "not tested",
        "add --probe to mount an idmapped tmpfs",
        PROBE,
    )


def _idmap_step(ctx: Context, check_id: str, step: str, expected: str, fix: str) -> Check | None:
    """One step of --probe: PASS when it worked, FAIL with the kernel's error, else SKIP/WARN."""
    if not ctx.probe_requested:
        return None
    dump = ctx.node
    tool = dump.idmap_step("tool")
    error = dump.idmap_step("error")
    found = dump.idmap_step(step)
    if found is None or found.result == "skip":
        why = (
            found.detail
            if found
            else (tool.detail if tool and tool.result == "skip" else "")
            or (f"the probe failed: {error.detail}" if error else "no result")
        )
        status = WARN if error and not (tool and tool.result == "skip") else SKIP
        return Check(check_id, status, why, expected, PROBE)
    if found.result == "ok":
        return Check(check_id, PASS, found.detail, expected, PROBE)
    detail = found.detail
    if step == "userns" and "ENOSPC" in detail:
        detail += " (user.max_user_namespaces is 0 or used up)"
    return Check(check_id, FAIL, detail, expected, PROBE, fix)


@register(
    "idmap-userns",
    area=KERNEL,
    source=PROBE,
    reads=("--probe: unshare a user namespace on the node",),
    expects="a user namespace can be created",
    upstream=(KEP,),
)
def idmap_userns(ctx: Context) -> Check | None:
    return _idmap_step(
        ctx,
        "idmap-userns",
        "userns",
        "a user namespace",
        "set user.max_user_namespaces above 0 (see max-user-namespaces)",
    )


@register(
    "idmap-tmpfs",
    area=KERNEL,
    source=PROBE,
    reads=("--probe: mount a tmpfs idmapped into that namespace",),
    expects="an idmapped tmpfs (kernel 6.3, or a backport)",
    upstream=(KEP, IDMAP_KERNELS),
)
def idmap_tmpfs(ctx: Context) -> Check | None:
    return _idmap_step(
        ctx,
        "idmap-tmpfs",
        "tmpfs",
        "an idmapped tmpfs",
        "upgrade to kernel 6.3 or later (or one that backports idmapped tmpfs)",
    )


@register(
    "idmap-kubelet-root",
    area=KERNEL,
    source=PROBE,
    reads=("--probe: bind-mount the kubelet root idmapped",),
    expects="an idmapped bind mount of the kubelet root",
    upstream=(KEP, IDMAP_KERNELS),
)
def idmap_kubelet_root(ctx: Context) -> Check | None:
    return _idmap_step(
        ctx,
        "idmap-kubelet-root",
        "bind",
        "an idmapped bind mount",
        f"move {ctx.node.kubelet_root} to a filesystem that supports idmapped mounts (ext4, xfs)",
    )
