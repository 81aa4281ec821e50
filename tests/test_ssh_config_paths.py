"""The SSH config as OpenSSH reads it, against the sandbox's real sshds (one per node address).

Every case runs three ways: paramiko with the options from ``ssh -G``, ``--ssh-client openssh``,
and paramiko with paramiko's own parser (what runs without the OpenSSH client). Each case
proves where the probe landed: the probe prints ``$SSH_CONNECTION`` (the server address and
port sshd saw) and the node's host name (its own UTS namespace), and both must be what
``ssh -G`` computes for the same config; jump hosts are proven by their own sshd logs.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kubectl_userns.access.node import open_runner
from kubectl_userns.access.ssh_config import parse_ssh_g
from kubectl_userns.errors import HostKeyError, NodeUnreachableError, UsageError
from kubectl_userns.options import NodeAccessOptions, SSHClientKind
from kubectl_userns.sandbox.cluster import Sandbox
from kubectl_userns.sandbox.node import NodeState
from tests.cli import run_cli

TARGET, JUMP1, JUMP2 = "sp-target", "sp-jump1", "sp-jump2"
MODES = {
    "paramiko": dict(ssh_client=SSHClientKind.paramiko, openssh_config=True),
    "openssh": dict(ssh_client=SSHClientKind.openssh, openssh_config=True),
    "paramiko-parser": dict(ssh_client=SSHClientKind.paramiko, openssh_config=False),
}
WHERE = 'printf "%s\\n" "$SSH_CONNECTION"; hostname'

pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="compares with ssh -G")


@pytest.fixture(scope="module")
def cluster(make_sandbox: Callable[[], Sandbox]) -> Iterator[Sandbox]:
    sandbox = make_sandbox()
    for name in (TARGET, JUMP1, JUMP2):
        sandbox.add_node(name)
    yield sandbox


@pytest.fixture(params=sorted(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def common(cluster: Sandbox, known: Path | None = None) -> str:
    key = cluster.state_dir / "ssh" / "id_ed25519"
    return (
        f"Host *\n  User root\n  IdentityFile {key}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known or cluster.known_hosts}\n"
        "  GlobalKnownHostsFile /dev/null\n"
    )


def host_block(node: NodeState, name: str | None = None, extra: str = "") -> str:
    return f"Host {name or node.name}\n  HostName {node.address}\n  Port {node.port}\n{extra}"


def write(tmp_path: Path, text: str, name: str = "ssh_config") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def ssh_g(config: Path, host: str, *args: str) -> dict[str, list[str]]:
    done = subprocess.run(
        ["ssh", "-G", "-F", str(config), *args, "--", host],
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return parse_ssh_g(done.stdout)


def accepted(node: NodeState) -> int:
    log = Path(node.dir) / "sshd.log"
    return log.read_text(errors="replace").count("Accepted publickey for root")


def probe(
    config: Path, mode: str, node: str = TARGET, address: str | None = None, **kw: object
) -> tuple[str, int, str]:
    """Run the where-am-I probe; (server address, server port, node host name)."""
    options = NodeAccessOptions(ssh_config=config, ssh_timeout=None, **MODES[mode], **kw)  # type: ignore[arg-type]
    runner = open_runner(node, address, options)
    try:
        out = runner.run(WHERE, [])
    finally:
        runner.close()
    assert out.exit_status == 0, out.stderr
    connection, hostname = out.stdout.split("\n")[:2]
    _client, _client_port, server, server_port = connection.split()
    return server, int(server_port), hostname


def assert_where_ssh_g_says(config: Path, cluster: Sandbox, landed: tuple[str, int, str]) -> None:
    said = ssh_g(config, TARGET)
    assert (landed[0], landed[1]) == (said["hostname"][0], int(said["port"][0]))
    assert landed[2] == TARGET
    target = cluster.nodes[TARGET]
    assert (landed[0], landed[1]) == (target.address, target.port)


# --- Match ----------------------------------------------------------------------------------


def test_match_host_and_match_user(cluster: Sandbox, tmp_path: Path, mode: str) -> None:
    target = cluster.nodes[TARGET]
    config = write(
        tmp_path,
        # HostName only under Match host, the port only under Match user
        f"Match host {TARGET}\n  HostName {target.address}\n"
        f"Match user root\n  Port {target.port}\n"
        "Match user nobody\n  Port 9\n" + common(cluster),
    )
    assert_where_ssh_g_says(config, cluster, probe(config, mode, address="203.0.113.9"))


def test_match_exec_runs_with_openssh_and_is_named_without_it(
    cluster: Sandbox, tmp_path: Path, mode: str
) -> None:
    target = cluster.nodes[TARGET]
    marker = tmp_path / "exec-ran"
    config = write(
        tmp_path,
        f'Match host {TARGET} exec "touch {marker}"\n  HostName {target.address}\n'
        f"  Port {target.port}\n" + common(cluster),
    )
    if mode == "paramiko-parser":
        with pytest.raises(UsageError) as caught:
            probe(config, mode)
        assert "Match host" in caught.value.message and "exec" in caught.value.message
        assert "OpenSSH client" in caught.value.message
        return
    assert_where_ssh_g_says(config, cluster, probe(config, mode))
    assert marker.exists()


# --- Include --------------------------------------------------------------------------------


def test_include_relative_to_dot_ssh_and_glob(cluster: Sandbox, tmp_path: Path, mode: str) -> None:
    target = cluster.nodes[TARGET]
    confd = tmp_path / "conf.d"
    confd.mkdir()
    # sorted glob order: the first file's values win, as OpenSSH reads them first
    (confd / "10-target.conf").write_text(host_block(target))
    (confd / "20-wrong.conf").write_text(f"Host {TARGET}\n  HostName 127.0.0.1\n  Port 9\n")
    (confd / "30-ignored.txt").write_text(f"Host {TARGET}\n  Port 8\n")
    # a relative Include is relative to ~/.ssh (ssh_config(5)); reach tmp_path from there
    dot_ssh = Path("~/.ssh").expanduser()
    dot_ssh.mkdir(mode=0o700, exist_ok=True)
    relative = os.path.relpath(confd, dot_ssh)
    assert not relative.startswith("/")
    config = write(tmp_path, f"Include {relative}/*.conf\n" + common(cluster))
    assert_where_ssh_g_says(config, cluster, probe(config, mode))


# --- ProxyJump ------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["list", "jump-of-jump", "ssh-uri"])
def test_two_hop_proxyjump(cluster: Sandbox, tmp_path: Path, mode: str, style: str) -> None:
    target, jump1, jump2 = (cluster.nodes[n] for n in (TARGET, JUMP1, JUMP2))
    if style == "list":
        blocks = [
            host_block(target, extra=f"  ProxyJump {JUMP1},{JUMP2}\n"),
            host_block(jump1),
            # ignored: a hop named after others in the list is reached through them
            host_block(jump2, extra="  ProxyJump 127.0.0.1:9\n"),
        ]
    elif style == "jump-of-jump":
        blocks = [
            host_block(target, extra=f"  ProxyJump {JUMP2}\n"),
            host_block(jump2, extra=f"  ProxyJump {JUMP1}\n"),
            host_block(jump1),
        ]
    else:
        blocks = [
            host_block(
                target,
                extra=f"  ProxyJump ssh://root@{jump1.address}:{jump1.port},{JUMP2}\n",
            ),
            host_block(jump2),
        ]
    config = write(tmp_path, "".join(blocks) + common(cluster))
    before = {n: accepted(cluster.nodes[n]) for n in (TARGET, JUMP1, JUMP2)}
    assert_where_ssh_g_says(config, cluster, probe(config, mode))
    after = {n: accepted(cluster.nodes[n]) for n in (TARGET, JUMP1, JUMP2)}
    assert {n: after[n] - before[n] for n in after} == {TARGET: 1, JUMP1: 1, JUMP2: 1}


def test_a_jump_hosts_unknown_key_is_refused_and_named(
    cluster: Sandbox, tmp_path: Path, mode: str
) -> None:
    target, jump1 = cluster.nodes[TARGET], cluster.nodes[JUMP1]
    known = tmp_path / "known_hosts"
    known.write_text(f"[{target.address}]:{target.port} {target.host_key_pub}\n")
    config = write(
        tmp_path,
        host_block(target, extra=f"  ProxyJump {JUMP1}\n") + host_block(jump1),
    )
    config.write_text(config.read_text() + common(cluster, known))
    with pytest.raises(HostKeyError) as caught:
        probe(config, mode)
    assert f"node {TARGET} (jump host {JUMP1})" in caught.value.message
    assert f"[{jump1.address}]:{jump1.port}" in caught.value.message
    assert "unknown SSH host key" in caught.value.message


# --- host keys ------------------------------------------------------------------------------


def test_host_key_alias_names_the_known_hosts_entry(
    cluster: Sandbox, tmp_path: Path, mode: str
) -> None:
    target = cluster.nodes[TARGET]
    by_alias = tmp_path / "by_alias"
    by_alias.write_text(f"sp-alias {target.host_key_pub}\n")
    config = write(
        tmp_path, host_block(target, extra="  HostKeyAlias sp-alias\n") + common(cluster, by_alias)
    )
    assert_where_ssh_g_says(config, cluster, probe(config, mode))
    # the address's own entry is not looked at when HostKeyAlias is set
    by_address = tmp_path / "by_address"
    by_address.write_text(f"[{target.address}]:{target.port} {target.host_key_pub}\n")
    config.write_text(
        host_block(target, extra="  HostKeyAlias sp-alias\n") + common(cluster, by_address)
    )
    with pytest.raises(HostKeyError) as caught:
        probe(config, mode)
    assert f"node {TARGET} (sp-alias) offered an unknown SSH host key" in caught.value.message


def test_global_known_hosts_file_is_read(cluster: Sandbox, tmp_path: Path, mode: str) -> None:
    target = cluster.nodes[TARGET]
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    system = tmp_path / "ssh_known_hosts"
    system.write_text(f"[{target.address}]:{target.port} {target.host_key_pub}\n")
    config = write(
        tmp_path,
        host_block(target, extra=f"  GlobalKnownHostsFile {system}\n") + common(cluster, empty),
    )
    assert_where_ssh_g_says(config, cluster, probe(config, mode))
    assert empty.read_text() == ""


# --- ConnectTimeout -------------------------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """A TCP port that accepts connections and never says a word (no SSH banner)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_connect_timeout_from_the_config_applies(
    cluster: Sandbox, tmp_path: Path, mode: str, silent_server: tuple[str, int]
) -> None:
    host, port = silent_server
    config = write(
        tmp_path,
        f"Host {TARGET}\n  HostName {host}\n  Port {port}\n  ConnectTimeout 1\n" + common(cluster),
    )
    assert ssh_g(config, TARGET)["connecttimeout"] == ["1"]
    with pytest.raises(NodeUnreachableError) as caught:
        probe(config, mode)
    assert f"cannot reach node {TARGET} over SSH at {host}:{port}" in caught.value.message
    assert "timed out after 1 s" in caught.value.message


# --- through the CLI ------------------------------------------------------------------------


@pytest.mark.parametrize("client", ["paramiko", "openssh"])
def test_verify_node_with_match_and_a_two_hop_jump(
    cluster: Sandbox, tmp_path: Path, client: str
) -> None:
    target, jump1, jump2 = (cluster.nodes[n] for n in (TARGET, JUMP1, JUMP2))
    config = write(
        tmp_path,
        f"Match host {TARGET}\n  ProxyJump {JUMP1},{JUMP2}\n"
        + host_block(target)
        + host_block(jump1)
        + host_block(jump2)
        + common(cluster),
    )
    before = {n: accepted(cluster.nodes[n]) for n in (TARGET, JUMP1, JUMP2)}
    env = {**cluster.env(), "KUBECTL_USERNS_SSH_CLIENT": client}
    run = run_cli(["verify-node", TARGET, "--ssh-config", str(config), "-o", "json"], env=env)
    assert (run.exit_code, run.stderr) == (0, "")
    report = json.loads(run.stdout)
    assert (report["node"]["name"], report["summary"]["verdict"]) == (TARGET, "READY")
    after = {n: accepted(cluster.nodes[n]) for n in (TARGET, JUMP1, JUMP2)}
    assert {n: after[n] - before[n] for n in after} == {TARGET: 1, JUMP1: 1, JUMP2: 1}


def test_ssh_client_flag_and_env_are_checked(cluster: Sandbox) -> None:
    run = run_cli(["verify-node", TARGET, "--local", "--ssh-client", "openssh"], cluster.env())
    assert run.exit_code == 2
    assert "--local cannot be used with --ssh-client" in run.stderr
    env = {**cluster.env(), "KUBECTL_USERNS_SSH_CLIENT": "putty"}
    run = run_cli(["verify-node", TARGET], env)
    assert run.exit_code == 2
    assert run.stderr == (
        "error: $KUBECTL_USERNS_SSH_CLIENT 'putty' is not an SSH client; use paramiko or openssh.\n"
    )
