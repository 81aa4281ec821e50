"""The catalogue of verify-node's checks: each check is a small function registered here.

A registered :class:`Rule` says what the check is called, where its facts come from
(``api``: the Node object and the kubelet's configuration, so it runs even when the node
cannot be reached; ``node``: what the node probe read; ``probe``: what ``--probe`` tried on
the node), which facts it reads, what it expects and the upstream source of its rule. The
report (:mod:`.report`) runs the catalogue in :data:`REPORT_ORDER`, and
docs/verify-node-checks.md is generated from it (``scripts/gen_docs.py``), so neither can
drift from the checks themselves - the way kube-bench keeps its checks as data with their
audit, expectation and remediation.

A check function takes the :class:`~.facts.Context` and returns its :class:`Check`, or None
when it does not apply to this node (``probe-user`` when the probe ran as root, the pool rules
that follow from a kubelet without a user, ``idmap-*`` without ``--probe``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubectl_userns.checks.node.facts import Context

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
API, NODE, PROBE = "api", "node", "probe"

# the areas, in the order the docs table lists them (one module of this package each)
KUBELET = "kubelet and feature gate"
RUNTIME = "runtime and OCI runtime"
KERNEL = "kernel and filesystems"
POOL = "ID pool"
RECORDS = "records"
AREAS = (KUBELET, RUNTIME, KERNEL, POOL, RECORDS)

# The report's order: the API's checks first (they need no node), then what the node probe
# read, then what --probe tried. Every registered check is named here exactly once.
REPORT_ORDER = (
    "node-os",
    "kubelet-version",
    "kubelet-config",
    "feature-gate",
    "ids-per-pod",
    "kernel-version",
    "container-runtime",
    "runtime-handlers",
    "kubelet-process",
    "kubelet-root",
    "probe-user",
    "oci-runtime",
    "kubelet-user",
    "getsubids",
    "subid-pool",
    "pool-uid-gid",
    "pool-alignment",
    "pool-start",
    "pool-length",
    "pool-size",
    "pool-end",
    "pool-overlap",
    "max-user-namespaces",
    "cgroup-version",
    "kubelet-root-fs",
    "userns-records",
    "idmap-mounts",
    "idmap-userns",
    "idmap-tmpfs",
    "idmap-kubelet-root",
)


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


CheckFunction = Callable[["Context"], "Check | None"]


@dataclass(frozen=True)
class Rule:
    """A registered check: its id, where it reads, what it expects, and the function."""

    id: str
    area: str
    source: str  # api (runs without the node), node or probe (need the node probe's output)
    reads: tuple[str, ...]  # the facts it looks at
    expects: str  # the rule, in words
    upstream: tuple[str, ...]  # where the rule comes from: "owner/repo path", KEP, issue
    function: CheckFunction
    reports: tuple[str, ...] = ()  # other sources a result can name (e.g. node config files)

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source, *self.reports)


_REGISTRY: dict[str, Rule] = {}


def register(
    check_id: str,
    *,
    area: str,
    source: str,
    reads: tuple[str, ...],
    expects: str,
    upstream: tuple[str, ...],
    reports: tuple[str, ...] = (),
) -> Callable[[CheckFunction], CheckFunction]:
    """Add the decorated function to the catalogue under ``check_id``."""
    if check_id not in REPORT_ORDER:
        raise ValueError(f"check {check_id} has no place in REPORT_ORDER")
    if check_id in _REGISTRY:
        raise ValueError(f"check {check_id} registered twice")
    if area not in AREAS or source not in (API, NODE, PROBE):
        raise ValueError(f"check {check_id}: unknown area {area!r} or source {source!r}")

    def add(function: CheckFunction) -> CheckFunction:
        _REGISTRY[check_id] = Rule(
            check_id, area, source, reads, expects, upstream, function, reports
        )
        return function

    return add


def catalogue() -> tuple[Rule, ...]:
    """Every registered check, in the report's order."""
    missing = [check_id for check_id in REPORT_ORDER if check_id not in _REGISTRY]
    if missing:
        raise LookupError(f"checks in REPORT_ORDER but not registered: {', '.join(missing)}")
    return tuple(_REGISTRY[check_id] for check_id in REPORT_ORDER)


def run_checks(ctx: Context) -> Iterator[Check]:
    """The checks that apply to this node, in order; node and probe checks need the node."""
    for rule in catalogue():
        if not ctx.info.is_linux and rule.id != "node-os":
            continue  # no other check means anything on a Windows node
        if rule.source != API and ctx.dump is None:
            continue  # the node was not reached
        check = rule.function(ctx)
        if check is not None:
            yield check


def docs_table() -> str:
    """docs/verify-node-checks.md: every check with what it reads and where its rule is from."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "# verify-node checks",
        "",
        "Generated by `python scripts/gen_docs.py` from the checks' catalogue "
        "(`kubectl_userns/checks/node/`); do not edit by hand. A test fails when this file "
        "and the catalogue differ.",
        "",
        "SOURCE is where a check's facts come from: `api` checks run from the Node object and "
        "the kubelet's `/configz` even when the node cannot be reached; `node` checks need the "
        "node probe (SSH, `--local` or `--via pod`); `probe` checks need `--probe`. A check "
        "that can also report another source (for example when the kubelet's configuration "
        "was read from the node instead of `/configz`) names it in brackets. Within an area the "
        "checks are listed in the report's order.",
        "",
    ]
    rules = catalogue()
    for area in AREAS:
        lines += [
            f"## {area[0].upper()}{area[1:]}",
            "",
            "| CHECK | SOURCE | READS | EXPECTS | RULE FROM |",
            "|---|---|---|---|---|",
        ]
        for rule in rules:
            if rule.area != area:
                continue
            source = rule.source + (f" ({', '.join(rule.reports)})" if rule.reports else "")
            lines.append(
                f"| `{rule.id}` | {source} | {cell('; '.join(rule.reads))} | "
                f"{cell(rule.expects)} | {cell('; '.join(rule.upstream))} |"
            )
        lines.append("")
    return "\n".join(lines)
