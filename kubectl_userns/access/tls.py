"""The TLS side of a connection to the API, as client-go sets it up (rest/transport.go): only
the kubeconfig's CA when one is given, else the system's; TLS 1.2 at least; the client
certificate from files or kubeconfig data."""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile

from kubectl_userns.access.restconfig import RestConfig
from kubectl_userns.errors import KubeconfigError
from kubectl_userns.text import quoted


def ca_description(c: RestConfig) -> str:
    """Which CA verifies the server, for messages."""
    if c.ca_file:
        return f"the CA file {c.ca_file}"
    if c.ca_data:
        return f'the certificate-authority-data of cluster "{c.cluster}" in the kubeconfig'
    return "the system's trusted CAs"


def ssl_context(c: RestConfig) -> ssl.SSLContext:
    """The TLS client context of ``c``: its CA only (else the system's), its client certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # client-go's default minimum
    if c.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        try:
            if c.ca_file:
                context.load_verify_locations(cafile=c.ca_file)
            elif c.ca_data:
                context.load_verify_locations(cadata=c.ca_data.decode("ascii", "replace"))
            else:
                context.load_default_certs()
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise KubeconfigError(
                f"cannot use {ca_description(c)}"
                + (f' for cluster "{c.cluster}"' if c.cluster else "")
                + f" ({_ssl_reason(exc)}); fix certificate-authority(-data) in the kubeconfig, "
                "or --certificate-authority."
            ) from None
    _load_client_cert(c, context)
    return context


def _load_client_cert(c: RestConfig, context: ssl.SSLContext) -> None:
    cert_file, key_file = c.client_cert_file, c.client_key_file
    cert_data, key_data = c.client_cert_data, c.client_key_data
    if not (cert_file or cert_data or key_file or key_data):
        return
    if not (cert_file or cert_data) or not (key_file or key_data):
        raise KubeconfigError(
            f'user "{c.user}" has a client certificate without its key (or a key without '
            "its certificate); set both in the kubeconfig."
        )
    # ssl loads certificates only from files: data goes through a private temporary
    # directory (mode 0700, removed at once)
    scratch = tempfile.mkdtemp(prefix="kubectl-userns-tls-") if (cert_data or key_data) else None
    try:
        if cert_data is not None:
            cert_file = _private_file(scratch, "cert.pem", cert_data)
        if key_data is not None:
            key_file = _private_file(scratch, "key.pem", key_data)
        context.load_cert_chain(str(cert_file), str(key_file))
    except (ssl.SSLError, OSError, ValueError) as exc:
        whose = f' of user "{c.user}"' if c.user else ""
        files = f" {c.client_cert_file} (key {c.client_key_file})" if c.client_cert_file else ""
        raise KubeconfigError(
            f"cannot use the client certificate{files}{whose} ({_ssl_reason(exc)}); fix "
            "client-certificate(-data) and client-key(-data) in the kubeconfig, or "
            "--client-certificate and --client-key."
        ) from None
    finally:
        if scratch is not None:
            for name in ("cert.pem", "key.pem"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(scratch, name))
            os.rmdir(scratch)


def _private_file(directory: str | None, name: str, data: bytes) -> str:
    assert directory is not None
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return quoted(exc.reason or exc.strerror or type(exc).__name__)
    if isinstance(exc, OSError):
        return quoted(f"{exc.strerror or exc}{': ' + exc.filename if exc.filename else ''}")
    return quoted(exc)
