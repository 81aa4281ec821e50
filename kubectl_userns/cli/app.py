"""The command-line frame: wires the commands into one Typer app; no logic lives here.

Start-up stays light: importing this module loads Typer and the command modules, none of which
imports ``kubernetes`` or ``paramiko`` at module level (they are imported where a command first
talks to a cluster or a node).
"""

from __future__ import annotations

from typing import Annotated

import typer

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

PROG = "kubectl userns"

app = typer.Typer(
    name=PROG,
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
    app.command(_name, help=_module.HELP, epilog="\b\n" + _module.EPILOG)(report_errors(_function))


app.add_typer(sandbox_app, name="sandbox")


def main() -> None:
    """Console-script entry point (``kubectl-userns``, found by kubectl as ``kubectl userns``)."""
    try:
        app(prog_name=PROG)
    except BrokenPipeError:  # e.g. `kubectl userns new-pod | head -1`
        import os
        import sys

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
