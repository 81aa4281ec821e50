"""The CLI boundary: turns domain errors into one stderr sentence and an exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from kubectl_userns.cli.entry import INTERRUPTED
from kubectl_userns.errors import UsernsError
from kubectl_userns.text import one_line

P = ParamSpec("P")
R = TypeVar("R")


def report_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so an expected failure prints ``error: ...`` and exits with its code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except UsernsError as exc:
            typer.echo(f"error: {one_line(exc.message)}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo(INTERRUPTED, err=True, nl=False)
            raise typer.Exit(130) from None

    return wrapper
