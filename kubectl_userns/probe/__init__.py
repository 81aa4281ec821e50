"""The probe scripts that run on nodes (POSIX sh, read-only) and the reader of their output."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load_script(name: str) -> str:
    """The text of ``kubectl_userns/probe/<name>.sh``."""
    return resources.files(__package__).joinpath(f"{name}.sh").read_text(encoding="utf-8")
