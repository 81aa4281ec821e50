"""Shell completion: the real kubectl runs the installed ``kubectl_complete-userns`` for
``kubectl userns <TAB>``, which answers from the commands' definitions and the sandbox's API."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from unittest import mock

import pytest

from kubectl_userns.cli.completion import main
from kubectl_userns.sandbox.cluster import Sandbox
from tests.cli import VENV_BIN
from tests.conftest import needs_root

COMPLETE = VENV_BIN / "kubectl_complete-userns"


def complete(
    words: Sequence[str], env: Mapping[str, str] | None = None, *, script: bool = False
) -> tuple[list[str], str]:
    """Candidates (without descriptions) and the directive line of ``kubectl_complete-userns``.

    With ``script`` the installed executable runs, as kubectl runs it; otherwise its entry point
    runs in this process with the same arguments and environment (a new Python with the typer
    app and the kubernetes client imported costs ~0.5 s of CPU a call).
    """
    if script:
        done = subprocess.run(
            [str(COMPLETE), *words],
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        code, stdout, stderr = done.returncode, done.stdout, done.stderr
    else:
        out, err = io.StringIO(), io.StringIO()
        with (
            mock.patch.dict(os.environ, env or {}),
            mock.patch.object(sys, "argv", [str(COMPLETE), *words]),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            main()
        code, stdout, stderr = 0, out.getvalue(), err.getvalue()
    assert (code, stderr) == (0, ""), stderr
    *lines, directive = stdout.splitlines()
    return [line.split("\t", 1)[0] for line in lines], directive


def test_commands_flags_and_choices_need_no_cluster() -> None:
    env = {"KUBECONFIG": "/nonexistent/kubeconfig"}
    assert complete([""], env, script=True) == (
        ["audit", "convert", "inspect", "new-pod", "plan", "sandbox", "verify-node", "version"],
        ":4",
    )
    assert complete(["sandbox", ""], env) == (["down", "env", "up"], ":4")
    formats = ["table", "wide", "json", "yaml", "name", "jsonpath=", "jsonpath-file="]
    formats += ["custom-columns=", "custom-columns-file="]
    # the template formats end in '=': no space after them (directive 4 + 2)
    assert complete(["inspect", "-o", ""], env) == (formats, ":6")
    assert complete(["inspect", "-o", "w"], env) == (["wide"], ":4")
    assert complete(["audit", "--output=j"], env) == (
        ["--output=json", "--output=jsonpath=", "--output=jsonpath-file="],
        ":6",
    )
    assert complete(["inspect", "--color", ""], env) == (["auto", "always", "never"], ":4")
    assert complete(["inspect", "--via", ""], env) == (["ssh", "pod"], ":4")
    assert complete(["new-pod", "--kind", "d"], env) == (["deployment", "daemonset"], ":4")
    flags, directive = complete(["verify-node", "--ssh-a"], env)
    assert (flags, directive) == (["--ssh-address-type", "--ssh-accept-new"], ":4")
    # file arguments are left to the shell (directive 0)
    assert complete(["inspect", "--ssh-key", ""], env) == ([], ":0")
    assert complete(["convert", ""], env) == ([], ":0")
    # a cluster that cannot be reached gives no candidates, and no error in the shell
    assert complete(["inspect", ""], env) == ([], ":4")


def test_descriptions_are_one_short_line() -> None:
    done = subprocess.run([str(COMPLETE), "inspect", "--"], capture_output=True, text=True)
    lines = done.stdout.splitlines()[:-1]
    assert (
        "--namespace\tNamespace of the pod (default: the context's namespace, else 'default')"
        in lines
    )
    assert "--help\tShow the help and exit" in lines
    assert all(len(line.split("\t", 1)[1]) <= 76 for line in lines)


@needs_root
def test_cluster_objects(sandbox: Sandbox) -> None:
    env = sandbox.env()
    assert complete(["inspect", ""], env, script=True) == (["hostpod", "testpod", "web"], ":4")
    assert complete(["inspect", "te"], env) == (["testpod"], ":4")
    assert complete(["inspect", "testpod", ""], env) == ([], ":4")  # one pod only
    assert complete(["inspect", "-n", "kube-system", ""], env) == ([], ":4")
    assert complete(["verify-node", "-o", "json", ""], env) == (["wk1", "wk2"], ":4")
    assert complete(["audit", "--node", "wk"], env) == (["wk1", "wk2"], ":4")
    namespaces, _ = complete(["audit", "-n", ""], env)
    assert "default" in namespaces and "kube-system" in namespaces
    contexts, _ = complete(["inspect", "--context", ""], env)
    assert contexts == ["sandbox"]


@needs_root
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_kubectl_runs_the_completion_executable(sandbox: Sandbox) -> None:
    env = {**os.environ, **sandbox.env()}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["kubectl", "__complete", "userns", "inspect", "t"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "testpod\n:4\n"
    assert "Completion ended with directive: ShellCompDirectiveNoFileComp" in done.stderr
