"""A sandbox node's files on the host, written before its namespaces start: the upper layer of
its /etc (accounts, subordinate IDs), its own tools (uname with the sandbox's kernel release,
OCI runtime stand-ins, the kubelet binary), sshd's config and host key; and the ssh_config and
known_hosts through which the sandbox's users reach every node. Its processes: :mod:`.node`.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from kubectl_userns.sandbox.certs import make_ssh_key
from kubectl_userns.sandbox.node import NodeState
from kubectl_userns.sandbox.nodebin import crun_standin, kubelet_binary


def _etc_file(upper: Path, name: str, text: str | None) -> None:
    path = upper / name
    if path.exists() or path.is_symlink():
        path.unlink()
    if text is None:
        os.mknod(path, 0o600 | 0o020000, os.makedev(0, 0))  # overlayfs whiteout: file absent
    else:
        path.write_text(text)


# A stand-in OCI runtime: it answers --version with the first line the real binaries print
# ("crun version X", "runc version X": what checks/node/runtime.py reads) and refuses anything
# else - sandbox containers are started by the sandbox's kubelet, not by an OCI runtime.
_OCI_RUNTIME = """#!/bin/sh
case "$1" in
  --version | -v | version) printf '%s\\n' {lines} ;;
  *) echo "{name}: the sandbox's stand-in runs no containers" >&2; exit 1 ;;
esac
"""
# uname on a node: the kernel release is the node's (as its Node object reports it)
_UNAME = """#!/bin/sh
case " $* " in
  " -r " | " --kernel-release ") echo {release} ;;
  *) exec {real} "$@" ;;
esac
"""


def write_node_tools(node_dir: Path, kernel_release: str, oci_runtimes: dict[str, str]) -> None:
    """The node's bin/ (uname, its OCI runtimes), osrelease and the hiding file ``absent``.

    ``oci_runtimes`` maps crun or runc to the version the stand-in reports ({} for a node
    without an OCI runtime on PATH).
    """
    import shutil

    bin_dir = node_dir / "bin"
    if bin_dir.exists():
        shutil.rmtree(bin_dir)
    bin_dir.mkdir(parents=True)
    host_uname = node_dir / "host-uname"
    shutil.copy2(os.path.realpath("/usr/bin/uname"), host_uname)
    tools = {
        "uname": _UNAME.format(
            release=shlex.quote(kernel_release), real=shlex.quote(str(host_uname))
        )
    }
    for name, version in oci_runtimes.items():
        if name == "crun":  # creates its state directory on --version, as crun does
            tools[name] = crun_standin(version)
            continue
        lines = [f"{name} version {version}", "spec: 1.0.0"]
        tools[name] = _OCI_RUNTIME.format(lines=shlex.join(lines), name=name)
    for name, text in tools.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    kubelet = bin_dir / "kubelet"  # the node's kubelet process runs it (see nodebin)
    kubelet.write_bytes(kubelet_binary())
    kubelet.chmod(0o755)
    (node_dir / "osrelease").write_text(f"{kernel_release}\n")
    (node_dir / "absent").write_text("")
    (node_dir / "absent").chmod(0o644)


def prepare_node_dir(
    node_dir: Path,
    *,
    name: str,
    address: str,
    port: int,
    authorized_key: str,
    subuid: str | None,
    subgid: str | None,
    kubelet_user: bool,
    getsubids: bool,
    max_user_namespaces: int | None,
    sshd_log_level: str,
    kernel_release: str,
    oci_runtimes: dict[str, str],
) -> str:
    """Write the node's private files; returns the host key's public line."""
    write_node_tools(node_dir, kernel_release, oci_runtimes)
    for sub in ("etc.upper", "etc.work", "varlib.upper", "varlib.work", "kubelet/pods"):
        (node_dir / sub).mkdir(parents=True, exist_ok=True)
    upper = node_dir / "etc.upper"
    # the host's accounts, without a kubelet user this machine may have: the node's kubelet
    # user is the sandbox's (UID 996) or absent, whatever the host has
    passwd, group, shadow = (
        "".join(
            line
            for line in Path(f"/etc/{name}").read_text().splitlines(keepends=True)
            if not line.startswith("kubelet:")
        )
        for name in ("passwd", "group", "shadow")
    )
    if kubelet_user:
        passwd += "kubelet:x:996:996:Kubernetes kubelet:/var/lib/kubelet:/usr/sbin/nologin\n"
        group += "kubelet:x:996:\n"
        shadow += "kubelet:!:19000::::::\n"
    _etc_file(upper, "passwd", passwd)
    _etc_file(upper, "group", group)
    _etc_file(upper, "shadow", shadow)
    (upper / "shadow").chmod(0o640)
    _etc_file(upper, "subuid", subuid)
    _etc_file(upper, "subgid", subgid)
    _etc_file(upper, "hostname", f"{name}\n")
    if max_user_namespaces is not None:
        (node_dir / "max_user_namespaces").write_text(f"{max_user_namespaces}\n")
    if not getsubids:
        (node_dir / "no-getsubids").write_text("")
        (node_dir / "no-getsubids").chmod(0o644)
    key = node_dir / "ssh_host_ed25519_key"
    if not key.exists():
        make_ssh_key(key, name)
    (node_dir / "authorized_keys").write_text(authorized_key)
    (node_dir / "sshd_config").write_text(
        f"ListenAddress {address}:{port}\n"
        f"HostKey {key}\n"
        f"AuthorizedKeysFile {node_dir / 'authorized_keys'}\n"
        "PidFile /run/sshd.pid\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "X11Forwarding no\n"
        "MaxStartups 100:30:200\n"
        # The key exchange a sandbox node offers is the one cheapest for both ends, because the
        # suite makes hundreds of connections: OpenSSH's default sntrup761x25519 makes its
        # client generate a Streamlined NTRU Prime key (~125 ms of CPU per connection here) and
        # curve25519 runs OpenSSH's own portable C (openssh-portable kexc25519.c and
        # smult_curve25519_ref.c), while ecdh-sha2-nistp256 is libcrypto's (kexecdh.c). The tool
        # must not care which exchange a node offers - real nodes vary, from OpenSSH's default
        # to FIPS-only NIST curves - and paramiko and the OpenSSH client both speak this one.
        # bench/test_suite_speed.md ("Node side") has the numbers.
        "KexAlgorithms ecdh-sha2-nistp256\n"
        f"LogLevel {sshd_log_level}\n"
    )
    return " ".join((node_dir / "ssh_host_ed25519_key.pub").read_text().split()[:2])


def write_ssh_files(ssh_dir: Path, nodes: list[NodeState]) -> None:
    """ssh_config and known_hosts for the nodes, next to the sandbox's key in ``ssh_dir``."""
    key, known_hosts = ssh_dir / "id_ed25519", ssh_dir / "known_hosts"
    blocks, known = [], []
    for node in nodes:
        blocks.append(
            f"Host {node.name} {node.address}\n"
            f"  HostName {node.address}\n  Port {node.port}\n  User root\n"
            f"  IdentityFile {key}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {known_hosts}\n  StrictHostKeyChecking yes\n"
        )
        known.append(f"[{node.address}]:{node.port} {node.host_key_pub}\n")
    (ssh_dir / "ssh_config").write_text("\n".join(blocks))
    known_hosts.write_text("".join(known))
