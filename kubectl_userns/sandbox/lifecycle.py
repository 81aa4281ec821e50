"""A sandbox's start and stop: its private state directory and id, the API emulator, the SSH
key its nodes trust, and ``stop``, which removes all of it and touches nothing else.

What is provably the sandbox's is decided by :mod:`.statedir`: a PID of the state file is
signalled only when it sits in the sandbox's own cgroup tree, and the cgroup trees removed are
the ones named after the sandbox's id, whatever the state file says.
"""

from __future__ import annotations

import os
import random
import uuid
from pathlib import Path
from typing import Any

from kubectl_userns.errors import SandboxError
from kubectl_userns.sandbox.api.launch import start_apiserver, stop_apiserver
from kubectl_userns.sandbox.certs import make_ssh_key
from kubectl_userns.sandbox.kubeconfig import write_kubeconfig
from kubectl_userns.sandbox.node import (
    CGROUP2_HOST,
    SYSTEMD_V1_HOST,
    NodeState,
    continue_cgroup_tree,
    wait_gone,
)
from kubectl_userns.sandbox.statedir import (
    ID_FILE,
    STATE_FILE,
    cgroup_roots,
    down_by_id,
    in_sandbox_cgroup,
    kill_if_ours,
    make_state_dir,
    valid_id,
    write_private,
)


def require_root() -> None:
    if os.geteuid() != 0:
        raise SandboxError(
            "the sandbox needs root (it creates namespaces, cgroups and uid maps, as a kubelet "
            "does); run it with sudo."
        )


def new_state(state_dir: Path) -> tuple[Path, dict[str, Any]]:
    """A new private state directory holding the new sandbox's id; the state to save there."""
    require_root()
    resolved = Path(os.path.abspath(state_dir)).resolve()
    if str(resolved).startswith("/run/") or str(resolved).startswith("/etc/"):
        raise SandboxError(f"the sandbox state dir {resolved} cannot be under /run or /etc.")
    state_dir = make_state_dir(state_dir)  # 0700, the caller's, nobody else can write
    if (state_dir / STATE_FILE).exists() or (state_dir / ID_FILE).exists():
        raise SandboxError(
            f"a sandbox already runs from {state_dir}; stop it with "
            "'kubectl userns sandbox down' first."
        )
    sandbox_id = uuid.uuid4().hex[:8]
    rng = random.Random(sandbox_id)
    roots = cgroup_roots(sandbox_id, [CGROUP2_HOST, SYSTEMD_V1_HOST])
    # the id first: a down after a crash at any later point finds the cgroups by it
    write_private(state_dir / ID_FILE, sandbox_id)
    return state_dir, {
        "id": sandbox_id,
        "cgroup_roots": [str(root) for root in roots],
        "address_prefix": f"127.{rng.randint(20, 250)}.{rng.randint(1, 250)}",
        "nodes": {},
        "pods": {},
    }


def start_control_plane(state_dir: Path, data: dict[str, Any]) -> None:
    """Start the API emulator (in the sandbox's cgroup), write the kubeconfig for it and make
    the SSH key the nodes will authorize; ``data`` gets the emulator's URL, CA and PID."""
    api = start_apiserver(
        state_dir, state_dir / "api", cgroup=Path(data["cgroup_roots"][0]) / "apiserver"
    )
    data["api"] = {"url": api.url, "ca": str(api.ca_path), "pid": api.pid}
    write_kubeconfig(state_dir / "kubeconfig", server=api.url, ca_path=api.ca_path, token=api.token)
    ssh = state_dir / "ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    make_ssh_key(ssh / "id_ed25519", "kubectl-userns-sandbox")


def stop(state_dir: Path, data: dict[str, Any], nodes: list[NodeState]) -> None:
    """Kill every process, remove every cgroup and file the sandbox made. Idempotent."""
    sandbox_id = valid_id(data.get("id"))
    for root in cgroup_roots(sandbox_id, [CGROUP2_HOST, SYSTEMD_V1_HOST]):
        continue_cgroup_tree(root)  # a stopped process would hold its node's end
    # a node's init is waited for only when it was the sandbox's and signalled: a PID that the
    # state file names but that is not the sandbox's keeps running, and nothing waits for it
    killed = []
    for node in nodes:
        if kill_if_ours(node.init_pid, sandbox_id):
            killed.append(node.init_pid)
        kill_if_ours(node.unshare_pid, sandbox_id)
    api = data.get("api")
    if isinstance(api, dict) and in_sandbox_cgroup(api.get("pid"), sandbox_id):
        stop_apiserver(int(api["pid"]))
    for pid in killed:
        wait_gone(pid)
    down_by_id(state_dir, sandbox_id)
