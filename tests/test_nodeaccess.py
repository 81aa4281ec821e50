"""The SSH node-access layer against a real OpenSSH sshd on loopback.

The sshd runs in a private mount namespace (its own /run for the privilege-separation
directory), so nothing on the host changes; it is killed when the module is done.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubectl_userns.access.node import LocalRunner, open_runner, remote_command
from kubectl_userns.access.ssh import SSHRunner
from kubectl_userns.access.ssh_target import resolve_ssh_target
from kubectl_userns.errors import HostKeyError, NodeAuthError, NodeUnreachableError, ProbeError
from kubectl_userns.options import NodeAccessOptions, SSHClientKind

SSHD = "/usr/sbin/sshd"
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(SSHD), reason="needs root and Debian's openssh-server"
)


@dataclass(frozen=True)
class Sshd:
    port: int
    client_key: Path
    host_pub: str
    dir: Path

    def config(self, known_hosts: Path, *, user: str = "root", key: Path | None = None) -> Path:
        path = self.dir / f"ssh_config_{known_hosts.name}_{user}"
        path.write_text(
            f"Host node-a\n  HostName 127.0.0.1\n  Port {self.port}\n  User {user}\n"
            f"  IdentityFile {key or self.client_key}\n  UserKnownHostsFile {known_hosts}\n"
        )
        return path

    def known_hosts(self, name: str = "known_hosts") -> Path:
        path = self.dir / name
        path.write_text(f"[127.0.0.1]:{self.port} {self.host_pub}\n")
        return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    base = tmp_path_factory.mktemp("sshd")
    _keygen(base / "host_key")
    _keygen(base / "client_key")
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    port = _free_port()
    (base / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1:{port}\nHostKey {base / 'host_key'}\n"
        "AuthorizedKeysFile /run/authorized_keys\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPidFile none\nLogLevel VERBOSE\n"
    )
    # two users that exist only inside sshd's mount namespace: alice's sudo wants a password,
    # bob's does not
    etc = base / "etc"
    etc.mkdir()
    for name in ("passwd", "group", "shadow"):
        (etc / name).write_text(Path(f"/etc/{name}").read_text())
    with (etc / "passwd").open("a") as handle:
        handle.write("alice:x:4242:4242::/tmp:/bin/sh\nbob:x:4243:4243::/tmp:/bin/sh\n")
    with (etc / "group").open("a") as handle:
        handle.write("alice:x:4242:\nbob:x:4243:\n")
    with (etc / "shadow").open("a") as handle:
        handle.write("alice:*:19000:0:99999:7:::\nbob:*:19000:0:99999:7:::\n")
    (etc / "sudoers").write_text(
        "root ALL=(ALL) ALL\nalice ALL=(ALL) ALL\nbob ALL=(ALL) NOPASSWD: ALL\n"
    )
    (etc / "sudoers").chmod(0o440)
    binds = " && ".join(
        f"mount --bind {etc / name} /etc/{name}"
        for name in ("passwd", "group", "shadow", "sudoers")
    )
    script = (
        "mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && "
        # readable for the non-root users too, unlike pytest's private tmp dirs
        f"install -m 644 {base / 'authorized_keys'} /run/authorized_keys && {binds} && "
        f"exec {SSHD} -D -e -f {base / 'sshd_config'}"
    )
    with open(base / "sshd.log", "wb") as log:
        proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None, (base / "sshd.log").read_text()
            assert time.monotonic() < deadline, "sshd did not start"
            time.sleep(0.02)
    host_pub = " ".join((base / "host_key.pub").read_text().split()[:2])
    try:
        yield Sshd(port, base / "client_key", host_pub, base)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _options(config: Path, **kw: object) -> NodeAccessOptions:
    return NodeAccessOptions(ssh_config=config, ssh_timeout=5.0, **kw)  # type: ignore[arg-type]


def test_runs_script_from_stdin_with_quoted_args(sshd: Sshd) -> None:
    config = sshd.config(sshd.known_hosts())
    runner = open_runner("node-a", "203.0.113.9", _options(config))
    assert isinstance(runner, SSHRunner)
    evil = "x'; touch /tmp/kubectl-userns-pwned; echo '"
    try:
        out = runner.run('printf "%s|" "$@"; id -u; echo err >&2; exit 3', ["a b", evil, "$HOME"])
    finally:
        runner.close()
    assert out.stdout == f"a b|{evil}|$HOME|0\n"
    assert out.stderr == "err\n"
    assert out.exit_status == 3
    assert not os.path.exists("/tmp/kubectl-userns-pwned")


def test_the_connection_sends_and_acknowledges_without_delay(sshd: Sshd) -> None:
    runner = open_runner("node-a", None, _options(sshd.config(sshd.known_hosts())))
    assert isinstance(runner, SSHRunner)
    try:
        assert runner.run("echo ok", []).stdout == "ok\n"
        sock = runner._client.get_transport().sock
        # no 40 ms waits for delayed ACKs between the small packets of the SSH conversation
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert type(sock).__name__ == "_QuickAckSocket"
    finally:
        runner.close()


def test_ssh_config_entry_for_the_node_name_wins_over_the_address(sshd: Sshd) -> None:
    config = sshd.config(sshd.known_hosts())
    target = resolve_ssh_target("node-a", "203.0.113.9", _options(config))
    assert (target.alias, target.hostname, target.port, target.user) == (
        "node-a",
        "127.0.0.1",
        sshd.port,
        "root",
    )
    # no entry for the name: the address from the API is what gets looked up
    other = resolve_ssh_target("node-b", "127.0.0.7", _options(config, ssh_port=2200))
    assert (other.hostname, other.port) == ("127.0.0.7", 2200)


def test_unknown_host_key_is_refused_by_default(sshd: Sshd) -> None:
    empty = sshd.dir / "empty_known_hosts"
    empty.write_text("")
    runner = open_runner("node-a", None, _options(sshd.config(empty)))
    with pytest.raises(HostKeyError) as caught:
        runner.run("true", [])
    assert caught.value.exit_code == 3
    assert "unknown SSH host key" in caught.value.message
    assert "--ssh-accept-new" in caught.value.message
    assert empty.read_text() == ""


def test_accept_new_records_the_key_then_it_is_known(sshd: Sshd) -> None:
    fresh = sshd.dir / "fresh_known_hosts"
    fresh.write_text("")
    runner = open_runner("node-a", None, _options(sshd.config(fresh), ssh_accept_new=True))
    assert runner.run("echo ok", []).stdout == "ok\n"
    runner.close()
    assert fresh.read_text() == f"[127.0.0.1]:{sshd.port} {sshd.host_pub}\n"
    again = open_runner("node-a", None, _options(sshd.config(fresh)))
    assert again.run("echo again", []).stdout == "again\n"
    again.close()


def test_changed_host_key_is_refused_even_with_accept_new(sshd: Sshd) -> None:
    _keygen(sshd.dir / "other_host_key")
    other = " ".join((sshd.dir / "other_host_key.pub").read_text().split()[:2])
    wrong = sshd.dir / "wrong_known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {other}\n")
    runner = open_runner("node-a", None, _options(sshd.config(wrong), ssh_accept_new=True))
    with pytest.raises(HostKeyError) as caught:
        runner.run("true", [])
    assert "does not match known_hosts" in caught.value.message
    assert "ssh-keygen -R" in caught.value.message


def test_wrong_key_is_refused_without_leaking_it(sshd: Sshd) -> None:
    _keygen(sshd.dir / "stranger_key")
    config = sshd.config(sshd.known_hosts(), key=sshd.dir / "stranger_key")
    runner = open_runner("node-a", None, _options(config))
    with pytest.raises(NodeAuthError) as caught:
        runner.run("true", [])
    assert caught.value.exit_code == 3
    assert "refused SSH login as root" in caught.value.message
    secret = (sshd.dir / "stranger_key").read_text().splitlines()[1]
    assert secret not in caught.value.message


def test_closed_port_is_unreachable(sshd: Sshd) -> None:
    runner = (
        open_runner(
            "node-z",
            "127.0.0.1",
            NodeAccessOptions(
                ssh_port=_free_port(), ssh_timeout=2.0, ssh_config=sshd.known_hosts("unused")
            ),
        )
        if False
        else None
    )
    del runner
    empty_config = sshd.dir / "empty_config"
    empty_config.write_text("")
    runner = open_runner("node-z", "127.0.0.1", _options(empty_config, ssh_port=_free_port()))
    with pytest.raises(NodeUnreachableError) as caught:
        runner.run("true", [])
    assert caught.value.exit_code == 3
    assert "cannot reach node node-z over SSH at 127.0.0.1:" in caught.value.message


@pytest.mark.skipif(not os.path.exists("/usr/bin/sudo"), reason="needs Debian's sudo")
def test_non_root_user_whose_sudo_wants_a_password_gets_one_clear_error(sshd: Sshd) -> None:
    config = sshd.config(sshd.known_hosts(), user="alice")
    runner = open_runner("node-a", None, _options(config))
    with pytest.raises(NodeAuthError) as caught:
        runner.run("id -u", [])
    assert caught.value.exit_code == 3
    assert "user alice is not root and sudo asks for a password" in caught.value.message


@pytest.mark.skipif(not os.path.exists("/usr/bin/sudo"), reason="needs Debian's sudo")
def test_non_root_user_with_passwordless_sudo_runs_the_script_as_root(sshd: Sshd) -> None:
    config = sshd.config(sshd.known_hosts(), user="bob")
    runner = open_runner("node-a", None, _options(config))
    out = runner.run('printf "%s " "$@"; id -u', ["a b"])
    runner.close()
    assert (out.stdout, out.exit_status) == ("a b 0\n", 0)


def test_local_runner_runs_as_root_with_quoted_args() -> None:
    out = LocalRunner("here").run('printf "%s;" "$@"; id -u', ["a b", "$(id)"])
    assert (out.stdout, out.exit_status) == ("a b;$(id);0\n", 0)


def test_remote_command_is_constant_apart_from_quoted_args() -> None:
    assert remote_command(["x'y", "a b"], deadline=2.5).endswith(" sh 3 'x'\"'\"'y' 'a b'")
    # a root login needs no sudo and no id -u
    root = remote_command(["x'y"], login_is_root=True, deadline=7)
    assert root.endswith(" sh 7 'x'\"'\"'y'") and "sudo" not in root and "id -u" not in root


def _processes_with(marker: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (
                    (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
            except OSError:
                continue
            if marker in cmdline:
                found.append(f"{proc.name}: {cmdline}")
    return found


# A probe that never ends: a shell waiting for its child, whose own shell (the trailing `:` keeps
# sh from exec'ing sleep) has the probe's argument, the marker, in its command line. Neither
# spins: a busy loop here burnt a core for each test's whole deadline.
_NEVER_ENDS = "sh -c 'sleep 3600; :' \"$1\" & wait"


@pytest.mark.parametrize("client", list(SSHClientKind))
@pytest.mark.parametrize("user", ["root", "bob"])
def test_a_probe_past_its_deadline_is_ended_on_the_node(
    sshd: Sshd, user: str, client: SSHClientKind
) -> None:
    # a shell that never ends, with a child that would outlive it (both carry the marker in
    # their command lines): both are gone after the deadline, through either SSH client (each
    # tells the node the deadline; the node's timeout ends them)
    marker = f"{os.getpid()}.{client.value}.{time.monotonic_ns() % 10**6}"
    config = sshd.config(sshd.known_hosts(), user=user)
    runner = open_runner("node-a", None, _options(config, probe_timeout=1.0, ssh_client=client))
    started = time.monotonic()
    with pytest.raises(ProbeError) as caught:
        runner.run(_NEVER_ENDS, [marker])
    runner.close()
    assert time.monotonic() - started < 30  # a bound against hanging, not a timing
    assert caught.value.message == (
        "the probe on node node-a did not finish within 1 s and was ended there; check the "
        "node's load and its kubelet root, or raise --probe-timeout."
    )
    deadline = time.monotonic() + 5
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(marker) == []


def test_the_local_runner_ends_a_probe_past_its_deadline() -> None:
    marker = f"{os.getpid()}.{time.monotonic_ns() % 10**6 + 1}"
    with pytest.raises(ProbeError, match="did not finish within 1 s"):
        LocalRunner("here", timeout=1.0).run(_NEVER_ENDS, [marker])
    deadline = time.monotonic() + 5
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(marker) == []
