"""The probe scripts that run on nodes (POSIX sh, read-only) and the reader of their output."""

from __future__ import annotations

from functools import cache
from importlib import resources

# a script's line that stands for the functions both probes share (probe/common.sh)
INCLUDE = "# include: common.sh\n"


def _text(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.sh").read_text(encoding="utf-8")


@cache
def load_script(name: str) -> str:
    """The text of ``kubectl_userns/probe/<name>.sh`` as it is sent to a node: with the shared
    functions of ``common.sh`` where it says ``# include: common.sh``."""
    text = _text(name)
    if INCLUDE in text:
        text = text.replace(INCLUDE, _text("common"), 1)
    return text
