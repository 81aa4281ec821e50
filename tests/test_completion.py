"""Shell completion: the real kubectl runs the installed ``kubectl_complete-userns`` for
``kubectl userns <TAB>``, which answers from the commands' definitions and the sandbox's API."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
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
    app and the API layer imported costs ~0.35 s of CPU a call).
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
    # convert -f <TAB>: file names from the shell, not the words of the metavar FILE|DIR|-
    assert complete(["convert", "-f", ""], env) == ([], ":0")
    assert complete(["inspect", "--certificate-authority", ""], env) == ([], ":0")
    # a cluster that cannot be reached gives no candidates, and no error in the shell
    assert complete(["inspect", ""], env) == ([], ":4")


def test_descriptions_are_one_short_line() -> None:
    done = subprocess.run([str(COMPLETE), "inspect", "--"], capture_output=True, text=True)
    lines = done.stdout.splitlines()[:-1]
    assert (
        "--namespace\tNamespace of the pods (default: the context's namespace, else 'default')"
        in lines
    )
    assert "--help\tShow the help and exit" in lines
    assert all(len(line.split("\t", 1)[1]) <= 76 for line in lines)


@needs_root
def test_cluster_objects(sandbox: Sandbox) -> None:
    env = sandbox.env()
    assert complete(["inspect", ""], env, script=True) == (["hostpod", "testpod", "web"], ":4")
    assert complete(["inspect", "te"], env) == (["testpod"], ":4")
    # several pods: the ones not typed yet; -c: the pod's containers
    assert complete(["inspect", "testpod", ""], env) == (["hostpod", "web"], ":4")
    assert complete(["inspect", "web", "-c", ""], env) == (["nginx", "sidecar"], ":4")
    assert complete(["inspect", "-c", ""], env) == ([], ":4")  # no pod typed yet
    assert complete(["audit", "--cluster", ""], env) == (["sandbox"], ":4")
    # the API flags on the line choose the cluster: here a server that is not there
    assert complete(["inspect", "-s", "https://127.0.0.1:9", ""], env) == ([], ":4")
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


def test_an_api_that_does_not_answer_gives_no_candidates_and_no_hang(tmp_path: Path) -> None:
    """The API accepts connections and never answers: completion gives up after its deadline
    (about 2 s) with no candidates; the subprocess timeout is a hang guard, not a timing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    env = {"KUBECONFIG": str(path)}
    # the three waits run side by side: as kubectl runs it on TAB (kubectl itself waits about
    # 5 s for such an API before it calls the plugin: its own, not the plugin's), the installed
    # executable, and the entry point in this process
    through = None
    if shutil.which("kubectl") is not None:
        through = subprocess.Popen(
            ["kubectl", "__complete", "userns", "inspect", ""],
            env={**os.environ, **env, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    script = subprocess.Popen(
        [str(COMPLETE), "inspect", ""],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert complete(["inspect", "web", "-c", ""], env) == ([], ":4")
        out, err = script.communicate(timeout=30)
        assert (script.returncode, out) == (0, ":4\n"), err
        if through is not None:
            out, err = through.communicate(timeout=30)
            assert (through.returncode, out) == (0, ":4\n"), err
    finally:
        for proc in (script, through):
            if proc is not None:
                proc.kill()
                proc.communicate()
        listener.close()


@needs_root
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_kubectl_completes_containers_and_files(sandbox: Sandbox, tmp_path: Path) -> None:
    env = {**os.environ, **sandbox.env()}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env['PATH']}"

    def kubectl_complete(*words: str) -> tuple[str, str]:
        done = subprocess.run(
            ["kubectl", "__complete", "userns", *words],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout, done.stderr

    out, _ = kubectl_complete("inspect", "web", "-c", "")
    assert out == "nginx\nsidecar\n:4\n"
    out, err = kubectl_complete("convert", "-f", "")
    assert out == ":0\n"  # the shell completes file names
    assert "ShellCompDirectiveDefault" in err
