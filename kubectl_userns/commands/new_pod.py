"""Placeholder until the new_pod command lands (owned by the new-pod/convert helper)."""

from __future__ import annotations

from kubectl_userns.errors import UsageError

HELP = "Not implemented yet."
EPILOG = "Examples:\n  kubectl userns new-pod"


def new_pod() -> None:
    raise UsageError("new-pod is not implemented yet.")
