"""A throw-away certificate authority and server certificate for the API emulator."""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

# who the client certificate (pki/client.crt, client.key) authenticates as
CLIENT_USER = "sandbox-cert-admin"
CLIENT_GROUP = "system:masters"


def make_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """Write ca.crt, server.crt and server.key (EC P-256, SANs 127.0.0.1 and localhost), and
    client.crt and client.key (a client certificate the API server accepts)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    end = start + datetime.timedelta(days=30)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubectl-userns sandbox CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    # a client certificate as kubeadm makes the admin's: the API server's x509 authenticator
    # takes its CN as the user and its O as the groups, and wants the clientAuth usage
    # (kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/authentication/request/x509/
    # x509.go CommonNameUserConversion, DefaultVerifyOptions)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, CLIENT_GROUP),
                    x509.NameAttribute(NameOID.COMMON_NAME, CLIENT_USER),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(client_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_path = directory / "ca.crt"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    for name, made, made_key in (("server", cert, key), ("client", client, client_key)):
        (directory / f"{name}.crt").write_bytes(made.public_bytes(serialization.Encoding.PEM))
        key_path = directory / f"{name}.key"
        key_path.write_bytes(
            made_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
    return ca_path, directory / "server.crt", directory / "server.key"


def make_ssh_key(path: Path, comment: str) -> None:
    """An Ed25519 SSH key pair, as ``ssh-keygen -q -t ed25519 -N '' -C COMMENT -f PATH`` writes
    it: the private key in OpenSSH's format (mode 0600, no passphrase), PATH.pub one line. Made
    here rather than by ssh-keygen: the suite makes one per node and sandbox, hundreds a run."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private)
    Path(f"{path}.pub").write_bytes(public + f" {comment}\n".encode())
