"""Node names as people type them: the full name or an unambiguous part of it."""

from __future__ import annotations

from collections.abc import Sequence

from kubectl_userns.errors import AmbiguousNameError, NotFoundError


def resolve_node_name(query: str, names: Sequence[str]) -> str:
    """The one node ``query`` means: an exact name wins, else the only name containing it.

    Raises AmbiguousNameError listing the candidates when several names contain ``query``, and
    NotFoundError when none does.
    """
    if query in names:
        return query
    part = query.lower()  # node names are lower-case DNS names
    matches = sorted({name for name in names if part in name})
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise AmbiguousNameError(
            f'node name "{query}" matches {len(matches)} nodes ({", ".join(matches)}); '
            "give more of the name."
        )
    raise NotFoundError(
        f'no node name contains "{query}" ({len(names)} node(s) in the cluster); list them '
        "with 'kubectl get nodes'."
    )
