"""Shell completion through kubectl: the ``kubectl_complete-userns`` executable.

kubectl (1.26 and newer) completes a plugin's arguments by running ``kubectl_complete-<plugin>``
from ``PATH`` with the words typed after the plugin's name, the last one being the word to
complete (empty for a new word). It prints one candidate a line, optionally followed by a TAB
and a description, and last a line ``:N`` with a Cobra shell directive (4: no file names).

Candidates come from the commands' own definitions (subcommands, flags, choices) and, for the
arguments that name cluster objects (``inspect POD``, ``verify-node NODE``, ``-n NAMESPACE``,
``--node NODE``, ``--context``), from the cluster and kubeconfig chosen by the flags already on
the line. Completion never prints an error: a cluster that cannot be reached gives no
candidates.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

NO_SPACE = 2  # cobra.ShellCompDirectiveNoSpace
NO_FILE = 4  # cobra.ShellCompDirectiveNoFileComp
FILES = 0  # cobra.ShellCompDirectiveDefault: the shell completes file names

# The positional argument of a command that names a cluster object.
_POSITIONAL = {"inspect": "pods", "verify-node": "nodes"}
# Option values that name cluster objects or kubeconfig contexts.
_VALUES = {
    "namespace": "namespaces",
    "probe_namespace": "namespaces",
    "nodes": "nodes",
    "context": "contexts",
    "cluster": "clusters",
    "user": "users",
    "container": "containers",
}
# Option values that are file names: the shell completes them (directive 0)
_FILES = {
    "kubeconfig",
    "filename",
    "certificate_authority",
    "client_certificate",
    "client_key",
}
DEADLINE = 2.0  # seconds for a cluster's answer before TAB gives up, quietly


def _command_tree() -> Any:
    import typer

    from kubectl_userns.cli.app import app

    return typer.main.get_command(app)


def _first_line(text: str | None) -> str:
    """The first sentence of a help text, on one line."""
    paragraph = " ".join((text or "").strip().split("\n\n", 1)[0].split())
    line = paragraph.split(". ", 1)[0].split("; ", 1)[0].rstrip(".")
    return line if len(line) <= 72 else line[: line.rindex(" ", 0, 70)] + " ..."


def _option_for(command: Any, word: str) -> Any:
    for param in command.params:
        if word in getattr(param, "opts", ()) or word in getattr(param, "secondary_opts", ()):
            return param
    return None


def _takes_value(param: Any) -> bool:
    return param is not None and not getattr(param, "is_flag", False) and param.nargs == 1


def _given(command: Any, words: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """The option values (by parameter name) and the positional words already typed."""
    values: dict[str, Any] = {}
    positional: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-") and word != "-":
            name, eq, inline = word.partition("=")
            param = _option_for(command, name)
            if _takes_value(param):
                if eq:
                    values[param.name] = inline
                elif i + 1 < len(words):
                    values[param.name] = words[i + 1]
                    i += 1
            elif param is not None and getattr(param, "is_flag", False):
                values[param.name] = True
        else:
            positional.append(word)
        i += 1
    return values, positional


def _cluster_names(kind: str, given: dict[str, Any], pods: Sequence[str] = ()) -> list[str]:
    """Names of ``kind`` from the cluster (or kubeconfig) the typed flags choose; [] on error
    and when the API does not answer within DEADLINE (TAB must not hang the shell). The
    deadline covers the requests only: imports and the kubeconfig are read before it."""
    import contextlib
    import threading

    if kind in ("contexts", "clusters", "users"):
        try:
            return _kubeconfig_names(kind, given)
        except Exception:  # completion stays quiet: no candidates rather than an error
            return []
    try:
        from kubectl_userns.access.api import KubeClient
        from kubectl_userns.cli.flagsets import cluster_options

        values = {**given, "request_timeout": f"{DEADLINE:g}s"}
        client = KubeClient.from_options(cluster_options(values))
    except Exception:
        return []
    found: list[list[str]] = []

    def look_up() -> None:
        with contextlib.suppress(Exception):
            found.append(_look_up(client, kind, pods))

    worker = threading.Thread(target=look_up, daemon=True)
    worker.start()
    worker.join(DEADLINE)
    return found[0] if found else []


def _kubeconfig_names(kind: str, given: dict[str, Any]) -> list[str]:
    from kubectl_userns.access.kubeconfig import entry_names

    return entry_names(given.get("kubeconfig"), kind)


def _look_up(client: Any, kind: str, pods: Sequence[str]) -> list[str]:
    if kind == "containers":
        if not pods:
            return []
        name = pods[0].partition("/")[2] or pods[0]
        spec = client.get_pod(name).get("spec") or {}
        containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        return [str(c.get("name", "")) for c in containers]
    if kind == "pods":
        items = client.list_pods(client.namespace)
    elif kind == "nodes":
        items = client.list_nodes()
    else:
        items = client.list_namespaces()
    return [str((item.get("metadata") or {}).get("name", "")) for item in items]


def _choices(param: Any, command: str = "") -> list[str]:
    """The values an option accepts when they are few: an Enum's, or a metavar like ssh|pod."""
    from kubectl_userns.options import OUTPUT_CHOICES

    # the click parameter type typer made from the annotation: a Choice for an Enum
    choices = getattr(param.type, "choices", None)
    if param.name == "output" and not choices:  # the report commands' -o
        if command == "plan":
            from kubectl_userns.cli.commands.plan import PLAN_ONLY_FORMATS

            return [*OUTPUT_CHOICES, *PLAN_ONLY_FORMATS]
        return list(OUTPUT_CHOICES)
    if choices:
        return [str(getattr(choice, "value", choice)) for choice in choices]
    metavar = param.metavar or ""
    if "|" in metavar and " " not in metavar and metavar.islower():  # not FILE|DIR|-
        return metavar.split("|")
    return []


def _value_candidates(
    param: Any, given: dict[str, Any], positional: Sequence[str] = (), command: str = ""
) -> tuple[list[str], int]:
    choices = _choices(param, command)
    if choices:
        return choices, NO_FILE
    if param.name in _VALUES:
        return _cluster_names(_VALUES[param.name], given, positional), NO_FILE
    if getattr(param.type, "name", "") == "path" or param.name in _FILES:  # a pathlib.Path flag
        return [], FILES
    return [], NO_FILE


def _no_space(candidates: list[str], directive: int) -> tuple[list[str], int]:
    """A value that ends in '=' (jsonpath=) is completed further: no space after it."""
    if any(c.endswith("=") for c in candidates):
        directive |= NO_SPACE
    return candidates, directive


def _flags(command: Any, prefix: str) -> list[str]:
    out = []
    for param in command.params:
        if getattr(param, "hidden", False) or not getattr(param, "opts", None):
            continue
        names = [*param.opts, *getattr(param, "secondary_opts", ())]
        for name in names:
            if name.startswith("--") or (prefix.startswith("-") and not prefix.startswith("--")):
                out.append(f"{name}\t{_first_line(param.help)}")
    out.append("--help\tShow the help and exit")
    return [c for c in out if c.startswith(prefix)]


def complete(words: Sequence[str]) -> tuple[list[str], int]:
    """Candidates and the shell directive for ``words`` (the last one is being completed)."""
    words = list(words) or [""]
    *before, word = words
    command = _command_tree()
    path: list[str] = []
    # walk down the subcommands typed so far (sandbox up, ...)
    while before and hasattr(command, "commands") and before[0] in command.commands:
        path.append(before[0])
        command = command.commands[before.pop(0)]
    if hasattr(command, "commands"):  # a group: its subcommands, or its flags
        if word.startswith("-"):
            return _flags(command, word), NO_FILE
        subs = [
            f"{name}\t{_first_line(sub.help)}"
            for name, sub in sorted(command.commands.items())
            if name.startswith(word) and not sub.hidden
        ]
        return subs, NO_FILE
    given, positional = _given(command, before)
    # the value of an option: "-n <TAB>" or "--output=<TAB>"
    if before and word.partition("=")[1] == "" and _takes_value(_option_for(command, before[-1])):
        param = _option_for(command, before[-1])
        candidates, directive = _value_candidates(param, given, positional, command.name or "")
        return _no_space([c for c in candidates if c.startswith(word)], directive)
    if word.startswith("--") and "=" in word:
        name, _, partial = word.partition("=")
        param = _option_for(command, name)
        if _takes_value(param):
            candidates, directive = _value_candidates(param, given, positional, command.name or "")
            found = [f"{name}={c}" for c in candidates if c.startswith(partial)]
            return _no_space(found, directive)
    if word.startswith("-"):
        return _flags(command, word), NO_FILE
    kind = _POSITIONAL.get(path[-1] if path else "")
    if kind == "pods" and "selector" not in given:  # inspect takes several pods
        typed = {p.partition("/")[2] or p for p in positional}
        names = [n for n in _cluster_names(kind, given) if n not in typed]
        return [n for n in names if n.startswith(word)], NO_FILE
    if kind is not None and not positional:
        return [n for n in _cluster_names(kind, given) if n.startswith(word)], NO_FILE
    if path and path[-1] == "convert":
        return [], FILES
    return [], NO_FILE


def main() -> None:
    """Entry point of ``kubectl_complete-userns``."""
    try:
        candidates, directive = complete(sys.argv[1:])
    except Exception:  # never a traceback in the user's shell
        candidates, directive = [], NO_FILE
    sys.stdout.write("".join(f"{c}\n" for c in candidates) + f":{directive}\n")
