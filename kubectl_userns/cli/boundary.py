"""The CLI boundary: turns domain errors into one stderr sentence and an exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from kubectl_userns.cli.render import printable
from kubectl_userns.errors import UsernsError

P = ParamSpec("P")
R = TypeVar("R")


def one_line(message: str) -> str:
    """``message`` as one printable line: whitespace runs become one space, and other control
    or unprintable characters (a server's or a parser's text may carry them) a ``\\xNN`` or
    ``\\uNNNN`` escape, so no message can move the cursor or forge a second line."""
    return printable(" ".join(message.split()))


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
            typer.echo("error: interrupted; nothing was changed on any node.", err=True)
            raise typer.Exit(130) from None

    return wrapper
