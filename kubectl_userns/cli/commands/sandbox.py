"""``kubectl userns sandbox up|down|env``: a disposable local cluster to try the plugin on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kubectl_userns.cli.boundary import report_errors

sandbox_app = typer.Typer(
    help="Start or stop a local sandbox cluster (needs root): nodes wk1 and wk2 are real Linux "
    "namespaces with their own sshd, pods are real processes in user namespaces, the API "
    "server is an emulator.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

StateDirFlag = Annotated[
    Path,
    typer.Option(
        "--state-dir",
        metavar="DIR",
        help="Where the sandbox keeps its state (kubeconfig, SSH keys, node files).",
    ),
]
DEFAULT = Path("/tmp/kubectl-userns-sandbox")


@sandbox_app.command(
    "up",
    epilog='\b\nExamples:\n  eval "$(kubectl userns sandbox up)"\n  kubectl userns inspect testpod',
)
@report_errors
def up(state_dir: StateDirFlag = DEFAULT) -> None:
    """Start the default sandbox in the background and print the shell exports to use it.

    Nodes wk1 and wk2; pods default/testpod (hostUsers false, on wk2), default/hostpod
    (hostUsers true) and default/web (Burstable, two containers), both on wk1.
    """
    from kubectl_userns.sandbox.cluster import default_sandbox, require_root

    require_root()
    sandbox = default_sandbox(state_dir)
    typer.echo(sandbox.exports(), nl=False)
    typer.echo("# sandbox is up; stop it with: kubectl userns sandbox down", err=True)


@sandbox_app.command("down", epilog="\b\nExamples:\n  kubectl userns sandbox down")
@report_errors
def down(state_dir: StateDirFlag = DEFAULT) -> None:
    """Stop the sandbox and remove every process, cgroup, mount and file it made."""
    from kubectl_userns.sandbox.cluster import Sandbox, require_root
    from kubectl_userns.sandbox.statedir import CorruptStateError, down_corrupt

    require_root()
    try:
        sandbox = Sandbox.load(state_dir)
    except CorruptStateError as exc:
        sandbox_id = down_corrupt(state_dir)
        typer.echo(
            f"sandbox {sandbox_id} stopped by its id (its state file {exc.path} was corrupt); "
            "nothing is left behind",
            err=True,
        )
        return
    sandbox.down()
    typer.echo("sandbox stopped; nothing is left behind", err=True)


@sandbox_app.command("env", epilog='\b\nExamples:\n  eval "$(kubectl userns sandbox env)"')
@report_errors
def env(state_dir: StateDirFlag = DEFAULT) -> None:
    """Print the shell exports of a running sandbox again."""
    from kubectl_userns.sandbox.cluster import Sandbox

    typer.echo(Sandbox.load(state_dir).exports(), nl=False)
