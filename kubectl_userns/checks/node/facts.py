"""The facts verify-node judges, as plain data: the Node object, the kubelet's settings, versions.

Inputs are the Node object's facts (:class:`NodeInfo`), the kubelet's settings as read from the
API's ``/configz`` or the node's config file (:class:`KubeletSettings`) and what the node probe
saw (:class:`~kubectl_userns.probe.node_dump.NodeDump`); :class:`Context` holds them all for the
checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kubectl_userns.checks.node.catalogue import API, NODE
from kubectl_userns.checks.operating_system import node_os
from kubectl_userns.probe.node_dump import NodeDump

Version = tuple[int, int, int]
UNIT = 65536  # idsPerPod must be a multiple of this; also its default
DEFAULT_MAX_PODS = 110

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
    # the kubelet's GOOS (kubernetes pkg/kubelet/nodestatus/setters.go GoRuntime), else the
    # kubernetes.io/os label; "" when neither says
    operating_system: str = ""

    @property
    def is_linux(self) -> bool:
        """True unless the node says it runs another OS (an unknown OS is taken as Linux)."""
        return self.operating_system in ("", "linux")

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
        operating_system=node_os(node),
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
    )


def settings_from_configz(config: dict[str, Any]) -> KubeletSettings:
    """Settings from the ``kubeletconfig`` object of ``/api/v1/nodes/NODE/proxy/configz``."""
    return _settings(config, "configz", "/configz through the API", "")


def settings_from_node(dump: NodeDump | None, configz_problem: str) -> KubeletSettings:
    """Settings from the kubelet's config file and command line on the node, else defaults.

    Both are the running kubelet's, as the node probe identified it (never a process that only
    calls itself kubelet); the kubelet root is the probe's business (``NodeDump.kubelet_root``).
    """
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
    if not origin:
        return KubeletSettings("defaults", "kubelet defaults", configz_problem)
    return _settings(config, "node", origin, configz_problem)


def _kubelet_flags(args: Sequence[str]) -> dict[str, str]:
    flags: dict[str, str] = {}
    wanted = ("feature-gates", "max-pods", "cgroup-driver")
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


def effective_ids_per_pod(settings: KubeletSettings, kubelet: Version | None) -> int:
    """idsPerPod as the kubelet uses it: the setting is honoured from 1.35 on."""
    if settings.ids_per_pod and kubelet is not None and kubelet[:2] >= (1, 35):
        return settings.ids_per_pod
    return UNIT


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

    @property
    def node(self) -> NodeDump:
        """The node probe's output; the catalogue runs node and probe checks only with one."""
        if self.dump is None:
            raise LookupError(f"node {self.info.name} was not read")
        return self.dump
