"""What an API answer other than 200 means for the user: one printable line that says what to
do, never a secret (the server's own message is quoted, shortened)."""

from __future__ import annotations

from typing import Any

from kubectl_userns.access.restconfig import RestConfig
from kubectl_userns.errors import APIError, APIRefusedError, NotFoundError
from kubectl_userns.text import quoted

JSON = dict[str, Any]


def status_message(body: JSON | None) -> str:
    """A Status answer's message as one printable line ('' when there is none)."""
    message = (body or {}).get("message")
    return quoted(message, 300) if isinstance(message, str) else ""


def answer_error(status: int, body: JSON | None, what: str, config: RestConfig) -> Exception:
    """The error for answer ``status`` (with ``body``) to a request that read ``what``."""
    message = status_message(body) or f"HTTP {status}"
    # a request with no credentials is anonymous: refused (401) where anonymous authentication
    # is off, else authenticated as system:anonymous, whom RBAC forbids nearly everything (403)
    # - kubernetes/kubernetes pkg/kubeapiserver/options/authentication.go (--anonymous-auth,
    # on by default)
    anonymous = not config.has_credentials
    no_credentials = (
        f'the user "{config.user}" has no credentials'
        if config.user
        else "this request has no credentials"
    ) + (
        "; give a token or a client certificate and key (--token, --client-certificate and "
        "--client-key), or use a kubeconfig user that has them."
    )
    if status == 401 and anonymous:
        return APIRefusedError(
            "the Kubernetes API refused an anonymous request (401 Unauthorized) while reading "
            f"{what}: {no_credentials}"
        )
    if status == 401:
        plugin = " or check its credential plugin" if config.exec_plugin else ""
        return APIRefusedError(
            f"the Kubernetes API refused the credentials (401 Unauthorized) while reading {what}; "
            f"renew them, e.g. log in again or fix the token in the kubeconfig{plugin}."
        )
    if status == 403 and anonymous:
        return APIRefusedError(
            f"the Kubernetes API forbids an anonymous request to read {what} (403 Forbidden: "
            f"{message}): {no_credentials}"
        )
    if status == 403:
        return APIRefusedError(
            f"the Kubernetes API forbids reading {what} (403 Forbidden: {message}); ask for RBAC "
            "permission to get it."
        )
    if status == 404:
        return NotFoundError(f"{what} not found.")
    return APIError(f"the Kubernetes API answered {status} for {what}: {message}.")
