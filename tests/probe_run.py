"""Run a node probe by hand inside a sandbox node, as the SSH runner feeds it (``sh -s``), with
the commands it starts logged by PATH wrappers: for the tests of what a probe costs."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from kubectl_userns.probe import load_script
from kubectl_userns.sandbox.cluster import Sandbox

# tools the probes may start; each found on this machine is wrapped
TOOLS = (
    *("ls", "head", "tr", "readlink", "cat", "getsubids", "id", "sed", "cut", "grep", "stat"),
    *("getent", "uname", "env", "base64"),
)


def run_probe(
    cluster: Sandbox, node: str, script: str, args: Sequence[str], path: str
) -> tuple[int, bytes, bytes]:
    """Run probe ``script`` with ``args`` in ``node``'s namespaces with ``PATH=path``."""
    enter = ["nsenter", "-t", str(cluster.nodes[node].init_pid), "-m", "-p", "-u", "-i", "-C"]
    done = subprocess.run(
        [*enter, "--", "/usr/bin/env", f"PATH={path}", "sh", "-s", "--", *args],
        input=load_script(script).encode(),
        capture_output=True,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def logged_run(
    cluster: Sandbox, node: str, script: str, args: Sequence[str], wrappers: Path
) -> tuple[list[str], str]:
    """The commands ``script`` starts (in order, as the wrappers in ``wrappers`` logged them) and
    its output; the probe must succeed and end its output."""
    log = wrappers / "log"
    log.write_text("")
    for name in TOOLS:
        real = shutil.which(name)
        if real is not None:
            (wrappers / name).write_text(f'#!/bin/sh\necho {name} >> {log}\nexec {real} "$@"\n')
            (wrappers / name).chmod(0o755)
    code, out, err = run_probe(
        cluster, node, script, args, f"{wrappers}:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    )
    assert (code, err) == (0, b"")
    assert out.endswith(b"\nend\n")
    return log.read_text().split(), out.decode()
