"""Domain errors of kubectl-userns and the exit codes they stand for.

Library code raises these; the CLI boundary (:mod:`kubectl_userns.cli.boundary`) turns each into
one ``error: <sentence>`` line on stderr and the error's exit code. Every message is a sentence
that says what happened and what to do next.

Exit codes (documented in README.md):

* 0 - every check holds
* 1 - a check failed (a finding, not an error: commands return it, nothing raises it)
* 2 - usage error or bad input: bad flag, unknown pod or node, unreadable manifest
* 3 - could not finish: API or node unreachable, credentials refused, timeout, broken probe
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3


class UsernsError(Exception):
    """Base of every expected failure; carries the exit code for the CLI boundary."""

    exit_code = EXIT_INCOMPLETE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- exit 2: the user asked for something that cannot be done as asked ---------------------


class UsageError(UsernsError):
    """Bad flags or flag combinations."""

    exit_code = EXIT_USAGE


class NotFoundError(UsernsError):
    """A pod, node or file that does not exist."""

    exit_code = EXIT_USAGE


class AmbiguousNameError(UsernsError):
    """A partial name that matches more than one object."""

    exit_code = EXIT_USAGE


class PodNotRunningError(UsernsError):
    """The pod exists but has no processes to inspect (pending, not scheduled, finished)."""

    exit_code = EXIT_USAGE


class NotLinuxError(UsernsError):
    """The pod runs on a node of another OS (Windows), which has no user namespaces."""

    exit_code = EXIT_USAGE


class InputError(UsernsError):
    """A manifest or data file that cannot be read or parsed."""

    exit_code = EXIT_USAGE


# --- exit 3: the tool could not finish ------------------------------------------------------


class APIUnreachableError(UsernsError):
    """The Kubernetes API did not answer (connection refused, DNS, TLS, timeout)."""


class APIRefusedError(UsernsError):
    """The Kubernetes API answered 401 or 403."""


class APIError(UsernsError):
    """Any other unexpected answer of the Kubernetes API, or an answer of the wrong shape."""


class CredentialError(UsernsError):
    """The kubeconfig's credential plugin failed, hung or printed no credential."""


class KubeconfigError(UsernsError):
    """No usable kubeconfig, or a --context it does not have."""

    exit_code = EXIT_USAGE


class NodeUnreachableError(UsernsError):
    """The node's SSH endpoint could not be reached."""


class HostKeyError(UsernsError):
    """The node's SSH host key is unknown or does not match known_hosts."""


class NodeAuthError(UsernsError):
    """The node refused the SSH credentials, or sudo wants a password."""


class ProbeError(UsernsError):
    """The probe script failed on the node or its output cannot be parsed."""


class PodCgroupNotFoundError(UsernsError):
    """The pod's cgroup directory was not found on the node."""


class SandboxError(UsernsError):
    """The local sandbox cannot be started or stopped as asked (not root, already up, ...)."""

    exit_code = EXIT_USAGE
