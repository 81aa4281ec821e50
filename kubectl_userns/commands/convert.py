"""Placeholder until the convert command lands (owned by the new-pod/convert helper)."""

from __future__ import annotations

from kubectl_userns.errors import UsageError

HELP = "Not implemented yet."
EPILOG = "Examples:\n  kubectl userns convert"


def convert() -> None:
    raise UsageError("convert is not implemented yet.")
