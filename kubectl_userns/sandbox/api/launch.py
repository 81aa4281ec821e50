"""Starting the API emulator (:mod:`.server`) as a process of its own, outliving the one that
starts it, and stopping it: its TLS certificate and token, the ready file it writes its URL to,
and its log.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ApiServer:
    url: str
    ca_path: Path
    token: str
    pid: int
    log_path: Path


def start_apiserver(state_dir: Path, store_root: Path, cgroup: Path | None = None) -> ApiServer:
    """Start the emulator as a detached process (it outlives its parent) and wait for it.

    With ``cgroup``, the process enters that cgroup before it runs any Python (``sh`` moves
    itself, then execs), so a ``down`` that removes the sandbox's cgroups also ends an emulator
    whose PID never reached the state file.
    """
    from kubectl_userns.sandbox.certs import make_ca_and_server_cert

    state_dir.mkdir(parents=True, exist_ok=True)
    store_root.mkdir(parents=True, exist_ok=True)
    ca, cert, key = make_ca_and_server_cert(state_dir / "pki")
    token = os.urandom(24).hex()
    token_file = state_dir / "pki" / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    ready = state_dir / "apiserver.url"
    ready.unlink(missing_ok=True)
    log_path = state_dir / "apiserver.log"
    with open(log_path, "ab") as log:
        argv = [
            sys.executable,
            "-m",
            "kubectl_userns.sandbox.api.server",
            "--store",
            str(store_root),
            "--cert",
            str(cert),
            "--key",
            str(key),
            "--token-file",
            str(token_file),
            "--ready-file",
            str(ready),
        ]
        if cgroup is not None:
            cgroup.mkdir(parents=True, exist_ok=True)
            procs = shlex.quote(str(cgroup / "cgroup.procs"))
            argv = ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *argv]
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    deadline = time.monotonic() + 10
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the API emulator did not start; see {log_path}")
        time.sleep(0.01)
    return ApiServer(ready.read_text().strip(), ca, token, proc.pid, log_path)


def stop_apiserver(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(200):
        try:
            os.kill(pid, 0)
            done, _status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        except ChildProcessError:
            pass  # not our child: poll with kill(0) only
        except ProcessLookupError:
            return
        time.sleep(0.01)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
