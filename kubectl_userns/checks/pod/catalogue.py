"""The catalogue of ``inspect``'s checks: each a small function registered with its id, the facts
it reads and the upstream source of its rule.

``docs/inspect-checks.md`` is generated from this registry (``scripts/gen_docs.py``) and a test
fails when the two drift. A check returns ``(status, detail)``, or None when it has nothing to
say about this pod (it is then left out of the report).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubectl_userns.checks.idmap import IdMapping, format_id_map, is_host_map
from kubectl_userns.checks.pod.facts import (
    Allocation,
    Classified,
    IdsPerPod,
    PodFacts,
    inside_range,
)
from kubectl_userns.probe.pod_dump import PodDump

PASS, FAIL, WARN = "PASS", "FAIL", "WARN"
# which pods a check is for: "userns" (hostUsers: false), "host" (any other pod)
USERNS, HOST = "userns", "host"


@dataclass(frozen=True)
class PodView:
    """One pod as the checks see it: the API's facts, the probe's dump and what follows."""

    facts: PodFacts
    dump: PodDump
    procs: tuple[Classified, ...]  # every process of the pod's cgroup, classified
    judged: tuple[Classified, ...]  # the pod's own processes: containers and the sandbox
    ids: IdsPerPod
    allocation: Allocation

    @property
    def apps(self) -> tuple[Classified, ...]:
        return tuple(c for c in self.judged if c.role == "app")

    @property
    def sandbox(self) -> tuple[Classified, ...]:
        return tuple(c for c in self.judged if c.role == "sandbox")

    @property
    def pod_namespace(self) -> str:
        """The pod's user namespace: the sandbox's (it creates it), else the recorded range's,
        else the one most processes share."""
        if self.sandbox:
            return self.sandbox[0].process.userns
        record = self.dump.record.uid_mappings if self.dump.record else ()
        for c in self.judged:
            if record and c.process.uid_map == record:
                return c.process.userns
        counts: dict[str, int] = {}
        for c in self.judged:
            counts[c.process.userns] = counts.get(c.process.userns, 0) + 1
        return max(sorted(counts), key=lambda ns: counts[ns]) if counts else ""

    @property
    def pod_map(self) -> tuple[IdMapping, ...]:
        ns = self.pod_namespace
        return next((c.process.uid_map for c in self.judged if c.process.userns == ns), ())

    @property
    def nested(self) -> tuple[Classified, ...]:
        """Processes in other user namespaces whose maps lie inside the pod's range."""
        ns, pod_map = self.pod_namespace, self.pod_map
        return tuple(
            c
            for c in self.judged
            if c.process.userns != ns and inside_range(c.process.uid_map, pod_map)
        )

    @property
    def strays(self) -> tuple[Classified, ...]:
        """Processes in other user namespaces that are not inside the pod's range."""
        ns, nested = self.pod_namespace, {c.process.pid for c in self.nested}
        return tuple(
            c for c in self.judged if c.process.userns != ns and c.process.pid not in nested
        )


Result = tuple[str, str] | None


@dataclass(frozen=True)
class PodCheck:
    id: str
    pods: str  # USERNS or HOST
    reads: str  # the facts it needs
    rule: str  # what passes
    source: str  # where the rule comes from upstream
    run: Callable[[PodView], Result]


CATALOGUE: list[PodCheck] = []


def check(
    check_id: str, *, pods: str, reads: str, rule: str, source: str
) -> Callable[[Callable[[PodView], Result]], Callable[[PodView], Result]]:
    """Register the decorated function as the check ``check_id`` (in catalogue order)."""

    def register(func: Callable[[PodView], Result]) -> Callable[[PodView], Result]:
        if any(c.id == check_id and c.pods == pods for c in CATALOGUE):
            raise ValueError(f"check {check_id} is registered twice")
        CATALOGUE.append(PodCheck(check_id, pods, reads, rule, source, func))
        return func

    return register


def pids(items: tuple[Classified, ...] | list[Classified]) -> str:
    return ", ".join(str(c.process.pid) for c in items)


def maps_text(items: tuple[Classified, ...]) -> str:
    return "; ".join(sorted({format_id_map(c.process.uid_map) for c in items}))


def in_host_namespace(view: PodView, c: Classified) -> bool:
    return c.process.userns == view.dump.host_userns or is_host_map(c.process.uid_map)


def run_checks(view: PodView) -> list[dict[str, str]]:
    """Run every registered check that applies to the pod; their results in catalogue order."""
    kind = USERNS if view.facts.user_namespace_requested else HOST
    results = []
    for entry in CATALOGUE:
        if entry.pods != kind:
            continue
        outcome = entry.run(view)
        if outcome is not None:
            results.append({"id": entry.id, "status": outcome[0], "detail": outcome[1]})
    return results


def catalogue_markdown() -> str:
    """docs/inspect-checks.md: every check of the catalogue with the source of its rule."""
    from kubectl_userns.checks.pod import rules  # noqa: F401  (registers the checks)

    lines = [
        "# inspect's checks",
        "",
        "Generated by `python scripts/gen_docs.py` from the catalogue in",
        "`kubectl_userns/checks/pod/rules.py`; do not edit by hand. A test fails when this file",
        "and the catalogue differ. `hostUsers: false` pods get the first table's checks, every",
        "other pod the second's; a check with nothing to say about a pod is left out of its",
        "report.",
        "",
    ]
    for kind, title in ((USERNS, "Pods with `hostUsers: false`"), (HOST, "Other pods")):
        lines += [
            f"## {title}",
            "",
            "| check | reads | passes when | upstream source |",
            "|---|---|---|---|",
        ]
        for entry in CATALOGUE:
            if entry.pods == kind:
                cells = (f"`{entry.id}`", entry.reads, entry.rule, entry.source)
                lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)
