"""The sandbox trusts only what it made (issue 14 items 1, 10, 13), through the real CLI:
state directories of other users or writable by them are refused, ``down`` signals only
processes of the sandbox's own cgroups, a corrupt state file is one error line (``env``) or a
stop by the sandbox's id (``down``), a start killed at any point leaves nothing that ``down``
does not remove, and legal pod names of 253 characters work."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kubectl_userns.sandbox.cluster import Sandbox
from tests.cli import VENV_BIN, run_cli
from tests.conftest import leftovers, needs_root
from tests.loopback import one_error_line

pytestmark = needs_root
NOBODY = 65534


def _up(state: Path) -> tuple[str, str, int]:
    run = run_cli(["sandbox", "up", "--state-dir", str(state)])
    return run.stdout, run.stderr, run.exit_code


@pytest.mark.parametrize("case", ["other-owner", "world-writable", "symlink", "open-parent"])
def test_an_untrusted_state_directory_is_refused(tmp_path: Path, case: str) -> None:
    state = tmp_path / "state"
    if case == "other-owner":
        state.mkdir(mode=0o700)
        os.chown(state, NOBODY, NOBODY)
        why = f"it is owned by uid {NOBODY}, not by you"
    elif case == "world-writable":
        state.mkdir()
        state.chmod(0o777)
        why = "it is writable by other users"
    elif case == "symlink":
        target = tmp_path / "elsewhere"
        target.mkdir(mode=0o700)
        state.symlink_to(target)
        why = "it is a symlink"
    else:
        parent = tmp_path / "open"
        parent.mkdir()
        parent.chmod(0o777)  # writable by all, not sticky: anyone can swap the state dir
        state = parent / "state"
        why = f"{parent} is writable by other users"
    stdout, stderr, code = _up(state)
    assert one_error_line(stderr) == (
        f"error: the sandbox state directory {state} cannot be trusted: {why}; remove it or "
        "choose another with --state-dir."
    )
    assert (stdout, code) == ("", 2)
    assert leftovers(str(state), []) == []
    for command in ("down", "env"):
        run = run_cli(["sandbox", command, "--state-dir", str(state)])
        assert one_error_line(run.stderr).startswith("error: the sandbox state directory")
        assert (run.stdout, run.exit_code) == ("", 2)


def test_a_new_state_directory_is_private(tmp_path: Path, sandbox: Sandbox) -> None:
    assert sandbox.state_dir.stat().st_mode & 0o777 == 0o700
    assert sandbox.state_dir.stat().st_uid == os.geteuid()


@pytest.fixture
def victim(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process that is not the sandbox's, and that a planted state file names."""
    proc = subprocess.Popen(["sleep", "600"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_down_signals_only_processes_of_its_own_cgroups(
    tmp_path: Path, victim: subprocess.Popen[bytes]
) -> None:
    state = tmp_path / "planted"
    state.mkdir(mode=0o700)
    other_cgroup = Path("/sys/fs/cgroup/unified") / f"not-the-sandbox-{os.getpid()}"
    other_cgroup.mkdir()
    try:
        planted = {
            "id": "0badc0de",
            "cgroup_roots": [str(other_cgroup)],
            "api": {"url": "https://127.0.0.1:1", "ca": "x", "pid": victim.pid},
            "nodes": {
                "n": {
                    "name": "n",
                    "dir": str(state),
                    "address": "127.0.0.9",
                    "port": 22,
                    "cgroup_driver": "systemd",
                    "cgroup_mode": "v2",
                    "cgroup_dirs": [str(other_cgroup)],
                    "init_pid": victim.pid,
                    "unshare_pid": victim.pid,
                }
            },
            "pods": {},
        }
        (state / "sandbox.json").write_text(json.dumps(planted))
        run = run_cli(["sandbox", "down", "--state-dir", str(state)])
        assert (run.stdout, run.exit_code) == ("", 0), run.stderr
        assert run.stderr == "sandbox stopped; nothing is left behind\n"
        assert victim.poll() is None  # still running: it is not in the sandbox's cgroups
        assert other_cgroup.is_dir()  # not the sandbox's: not removed
        assert not state.exists()
    finally:
        other_cgroup.rmdir()


def test_a_state_file_with_a_forged_id_stops_nothing(tmp_path: Path) -> None:
    state = tmp_path / "forged"
    state.mkdir(mode=0o700)
    (state / "sandbox.json").write_text(json.dumps({"id": "../../../sys", "nodes": {}}))
    run = run_cli(["sandbox", "down", "--state-dir", str(state)])
    line = one_error_line(run.stderr)
    assert line.startswith("error: the sandbox state names no valid sandbox id; nothing was")
    assert (run.stdout, run.exit_code) == ("", 2)
    assert state.exists()


@pytest.mark.parametrize("text", ["{", "[]", '{"id": "0badc0de", "nodes": []}', "\x00" * 10])
def test_a_corrupt_state_file_is_one_error_for_env(tmp_path: Path, text: str) -> None:
    state = tmp_path / "corrupt"
    state.mkdir(mode=0o700)
    (state / "sandbox.json").write_text(text)
    run = run_cli(["sandbox", "env", "--state-dir", str(state)])
    line = one_error_line(run.stderr)
    assert line.startswith(f"error: the sandbox state file {state}/sandbox.json is corrupt (")
    assert line.endswith("'kubectl userns sandbox down' still removes the sandbox by its id.")
    assert (run.stdout, run.exit_code) == ("", 2)


def test_down_with_a_corrupt_state_file_stops_the_sandbox_by_its_id(
    make_sandbox: Callable[[], Sandbox],
) -> None:
    cluster = make_sandbox()
    cluster.add_node("solo")
    marker, roots = str(cluster.state_dir), cluster.data["cgroup_roots"]
    (cluster.state_dir / "sandbox.json").write_text('{"id": ')
    run = run_cli(["sandbox", "down", "--state-dir", marker])
    assert (run.stdout, run.exit_code) == ("", 0), run.stderr
    assert run.stderr == (
        f"sandbox {cluster.data['id']} stopped by its id (its state file {marker}/sandbox.json "
        "was corrupt); nothing is left behind\n"
    )
    assert leftovers(marker, roots) == []


def test_an_up_killed_while_the_emulator_starts_leaves_nothing_after_down(
    tmp_path: Path,
) -> None:
    """SIGKILL ``sandbox up`` the moment its API emulator exists (before its PID is saved)."""
    state = tmp_path / "killed"
    up = subprocess.Popen(
        [str(VENV_BIN / "kubectl-userns"), "sandbox", "up", "--state-dir", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while up.poll() is None and not _emulator_of(state):
            time.sleep(0.001)
    finally:
        up.send_signal(signal.SIGKILL)
        up.wait()
    assert _emulator_of(state), "the emulator never started"
    data = json.loads((state / "sandbox.json").read_text())
    run = run_cli(["sandbox", "down", "--state-dir", str(state)])
    assert (run.stdout, run.exit_code) == ("", 0), run.stderr
    assert run.stderr == "sandbox stopped; nothing is left behind\n"
    assert leftovers(str(state), data["cgroup_roots"]) == []


def _emulator_of(state: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"sandbox.api.server" in cmdline and str(state).encode() in cmdline:
                found.append(proc.name)
    return found


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_a_pod_name_of_253_characters_is_served(sandbox: Sandbox, tmp_path: Path) -> None:
    """Legal names (RFC 1123 subdomain, 253 characters) are longer than NAME_MAX with a suffix."""
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == 253
    manifest = tmp_path / "pod.json"
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"hostUsers": False, "containers": [{"name": "c", "image": "debian"}]},
            }
        )
    )
    env = {**os.environ, **sandbox.env()}
    try:
        made = subprocess.run(
            ["kubectl", "create", "--validate=false", "-f", str(manifest)],
            capture_output=True,
            text=True,
            env=env,
        )
        assert made.returncode == 0, made.stderr
        # the sandbox's kubelet schedules and runs it like any pod made through the API, so the
        # whole path - store, cgroups, record, probe - works with the longest legal name
        run = run_cli(["inspect", name, "-o", "json"], env=sandbox.env())
        assert (run.exit_code, run.stderr) == (0, ""), run.stderr
        assert json.loads(run.stdout)["pod"]["name"] == name
        listed = subprocess.run(
            ["kubectl", "get", "pods", "-o", "name"], capture_output=True, text=True, env=env
        )
        assert f"pod/{name}" in listed.stdout.splitlines()
    finally:
        gone = subprocess.run(
            ["kubectl", "delete", "pod", name], capture_output=True, text=True, env=env
        )
    assert gone.returncode == 0, gone.stderr
    assert sys.executable  # the emulator still answers after all of it:
    assert run_cli(["inspect", "testpod", "-o", "json"], env=sandbox.env()).exit_code == 0
