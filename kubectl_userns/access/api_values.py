"""Values taken from the API that reach a node, checked before anything uses them.

A pod's ``status.hostIP`` or a node's ``status.addresses`` reach the SSH connection and, through
the user's SSH config (``ProxyCommand ssh -W %h:%p bastion``), a local shell. An API server that
lies, or a compromised node that rewrites its own Node status, must not be able to smuggle
options or shell text in: only an IP literal or an RFC 1123 host name is accepted
(:func:`checked_host`; :mod:`~kubectl_userns.access.ssh_target` uses the same check for every
address it is given). Pod UIDs become the probe's arguments and parts of paths on the node:
only UID-shaped ones are passed (:func:`checked_uid`).
"""

from __future__ import annotations

import ipaddress
import re

from kubectl_userns.errors import APIError

# RFC 1123 section 2.1 host names: dot-separated labels of letters, digits and inner hyphens,
# each at most 63 characters, 253 in all (the limits of kubernetes' IsDNS1123Subdomain).
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")


def is_host(value: str) -> bool:
    """Whether ``value`` is an IPv4 or IPv6 literal (no zone) or an RFC 1123 host name."""
    if not value or len(value) > 253 or not value.isascii():
        return False
    if "%" not in value:
        try:
            ipaddress.ip_address(value)
            return True
        except ValueError:
            pass
    return all(_LABEL.match(label) for label in value.split("."))


def _shown(value: object) -> str:
    return ascii(value)[:80] if isinstance(value, str) else type(value).__name__


def bad_host_message(value: object, node: str, field: str) -> str:
    return (
        f"the API gave node {node} the {field} {_shown(value)}, which is neither an IP address "
        "nor a host name; refusing to connect to it (check the Node object, or use --ssh-host)."
    )


def checked_host(value: object, node: str, field: str) -> str | None:
    """``value`` when it is a valid address or host name, None when it is empty; an APIError
    naming the node and the field when it is anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and is_host(value):
        return value
    raise APIError(bad_host_message(value, node, field))


# what the API server makes a UID (a UUID, k8s.io/apimachinery/pkg/util/uuid), or the config
# hash the kubelet uses for a static pod (its mirror pod's kubernetes.io/config.mirror); a
# little looser than either
_UID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,127}\Z")


def checked_uid(value: object, pod: str, field: str = "metadata.uid") -> str:
    """The pod's UID on the node when it looks like one; an APIError naming the pod else."""
    if isinstance(value, str) and value.isascii() and _UID.match(value):
        return value
    raise APIError(
        f"the API gave pod {pod} the {field} {_shown(value)}, which is not a UID; refusing to "
        "look for it on its node."
    )
