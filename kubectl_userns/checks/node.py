"""Judging a node's readiness for user namespaces: pure functions over plain data.

Inputs are the Node object's facts (:class:`NodeInfo`), the kubelet's settings as read from the
API's ``/configz`` or the node's config file (:class:`KubeletSettings`) and what the node probe
saw (:class:`~kubectl_userns.probe.node_dump.NodeDump`). :func:`build_report` runs every check
and returns the report as plain data (the schema of ``-o json``, docs/verify-node-report.md).

The rules come from ../shared/docs/userns-facts.md: the feature's timeline (section 1), the
kubelet's ID-pool rules (section 2) and the node prerequisites (section 3).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kubectl_userns.checks.idmap import MAX_ID, parse_kubelet_record
from kubectl_userns.probe.node_dump import NodeDump, SubIdLine

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
API, NODE, PROBE = "api", "node", "probe"
REPORT_VERSION = "kubectl-userns/v1"
UNIT = 65536  # idsPerPod must be a multiple of this; also its default
DEFAULT_MAX_PODS = 110
SUBID_FILES = "/etc/subuid and /etc/subgid"

Version = tuple[int, int, int]

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


@dataclass(frozen=True)
class Check:
    """One line of the checklist."""

    id: str
    status: str  # PASS, WARN, FAIL, SKIP
    observed: str
    expected: str
    source: str  # api, node, probe
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "status": self.status,
            "observed": self.observed,
            "expected": self.expected,
            "source": self.source,
            "fix": self.fix,
        }


# --- versions ----------------------------------------------------------------------------------

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> Version | None:
    """The first ``MAJOR.MINOR[.PATCH]`` in ``text`` (``v1.33.1``, ``6.18.4-200.fc42``)."""
    match = _VERSION.search(text or "")
    if not match:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def show_version(version: Version) -> str:
    return ".".join(str(part) for part in version)


def show_minor(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def runtime_version(text: str) -> tuple[str, Version | None]:
    """``containerRuntimeVersion`` (``cri-o://1.33.0``) as (runtime name, version)."""
    name, sep, rest = (text or "").partition("://")
    if not sep:
        return "", parse_version(text)
    return name.lower(), parse_version(rest)


def oci_runtime_version(name: str, line: str) -> Version | None:
    """The version in ``crun version 1.14.4`` / ``runc version 1.2.0``."""
    match = re.search(rf"{name}\s+version\s+(\S+)", line)
    return parse_version(match[1] if match else line)


# --- facts from the API ------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeInfo:
    """What the Node object says."""

    name: str
    kubelet_version: str
    kernel_version: str
    container_runtime_version: str
    os_image: str
    # (handler name, features.userNamespaces); None when the kubelet reports no runtimeHandlers
    runtime_handlers: tuple[tuple[str, bool | None], ...] | None

    @property
    def kubelet(self) -> Version | None:
        return parse_version(self.kubelet_version)


def node_info(node: dict[str, Any]) -> NodeInfo:
    status = node.get("status") or {}
    info = status.get("nodeInfo") or {}
    handlers = status.get("runtimeHandlers")
    parsed: tuple[tuple[str, bool | None], ...] | None = None
    if isinstance(handlers, list):
        items = []
        for handler in handlers:
            if not isinstance(handler, dict):
                continue
            value = (handler.get("features") or {}).get("userNamespaces")
            items.append(
                (str(handler.get("name") or ""), value if isinstance(value, bool) else None)
            )
        parsed = tuple(items)
    return NodeInfo(
        name=str((node.get("metadata") or {}).get("name", "")),
        kubelet_version=str(info.get("kubeletVersion") or ""),
        kernel_version=str(info.get("kernelVersion") or ""),
        container_runtime_version=str(info.get("containerRuntimeVersion") or ""),
        os_image=str(info.get("osImage") or ""),
        runtime_handlers=parsed,
    )


# --- the kubelet's settings --------------------------------------------------------------------


@dataclass(frozen=True)
class KubeletSettings:
    """The kubelet configuration values that matter here, and where they came from."""

    source: str  # "configz", "node", "defaults"
    origin: str  # human text: "/configz through the API", "/var/lib/kubelet/config.yaml", ...
    configz_problem: str = ""  # why /configz was not used ("" when it was)
    feature_gates: dict[str, bool] = field(default_factory=dict)
    ids_per_pod: int | None = None  # as configured (None: not set)
    max_pods: int | None = None
    cgroup_driver: str | None = None
    fail_cgroup_v1: bool | None = None
    root_dir: str | None = None


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _bool_or_none(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _settings(config: dict[str, Any], source: str, origin: str, problem: str) -> KubeletSettings:
    gates = config.get("featureGates") or {}
    userns = config.get("userNamespaces") or {}
    return KubeletSettings(
        source=source,
        origin=origin,
        configz_problem=problem,
        feature_gates={
            str(k): v
            for k, v in (gates.items() if isinstance(gates, dict) else [])
            if isinstance(v, bool)
        },
        ids_per_pod=_int_or_none(userns.get("idsPerPod") if isinstance(userns, dict) else None),
        max_pods=_int_or_none(config.get("maxPods")),
        cgroup_driver=str(config["cgroupDriver"]) if config.get("cgroupDriver") else None,
        fail_cgroup_v1=_bool_or_none(config.get("failCgroupV1")),
        root_dir=str(config["rootDir"]) if config.get("rootDir") else None,
    )


def settings_from_configz(config: dict[str, Any]) -> KubeletSettings:
    """Settings from the ``kubeletconfig`` object of ``/api/v1/nodes/NODE/proxy/configz``."""
    return _settings(config, "configz", "/configz through the API", "")


def settings_from_node(dump: NodeDump | None, configz_problem: str) -> KubeletSettings:
    """Settings from the kubelet's config file and command line on the node, else defaults."""
    import yaml

    config: dict[str, Any] = {}
    origin = ""
    if dump is not None and dump.kubelet_config_text is not None:
        try:
            loaded = yaml.safe_load(dump.kubelet_config_text)
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, dict):
            config = loaded
            origin = f"{dump.kubelet_config_path} on the node"
    args = dump.kubelet_args if dump is not None and dump.kubelet_args else ()
    flags = _kubelet_flags(args)
    if flags:
        origin = f"{origin} and " if origin else ""
        origin += "the kubelet's command line"
        gates = dict(config.get("featureGates") or {})
        for item in flags.get("feature-gates", "").split(","):
            name, _, value = item.partition("=")
            if name.strip() and value.strip().lower() in ("true", "false"):
                gates[name.strip()] = value.strip().lower() == "true"
        config["featureGates"] = gates
        for flag, key in (("max-pods", "maxPods"), ("cgroup-driver", "cgroupDriver")):
            if flag in flags:
                config[key] = flags[flag]
        if "root-dir" in flags:
            config["rootDir"] = flags["root-dir"]
    if not origin:
        return KubeletSettings("defaults", "kubelet defaults", configz_problem)
    return _settings(config, "node", origin, configz_problem)


def _kubelet_flags(args: Sequence[str]) -> dict[str, str]:
    flags: dict[str, str] = {}
    wanted = ("feature-gates", "max-pods", "cgroup-driver", "root-dir")
    items = list(args)
    for index, arg in enumerate(items):
        if not arg.startswith("--"):
            continue
        name, eq, value = arg[2:].partition("=")
        if name not in wanted:
            continue
        if not eq and index + 1 < len(items):
            value = items[index + 1]
        flags[name] = value
    return flags


# --- the feature's timeline (userns-facts.md, section 1) --------------------------------------


def gate_name(kubelet: Version) -> str:
    return (
        "UserNamespacesSupport" if kubelet[:2] >= (1, 28) else "UserNamespacesStatelessPodsSupport"
    )


def feature_state(kubelet: Version) -> str:
    minor = kubelet[:2]
    if minor < (1, 25):
        return "not supported (user namespaces came in 1.25)"
    if minor < (1, 28):
        return "alpha, stateless pods only, gate off by default"
    if minor < (1, 30):
        return "alpha, gate off by default"
    if minor < (1, 33):
        return "beta, gate off by default"
    if minor < (1, 36):
        return "beta, on by default"
    return "GA, gate locked on"


def gate_default(kubelet: Version) -> bool:
    return kubelet[:2] >= (1, 33)


def effective_ids_per_pod(settings: KubeletSettings, kubelet: Version | None) -> int:
    """idsPerPod as the kubelet uses it: the setting is honoured from 1.35 on."""
    if settings.ids_per_pod and kubelet is not None and kubelet[:2] >= (1, 35):
        return settings.ids_per_pod
    return UNIT


# --- the kubelet's ID pool (userns-facts.md, section 2) ---------------------------------------


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


# --- the checks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Everything the checks look at."""

    info: NodeInfo
    settings: KubeletSettings
    dump: NodeDump | None
    kubelet_root: str
    probe_requested: bool
    pods: dict[str, str]  # pod UID -> "namespace/name" of the pods the API knows on this node

    @property
    def kubelet(self) -> Version | None:
        return self.info.kubelet

    @property
    def ids_per_pod(self) -> int:
        return effective_ids_per_pod(self.settings, self.kubelet)

    @property
    def max_pods(self) -> int:
        value = self.settings.max_pods
        return value if value and value > 0 else DEFAULT_MAX_PODS

    @property
    def settings_source(self) -> str:
        return NODE if self.settings.source == "node" else API


def check_kubelet_version(ctx: Context) -> Check:
    text = ctx.info.kubelet_version or "(not reported)"
    expected = ">= 1.30 (1.33+: on by default)"
    kubelet = ctx.kubelet
    if kubelet is None:
        return Check(
            "kubelet-version", WARN, text, expected, API, "check the kubelet's version by hand"
        )
    state = feature_state(kubelet)
    observed = f"{ctx.info.kubelet_version}: {state}"
    if kubelet[:2] < (1, 25):
        return Check(
            "kubelet-version",
            FAIL,
            observed,
            expected,
            API,
            "upgrade the node to Kubernetes 1.33 or later (user namespaces on by default)",
        )
    if kubelet[:2] < (1, 30):
        return Check(
            "kubelet-version",
            WARN,
            observed,
            expected,
            API,
            "upgrade to Kubernetes 1.33 or later: before 1.30 a pod can silently run without a "
            "user namespace when the runtime lacks support",
        )
    return Check("kubelet-version", PASS, observed, expected, API)


def check_kubelet_config(ctx: Context) -> Check:
    s = ctx.settings
    expected = "/configz readable through the API"
    if s.source == "configz":
        return Check("kubelet-config", PASS, "/configz read", expected, API)
    grant = (
        "grant 'get' on nodes/proxy to read /configz through the API"
        if "403" in s.configz_problem
        else "make the API server's node proxy reach the kubelet (port 10250)"
    )
    if s.source == "node":
        return Check(
            "kubelet-config",
            WARN,
            f"/configz unavailable ({s.configz_problem}); used {s.origin}",
            expected,
            NODE,
            grant,
        )
    where = "no kubelet config file found on the node" if ctx.dump else "the node was not read"
    return Check(
        "kubelet-config",
        WARN,
        f"/configz unavailable ({s.configz_problem}); {where}; kubelet defaults assumed",
        expected,
        API,
        grant,
    )


def check_feature_gate(ctx: Context) -> Check:
    kubelet = ctx.kubelet
    if kubelet is None or kubelet[:2] < (1, 25):
        return Check(
            "feature-gate", SKIP, "no usable kubelet version", "the user namespace gate on", API
        )
    name = gate_name(kubelet)
    expected = f"{name}=true"
    fix = (
        f"set featureGates: {{{name}: true}} in the kubelet configuration and restart the "
        "kubelet (the kube-apiserver needs the same gate before 1.33)"
    )
    if kubelet[:2] >= (1, 36):
        return Check("feature-gate", PASS, f"{name} locked on (GA)", expected, API)
    configured = ctx.settings.feature_gates.get(name)
    default = gate_default(kubelet)
    if ctx.settings.source == "defaults":
        observed = f"unknown (config unreadable); default for {show_minor(kubelet)}: " + (
            "on" if default else "off"
        )
        return Check("feature-gate", WARN, observed, expected, API, "" if default else fix)
    src = ctx.settings_source
    if configured is None:
        observed = f"{name} not set, default " + ("on" if default else "off")
        return Check(
            "feature-gate",
            PASS if default else FAIL,
            observed,
            expected,
            src,
            "" if default else fix,
        )
    observed = f"{name}={str(configured).lower()}"
    return Check(
        "feature-gate",
        PASS if configured else FAIL,
        observed,
        expected,
        src,
        "" if configured else fix,
    )


def check_ids_per_pod(ctx: Context) -> Check:
    configured = ctx.settings.ids_per_pod
    kubelet = ctx.kubelet
    src = ctx.settings_source
    expected = f"a multiple of {UNIT}"
    if configured is None:
        return Check("ids-per-pod", PASS, f"{UNIT} (default)", expected, src)
    if configured <= 0 or configured % UNIT:
        return Check(
            "ids-per-pod",
            FAIL,
            f"userNamespaces.idsPerPod={configured}",
            expected,
            src,
            f"set userNamespaces.idsPerPod to a multiple of {UNIT} (or remove it for {UNIT}); "
            "the kubelet refuses to start otherwise",
        )
    if kubelet is not None and kubelet[:2] < (1, 35) and configured != UNIT:
        return Check(
            "ids-per-pod",
            WARN,
            f"userNamespaces.idsPerPod={configured}, ignored by kubelet "
            f"{ctx.info.kubelet_version} (uses {UNIT})",
            expected,
            src,
            f"remove userNamespaces.idsPerPod or upgrade the kubelet to 1.35; until then pods "
            f"get {UNIT} IDs",
        )
    return Check("ids-per-pod", PASS, f"userNamespaces.idsPerPod={configured}", expected, src)


def _probe_step(ctx: Context, step: str) -> str | None:
    """``ok``/``fail`` of an idmap probe step, None when it did not run."""
    if ctx.dump is None:
        return None
    found = ctx.dump.idmap_step(step)
    return found.result if found and found.result in ("ok", "fail") else None


def check_kernel(ctx: Context) -> Check:
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


def check_container_runtime(ctx: Context) -> Check:
    text = ctx.info.container_runtime_version
    expected = "CRI-O >= 1.25, containerd >= 2.0"
    if not text:
        return Check("container-runtime", SKIP, "(not reported)", expected, API)
    name, version = runtime_version(text)
    kubelet = ctx.kubelet
    target = f"1.{kubelet[1]}" if kubelet else "a current release"
    if version is None:
        return Check(
            "container-runtime", WARN, text, expected, API, "check the runtime's version by hand"
        )
    if name == "cri-o":
        if version[:2] >= (1, 25):
            return Check("container-runtime", PASS, text, expected, API)
        return Check(
            "container-runtime",
            FAIL,
            text,
            expected,
            API,
            f"upgrade CRI-O to {target} (user namespaces need CRI-O 1.25 or later)",
        )
    if name == "containerd":
        if version[:2] >= (2, 0):
            return Check("container-runtime", PASS, text, expected, API)
        if version[:2] == (1, 7):
            if kubelet is not None and kubelet[:2] in ((1, 25), (1, 26)):
                return Check(
                    "container-runtime",
                    PASS,
                    f"{text} (works with Kubernetes 1.25/1.26 only)",
                    expected,
                    API,
                )
            return Check(
                "container-runtime",
                FAIL,
                f"{text}: supports user namespaces only with Kubernetes 1.25/1.26",
                expected,
                API,
                "upgrade containerd to 2.0 or later",
            )
        return Check(
            "container-runtime",
            FAIL,
            f"{text}: silently ignores hostUsers: false (pods run as host root)",
            expected,
            API,
            "upgrade containerd to 2.0 or later",
        )
    return Check(
        "container-runtime",
        WARN,
        f"{text}: not a runtime this tool knows",
        expected,
        API,
        "make sure the runtime supports user namespaces, or use CRI-O >= 1.25 / containerd >= 2.0",
    )


def check_runtime_handlers(ctx: Context) -> Check:
    handlers = ctx.info.runtime_handlers
    expected = "userNamespaces=true on every handler"
    kubelet = ctx.kubelet
    if handlers is None:
        if kubelet is not None and kubelet[:2] < (1, 31):
            return Check(
                "runtime-handlers",
                SKIP,
                "not reported (kubelets report it from 1.31)",
                expected,
                API,
            )
        return Check(
            "runtime-handlers",
            WARN,
            "status.runtimeHandlers not reported",
            expected,
            API,
            "upgrade the container runtime (CRI-O >= 1.31, containerd >= 2.0 report their "
            "features)",
        )
    shown = ", ".join(
        f"{name or '(default)'}={'?' if value is None else str(value).lower()}"
        for name, value in handlers
    )
    without = [name for name, value in handlers if value is not True]
    if not without:
        return Check("runtime-handlers", PASS, shown, expected, API)
    fix = "upgrade the runtime (or its OCI runtime) until every handler reports userNamespaces"
    if "" in without or len(without) == len(handlers):
        return Check("runtime-handlers", FAIL, shown, expected, API, fix)
    names = ", ".join(without)
    return Check(
        "runtime-handlers",
        WARN,
        shown,
        expected,
        API,
        f"pods using RuntimeClass handler {names} cannot use hostUsers: false; {fix}",
    )


# --- node checks -----------------------------------------------------------------------------


def _default_runtime(dump: NodeDump) -> str | None:
    """The OCI runtime CRI-O is configured to use by default (crun, runc), when it says so."""
    for setting in dump.runtime_settings:
        if setting.key == "default_runtime" and setting.value in ("crun", "runc"):
            return setting.value
    return None


def check_oci_runtime(ctx: Context, dump: NodeDump) -> Check:
    expected = "crun >= 1.9 (1.13+), runc >= 1.2"
    if not dump.runtimes:
        return Check(
            "oci-runtime",
            WARN,
            "no crun or runc found on PATH or in the usual places",
            expected,
            NODE,
            "check the OCI runtime's version by hand (crun --version, runc --version)",
        )
    good, meh, bad = [], [], []
    parts = []
    for binary in dump.runtimes:
        version = oci_runtime_version(binary.name, binary.version_line)
        shown = show_version(version) if version else "unknown version"
        parts.append(f"{binary.name} {shown} ({binary.path})")
        minimum, recommended = ((1, 9), (1, 13)) if binary.name == "crun" else ((1, 2), (1, 2))
        if version is None:
            meh.append(binary)
        elif version[:2] < minimum:
            bad.append(binary)
        elif version[:2] < recommended:
            meh.append(binary)
        else:
            good.append(binary)
    observed = ", ".join(parts)
    default = _default_runtime(dump)
    if default:
        observed += f"; CRI-O default_runtime={default}"
    if bad:
        names = ", ".join(f"{b.name} at {b.path}" for b in bad)
        fix = f"upgrade {names} (crun >= 1.13, runc >= 1.2)"
        if not good or (default and any(b.name == default for b in bad)):
            return Check("oci-runtime", FAIL, observed, expected, NODE, fix)
        return Check(
            "oci-runtime",
            WARN,
            observed,
            expected,
            NODE,
            f"{fix}, or make sure no runtime handler uses it",
        )
    if meh:
        return Check(
            "oci-runtime",
            WARN,
            observed,
            expected,
            NODE,
            "upgrade crun to 1.13 or later (earlier releases have idmap bugs)",
        )
    return Check("oci-runtime", PASS, observed, expected, NODE)


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


def check_kubelet_user(ctx: Context, dump: NodeDump) -> Check:
    expected = "a kubelet user"
    if dump.kubelet_user is not None:
        uid, gid = dump.kubelet_user
        return Check("kubelet-user", PASS, f"kubelet (UID {uid}, GID {gid})", expected, NODE)
    pool = default_pool(ctx.ids_per_pod)
    return Check(
        "kubelet-user",
        WARN,
        f"no kubelet user: the kubelet uses its default pool {pool.first}-{pool.last}, which "
        f"overlaps every other subordinate range and ends at {MAX_ID}",
        expected,
        NODE,
        "useradd --system --no-create-home --shell /usr/sbin/nologin kubelet; then "
        + _pool_fix(ctx, dump, None).replace("drain the node, ", ""),
    )


def check_getsubids(ctx: Context, dump: NodeDump) -> Check:
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


def pool_checks(ctx: Context, dump: NodeDump) -> list[Check]:
    ids, max_pods = ctx.ids_per_pod, ctx.max_pods
    found = kubelet_pool(dump, ids)
    rule_ids = ["pool-alignment", "pool-start", "pool-length", "pool-size", "pool-end"]
    checks: list[Check] = []
    if found.origin == "default":
        pool = found.uid[0]
        checks.append(
            Check(
                "subid-pool",
                SKIP,
                f"no kubelet user: the default pool {pool.first}-{pool.last}",
                "exactly one kubelet range",
                NODE,
            )
        )
        for rule in pool_rules(pool, ids, max_pods):
            status = PASS if rule.ok else WARN
            fix = (
                "" if rule.ok else "create the kubelet user and give it a range (see kubelet-user)"
            )
            checks.append(Check(rule.id, status, rule.observed, rule.expected, NODE, fix))
        return checks
    expected_pool = "exactly one kubelet range"
    first_uid = found.uid[0] if found.uid else None
    shown_uid = ", ".join(p.line() for p in found.uid) or "none"
    shown_gid = ", ".join(p.line() for p in found.gid) or "none"
    via = " (read with getsubids)" if found.origin == "getsubids" else " (files; no getsubids)"
    if found.problem or not found.uid or not found.gid:
        problem = found.problem or "no range"
        checks.append(
            Check(
                "subid-pool",
                FAIL,
                f"{problem}: the kubelet fails to start",
                expected_pool,
                NODE,
                _pool_fix(ctx, dump, first_uid),
            )
        )
        if not found.uid and not found.gid:
            checks += [
                Check(r, SKIP, "no pool to check", "", NODE) for r in ["pool-uid-gid", *rule_ids]
            ]
            return checks
    elif len(found.uid) > 1 or len(found.gid) > 1:
        checks.append(
            Check(
                "subid-pool",
                FAIL,
                f"UID ranges {shown_uid}; GID ranges {shown_gid}: the kubelet accepts only one",
                expected_pool,
                NODE,
                _pool_fix(ctx, dump, first_uid),
            )
        )
    else:
        checks.append(Check("subid-pool", PASS, f"{shown_uid}{via}", expected_pool, NODE))
    if found.uid == found.gid:
        checks.append(
            Check("pool-uid-gid", PASS, f"both {shown_uid}", "UID range = GID range", NODE)
        )
    else:
        checks.append(
            Check(
                "pool-uid-gid",
                FAIL,
                f"/etc/subuid {shown_uid}, /etc/subgid {shown_gid}: the kubelet fails to start "
                "(mismatched subuids and subgids)",
                "UID range = GID range",
                NODE,
                _pool_fix(ctx, dump, first_uid),
            )
        )
    ranges = list(dict.fromkeys(found.uid + found.gid))
    for index, rule_id in enumerate(rule_ids):
        results = [(pool, pool_rules(pool, ids, max_pods)[index]) for pool in ranges]
        failing = [(pool, rule) for pool, rule in results if not rule.ok]
        rule = results[0][1]
        if not failing:
            checks.append(Check(rule_id, PASS, rule.observed, rule.expected, NODE))
            continue
        pool, rule = failing[0]
        observed = rule.observed if len(ranges) == 1 else f"{pool.line()}: {rule.observed}"
        effect = (
            "the last pod slot cannot be mapped"
            if rule_id == "pool-end"
            else "the kubelet fails to start"
        )
        checks.append(
            Check(
                rule_id,
                FAIL,
                f"{observed}: {effect}",
                rule.expected,
                NODE,
                _pool_fix(ctx, dump, pool),
            )
        )
    checks.append(_overlap_check(ctx, dump, ranges))
    return checks


def _overlap_check(ctx: Context, dump: NodeDump, ranges: Sequence[Pool]) -> Check:
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


def check_max_user_namespaces(ctx: Context, dump: NodeDump) -> Check:
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


def check_cgroup_version(ctx: Context, dump: NodeDump) -> Check:
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


def check_kubelet_root_fs(ctx: Context, dump: NodeDump) -> Check:
    root = dump.kubelet_root or ctx.kubelet_root
    fstype = dump.root_fstype
    expected = "a filesystem this kernel can idmap"
    bind = _probe_step(ctx, "bind")
    if fstype is None:
        return Check(
            "kubelet-root-fs",
            WARN,
            f"{root}: no mount found",
            expected,
            NODE,
            f"check that {root} exists, or pass --kubelet-root",
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


def check_userns_records(ctx: Context, dump: NodeDump) -> Check:
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


def check_kubelet_root(ctx: Context) -> Check | None:
    configured = ctx.settings.root_dir
    if not configured:
        return None
    expected = f"--kubelet-root {ctx.kubelet_root}"
    if configured.rstrip("/") == ctx.kubelet_root.rstrip("/"):
        return Check("kubelet-root", PASS, configured, expected, ctx.settings_source)
    return Check(
        "kubelet-root",
        WARN,
        f"the kubelet's rootDir is {configured}",
        expected,
        ctx.settings_source,
        f"rerun with --kubelet-root {configured}",
    )


def idmap_checks(ctx: Context, dump: NodeDump | None) -> list[Check]:
    if dump is None:
        return []  # the node was not reached
    if not ctx.probe_requested:
        return [
            Check(
                "idmap-mounts",
                SKIP,
                "not tested",
                "add --probe to mount an idmapped tmpfs",
                PROBE,
            )
        ]
    tool = dump.idmap_step("tool")
    error = dump.idmap_step("error")
    steps = (
        (
            "idmap-userns",
            "userns",
            "a user namespace",
            "set user.max_user_namespaces above 0 (see max-user-namespaces)",
        ),
        (
            "idmap-tmpfs",
            "tmpfs",
            "an idmapped tmpfs",
            "upgrade to kernel 6.3 or later (or one that backports idmapped tmpfs)",
        ),
        (
            "idmap-kubelet-root",
            "bind",
            "an idmapped bind mount",
            f"move {dump.kubelet_root} to a filesystem that supports idmapped mounts (ext4, xfs)",
        ),
    )
    checks = []
    for check_id, step, expected, fix in steps:
        found = dump.idmap_step(step)
        if found is None or found.result == "skip":
            why = (
                found.detail
                if found
                else (tool.detail if tool and tool.result == "skip" else "")
                or (f"the probe failed: {error.detail}" if error else "no result")
            )
            status = WARN if error and not (tool and tool.result == "skip") else SKIP
            checks.append(Check(check_id, status, why, expected, PROBE))
        elif found.result == "ok":
            checks.append(Check(check_id, PASS, found.detail, expected, PROBE))
        else:
            detail = found.detail
            if step == "userns" and "ENOSPC" in detail:
                detail += " (user.max_user_namespaces is 0 or used up)"
            checks.append(Check(check_id, FAIL, detail, expected, PROBE, fix))
    return checks


def node_checks(ctx: Context, dump: NodeDump) -> list[Check]:
    checks = [
        check_oci_runtime(ctx, dump),
        check_kubelet_user(ctx, dump),
        check_getsubids(ctx, dump),
        *pool_checks(ctx, dump),
        check_max_user_namespaces(ctx, dump),
        check_cgroup_version(ctx, dump),
        check_kubelet_root_fs(ctx, dump),
        check_userns_records(ctx, dump),
    ]
    if dump.probe_uid not in (None, 0):
        checks.insert(
            0,
            Check(
                "probe-user",
                WARN,
                f"the probe ran as UID {dump.probe_uid}",
                "root",
                NODE,
                "log in as root or allow passwordless sudo, so every file can be read",
            ),
        )
    return checks


def api_checks(ctx: Context) -> list[Check]:
    checks = [
        check_kubelet_version(ctx),
        check_kubelet_config(ctx),
        check_feature_gate(ctx),
        check_ids_per_pod(ctx),
        check_kernel(ctx),
        check_container_runtime(ctx),
        check_runtime_handlers(ctx),
    ]
    root = check_kubelet_root(ctx)
    if root is not None:
        checks.append(root)
    return checks


# --- the report --------------------------------------------------------------------------------


def build_report(ctx: Context, *, node_error: str = "") -> dict[str, Any]:
    """The structured report (docs/verify-node-report.md)."""
    checks = api_checks(ctx)
    if ctx.dump is not None:
        checks += node_checks(ctx, ctx.dump)
    checks += idmap_checks(ctx, ctx.dump)
    counts = {s: sum(1 for c in checks if c.status == s) for s in (PASS, WARN, FAIL, SKIP)}
    verdict = "INCOMPLETE" if node_error else "NOT READY" if counts[FAIL] else "READY"
    kubelet = ctx.kubelet
    pool = kubelet_pool(ctx.dump, ctx.ids_per_pod).pool if ctx.dump else None
    return {
        "apiVersion": REPORT_VERSION,
        "kind": "NodeVerification",
        "node": {
            "name": ctx.info.name,
            "kubeletVersion": ctx.info.kubelet_version,
            "featureState": feature_state(kubelet) if kubelet else None,
            "kernelVersion": ctx.info.kernel_version,
            "containerRuntimeVersion": ctx.info.container_runtime_version,
            "osImage": ctx.info.os_image,
        },
        "kubelet": {
            "configSource": ctx.settings.source,
            "configOrigin": ctx.settings.origin,
            "configzProblem": ctx.settings.configz_problem or None,
            "idsPerPod": ctx.ids_per_pod,
            "maxPods": ctx.max_pods,
            "cgroupDriver": ctx.settings.cgroup_driver,
            "root": ctx.kubelet_root,
            "pool": {"first": pool.first, "count": pool.count} if pool else None,
        },
        "nodeReached": ctx.dump is not None,
        "nodeError": node_error or None,
        "probe": ctx.probe_requested,
        "checks": [c.to_json() for c in checks],
        "summary": {
            "verdict": verdict,
            "passed": counts[PASS],
            "warnings": counts[WARN],
            "failed": counts[FAIL],
            "skipped": counts[SKIP],
        },
    }


def summary_line(report: dict[str, Any]) -> str:
    name = report["node"]["name"]
    s = report["summary"]
    failed = [c["id"] for c in report["checks"] if c["status"] == FAIL]
    rest = f"{s['warnings']} warning(s), {s['skipped']} skipped"
    if s["verdict"] == "INCOMPLETE":
        return (
            f"node {name}: INCOMPLETE - the node was not reached; of the "
            f"{len(report['checks'])} checks from the API {s['passed']} passed, "
            f"{s['failed']} failed"
            + (f" ({', '.join(failed)})" if failed else "")
            + f", {s['warnings']} warning(s)"
        )
    if failed:
        return (
            f"node {name}: NOT READY for user namespaces - {len(failed)} of "
            f"{len(report['checks'])} checks failed ({', '.join(failed)}), {rest}"
        )
    return f"node {name}: ready for user namespaces - {s['passed']} checks passed, {rest}"
