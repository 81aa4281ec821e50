"""The command-line frame: wires the commands into one Typer app; no logic lives here.

Start-up stays light: importing this module loads Typer and the command modules, none of which
imports ``kubernetes`` or ``paramiko`` at module level (they are imported where a command first
talks to a cluster or a node).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from kubectl_userns import __version__
from kubectl_userns.cli.boundary import report_errors
from kubectl_userns.cli.commands import (
    audit,
    convert,
    inspect,
    new_pod,
    plan,
    verify_node,
    version,
)
from kubectl_userns.cli.commands.sandbox import sandbox_app
from kubectl_userns.cli.flags import PANELS

PROG = "kubectl userns"


def _split_equals(command: Any, args: list[str]) -> list[str]:
    """kubectl's ``-n=default`` and ``-o=json``: a short option's value after ``=`` (pflag
    reads it so; click would take ``=default`` as the value)."""
    takes_value = {
        opt
        for param in command.params
        if not getattr(param, "is_flag", False) and getattr(param, "opts", None)
        for opt in param.opts
        if len(opt) == 2
    }
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        if len(arg) > 3 and arg[2] == "=" and arg[:2] in takes_value:
            out += [arg[:2], arg[3:]]
        else:
            out.append(arg)
    return out


class KubectlCommand(TyperCommand):
    """A command that reads flags as kubectl does and shows them grouped, kubectl's last."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return list(super().parse_args(ctx, _split_equals(self, args)))

    def format_options(self, ctx: Any, formatter: Any) -> None:
        groups: dict[str, list[tuple[str, str]]] = {}
        arguments = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append(record)
            else:
                panel = getattr(param, "rich_help_panel", None) or "Flags"
                groups.setdefault(panel if panel in PANELS else "Flags", []).append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        for panel in ("Flags", *PANELS):
            if groups.get(panel):
                with formatter.section(panel):
                    formatter.write_dl(groups[panel])


class KubectlGroup(TyperGroup):
    """The root: kubectl's API flags are also taken before the command, as kubectl takes its
    global flags anywhere (``kubectl userns --context x inspect testpod``)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return list(super().parse_args(ctx, self._global_flags_after_command(args)))

    def _global_flags_after_command(self, args: list[str]) -> list[str]:
        if not _GLOBAL_FLAGS:
            _GLOBAL_FLAGS.update(_global_flag_kinds(self.commands["inspect"]))
        moved: list[str] = []
        i = 0
        while i < len(args) and args[i].startswith("-") and args[i] not in ("-", "--"):
            name, eq, _ = args[i].partition("=")
            if len(name) > 2 and name[1] != "-":  # -n=x, -ojson: the short name and the rest
                name, eq = name[:2], "="
            kind = _GLOBAL_FLAGS.get(name)
            if kind is None:
                return args  # --help, --version, or a mistake: left to the group
            step = 2 if kind == "value" and not eq else 1
            moved += args[i : i + step]
            i += step
        if not moved or i >= len(args):
            return args
        return [args[i], *moved, *args[i + 1 :]]


app = typer.Typer(
    name=PROG,
    cls=KubectlGroup,
    help="Is this pod really isolated, and is this node really ready? Checks Kubernetes user "
    "namespaces (hostUsers: false) where they take effect: on the node.",
    epilog="Run 'kubectl userns COMMAND --help' for a command's flags and examples.",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"kubectl-userns {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_show_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Is this pod really isolated, and is this node really ready?"""
    if ctx.invoked_subcommand is None:
        # as kubectl does with no command: the help on stdout, exit 0
        typer.echo(ctx.get_help())
        raise typer.Exit()


for _name, _module, _function in (
    ("inspect", inspect, inspect.inspect),
    ("verify-node", verify_node, verify_node.verify_node),
    ("new-pod", new_pod, new_pod.new_pod),
    ("convert", convert, convert.convert),
    ("audit", audit, audit.audit),
    ("plan", plan, plan.plan),
    ("version", version, version.version),
):
    # "\b" keeps click from re-wrapping the example lines into one paragraph
    app.command(_name, cls=KubectlCommand, help=_module.HELP, epilog="\b\n" + _module.EPILOG)(
        report_errors(_function)
    )


app.add_typer(sandbox_app, name="sandbox")


def _global_flag_kinds(command: Any) -> dict[str, str]:
    """kubectl's API flags (-n among them) by name, as ``command`` (one taking them all) has
    them: ``value`` or ``flag`` (takes no value). The command is the root group's own: building
    the group again would cost every invocation as much as its start (typer.main.get_command)."""
    from kubectl_userns.cli.flags import API_NAMES

    kinds = {}
    for param in command.params:
        if param.name in API_NAMES:
            for opt in param.opts:
                kinds[opt] = "flag" if param.is_flag else "value"
    return kinds


_GLOBAL_FLAGS: dict[str, str] = {}


def main() -> None:
    """Run the CLI (``kubectl-userns``, found by kubectl as ``kubectl userns``); the console
    script calls it through cli/entry.py, which also turns a Ctrl-C during the imports into an
    error line."""
    try:
        app(prog_name=PROG)
    except BrokenPipeError:  # e.g. `kubectl userns new-pod | head -1`
        import os
        import sys

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
