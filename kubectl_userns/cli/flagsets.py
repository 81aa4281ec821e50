"""The commands' shared flag sets and their parsing, in one place.

A command lists the sets it takes (``@with_flags(OUTPUT_FLAGS, node_flags(), API_FLAGS)``);
each set adds its flags (declared once, in :mod:`kubectl_userns.cli.flags`) to the command's
signature for Typer and hands the command one parsed value instead: ``out`` (OutputOptions),
``node`` (NodeFlags) and ``api`` (ClusterOptions). Parsing happens before the command's body,
so a bad value or combination is reported by flag name before anything is contacted.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from kubectl_userns.access.probe_pod import PodAccessOptions
from kubectl_userns.cli import flags as f
from kubectl_userns.errors import UsageError
from kubectl_userns.options import (
    DEFAULT_PROBE_TIMEOUT,
    ClusterOptions,
    NodeAccessOptions,
    OutputOptions,
    parse_duration,
    ssh_flags_given,
)

F = TypeVar("F", bound=Callable[..., Any])
Values = dict[str, Any]


@dataclass(frozen=True)
class FlagSet:
    """Flags taken together, parsed into the one value the command receives as ``target``.

    ``parse`` gets the set's own values by parameter name and the command's other arguments.
    """

    target: str
    flags: tuple[f.Flag, ...]
    parse: Callable[[Values, Values], Any]


def with_flags(*sets: FlagSet) -> Callable[[F], F]:
    """Add the flags of ``sets`` to a command (after its own), parsed in the order given."""

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        targets = {s.target for s in sets}
        own = [p for p in signature.parameters.values() if p.name not in targets]
        keyword = inspect.Parameter.KEYWORD_ONLY
        added = [
            inspect.Parameter(x.name, keyword, default=x.default, annotation=x.annotation)
            for s in sets
            for x in s.flags
        ]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            taken = {
                s.target: {x.name: kwargs.pop(x.name, x.default) for x in s.flags} for s in sets
            }
            for s in sets:
                kwargs[s.target] = s.parse(taken[s.target], kwargs)
            return command(**kwargs)

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + added
        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        del wrapper.__wrapped__  # Typer reads the new signature
        return wrapper  # type: ignore[return-value]

    return decorate


# --- output ------------------------------------------------------------------------------------


def _output(values: Values, _: Values) -> OutputOptions:
    from kubectl_userns.cli.render import output_options

    return output_options(values["output"], values["no_headers"], values["color"])


OUTPUT_FLAGS = FlagSet("out", (f.OUTPUT, f.NO_HEADERS, f.COLOR), _output)

# --- kubectl's API flags -----------------------------------------------------------------------


def cluster_options(values: Mapping[str, Any]) -> ClusterOptions:
    """The API flags' values (by parameter name; missing ones take their defaults) as checked
    ClusterOptions; bad values and combinations raise UsageError."""
    groups = values.get("impersonate_groups")
    return ClusterOptions(
        kubeconfig=values.get("kubeconfig"),
        context=values.get("context"),
        namespace=values.get("namespace"),
        request_timeout=parse_duration(
            str(values.get("request_timeout") or "30s"), "--request-timeout"
        ),
        cluster=values.get("cluster"),
        user=values.get("user"),
        server=values.get("server"),
        token=values.get("token"),
        certificate_authority=values.get("certificate_authority"),
        client_certificate=values.get("client_certificate"),
        client_key=values.get("client_key"),
        insecure_skip_tls_verify=bool(values.get("insecure_skip_tls_verify")),
        tls_server_name=values.get("tls_server_name"),
        impersonate=values.get("impersonate"),
        impersonate_groups=(groups,) if isinstance(groups, str) else tuple(groups or ()),
        impersonate_uid=values.get("impersonate_uid"),
        verbosity=int(values.get("verbosity") or 0),
    ).check()


API_FLAGS = FlagSet("api", (f.NAMESPACE, *f.API), lambda values, _: cluster_options(values))
# verify-node: a node is in no namespace
API_FLAGS_NO_NAMESPACE = FlagSet("api", f.API, lambda values, _: cluster_options(values))

# --- node access -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeFlags:
    """How the command reaches nodes: over SSH/locally (``access``), or by probe pod."""

    access: NodeAccessOptions
    pod_access: PodAccessOptions | None


def node_flags(
    *,
    local: bool = True,
    ssh_host: bool = True,
    kubelet_root: f.Flag = f.NODE_KUBELET_ROOT,
    refuse: Mapping[str, str] | None = None,
    requires: tuple[str, str] | None = None,
    target: str = "node",
) -> FlagSet:
    """The node access, SSH and probe pod flags. ``local``/``ssh_host``: whether the command
    has --local and --ssh-host at all; ``refuse``: flags declared but refused when given, by
    parameter name, with the message; ``requires``: the command's own boolean parameter without
    which no node flag applies, and why; ``target``: the command's parameter for the result."""
    flags = (
        *((f.LOCAL,) if local else ()),
        f.VIA,
        kubelet_root,
        f.SSH_USER,
        f.SSH_KEY,
        f.SSH_PORT,
        *((f.SSH_HOST,) if ssh_host else ()),
        f.SSH_ADDRESS_TYPE,
        f.SSH_CONFIG,
        f.SSH_ACCEPT_NEW,
        f.SSH_TIMEOUT,
        f.SSH_CLIENT,
        f.IMAGE,
        f.PROBE_NAMESPACE,
        f.PROBE_TIMEOUT,
    )
    return FlagSet(
        target,
        flags,
        lambda values, own: _node(
            {"local": False, "ssh_host": None, **values}, own, refuse or {}, requires
        ),
    )


def _node(
    v: Values, own: Values, refuse: Mapping[str, str], requires: tuple[str, str] | None
) -> NodeFlags:
    client = v["ssh_client"]
    ssh_timeout = (
        None if v["ssh_timeout"] is None else parse_duration(v["ssh_timeout"], "--ssh-timeout")
    )
    ssh_given = ssh_flags_given(
        v["ssh_user"],
        v["ssh_key"],
        v["ssh_port"],
        v["ssh_host"],
        v["ssh_config"],
        v["ssh_accept_new"],
        client.value if client else None,
        ssh_timeout,
    )
    if requires is not None and not own[requires[0]]:
        given = list(ssh_given)
        if v["via"] != "ssh" or v["image"] or v["probe_namespace"]:
            given.append("--via/--image/--probe-namespace")
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            flag = "--" + requires[0].replace("_", "-")
            raise UsageError(
                f"{', '.join(given)} {verb} only with {flag} ({requires[1]}); add {flag}."
            )
    probe_timeout = (
        DEFAULT_PROBE_TIMEOUT
        if v["probe_timeout"] is None
        else parse_duration(v["probe_timeout"], "--probe-timeout")
    )
    pod_access = PodAccessOptions.from_flags(
        v["via"],
        v["image"],
        v["probe_namespace"],
        local=v["local"],
        timeout=probe_timeout,
        ssh_flags=ssh_given,
    )
    for name, message in refuse.items():
        if v[name]:
            raise UsageError(message)
    access = NodeAccessOptions.from_flags(
        local=v["local"] and "local" not in refuse,
        ssh_user=v["ssh_user"],
        ssh_key=v["ssh_key"],
        ssh_port=v["ssh_port"],
        ssh_host=None if "ssh_host" in refuse else v["ssh_host"],
        ssh_address_type=v["ssh_address_type"],
        ssh_config=v["ssh_config"],
        ssh_accept_new=v["ssh_accept_new"],
        ssh_timeout=ssh_timeout,
        kubelet_root=v["kubelet_root"],
        ssh_client=client,
        probe_timeout=probe_timeout,
    )
    return NodeFlags(access, pod_access)
