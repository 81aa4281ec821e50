"""The CLI frame: help, version, flag validation before any network call, error boundary."""

from __future__ import annotations

import shutil

import pytest

from kubectl_userns import __version__
from tests.cli import run_cli, run_process


def test_help_lists_every_command_and_reads_as_kubectl_userns() -> None:
    run = run_cli(["--help"])
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith("Usage: kubectl userns ")
    for command in ("inspect", "verify-node", "new-pod", "convert"):
        assert f"  {command} " in run.stdout
    assert run.stderr == ""


@pytest.mark.parametrize("command", ["inspect", "verify-node", "new-pod", "convert"])
def test_every_command_has_help_with_examples(command: str) -> None:
    run = run_cli([command, "-h"])
    assert run.exit_code == 0, run.stderr
    assert f"Usage: kubectl userns {command}" in run.stdout
    assert "Examples:\n    kubectl userns " in run.stdout, run.stdout


def test_version() -> None:
    run = run_cli(["--version"])
    assert (run.stdout, run.stderr, run.exit_code) == (f"kubectl-userns {__version__}\n", "", 0)


def test_no_command_prints_help_on_stdout_like_kubectl() -> None:
    run = run_process([])
    assert (run.exit_code, run.stderr) == (0, "")
    assert run.stdout.startswith("Usage: kubectl userns [OPTIONS] COMMAND [ARGS]...")
    assert "  version " in run.stdout


def test_version_command_names_what_a_bug_report_needs() -> None:
    import json
    import platform
    from importlib import metadata

    run = run_process(["version"])
    assert (run.exit_code, run.stderr) == (0, "")
    lines = run.stdout.splitlines()
    assert lines[0] == f"kubectl-userns {__version__}"
    assert lines[1].startswith(f"Python {platform.python_version()} (")
    for name in ("typer", "paramiko", "jsonpath-ng", "PyYAML"):
        assert f"{name} {metadata.version(name)}" in lines, run.stdout
    data = json.loads(run_process(["version", "-o", "json"]).stdout)
    assert data["kubectlUserns"] == __version__
    assert data["libraries"]["paramiko"] == metadata.version("paramiko")
    assert "kubernetes" not in data["libraries"]  # the program no longer uses the client


def test_conflicting_flags_are_named_before_any_network_call(tmp_path: object) -> None:
    # no kubeconfig exists at this path: the flag check must come first
    run = run_cli(
        ["inspect", "testpod", "--local", "--ssh-port", "2222"],
        env={"KUBECONFIG": "/nonexistent/kubeconfig"},
    )
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr == (
        "error: --local cannot be used with --ssh-port: --local reads this machine directly, "
        "without SSH.\n"
    )


def test_unknown_output_format_is_a_usage_error() -> None:
    run = run_cli(["inspect", "testpod", "-o", "xml"])
    assert run.exit_code == 2
    assert run.stderr.startswith("error: -o xml: unknown output format; use one of table, wide,")
    assert run.stdout == ""


def test_no_headers_with_json_is_refused() -> None:
    run = run_cli(["inspect", "testpod", "-o", "json", "--no-headers"])
    assert run.exit_code == 2
    assert run.stderr.startswith("error: --no-headers only applies to table output")


def test_console_script_and_kubectl_plugin_discovery() -> None:
    run = run_process(["--help"])
    assert run.exit_code == 0 and run.stdout.startswith("Usage: kubectl userns ")
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not on PATH")
    via = run_process(["--help"], via_kubectl=True)
    assert via.exit_code == 0, via.stderr
    assert via.stdout == run.stdout


def test_help_does_not_import_kubernetes_or_paramiko() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from kubectl_userns.cli.app import app\n"
        "try:\n    app(['--help'], prog_name='kubectl userns')\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('kubernetes', 'paramiko', 'cryptography', 'urllib3'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert "HEAVY []" in done.stderr, done.stderr


def test_ctrl_c_while_the_program_starts_is_one_error_line() -> None:
    import subprocess
    import sys

    # a real SIGINT, sent by the process to itself when the console script's entry point starts
    # importing the program (the event, not a time): the interrupt lands inside that import
    code = (
        "import os, signal, sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'kubectl_userns.cli.app':\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "sys.argv = ['kubectl-userns', 'version']\n"
        "from kubectl_userns.cli.entry import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (130, ""), done.stderr
    assert done.stderr == "error: interrupted; nothing was changed on any node.\n"


def test_the_ssh_layer_starts_without_invoke() -> None:
    import subprocess
    import sys

    # paramiko's config module imports invoke only for Match exec, which the tool refuses
    # (access/__init__.py blocks it: ~70 ms of every SSH command's start); paramiko still parses
    code = (
        "import sys\n"
        "from kubectl_userns.access.ssh import SSHRunner\n"
        "import paramiko\n"
        "parsed = paramiko.SSHConfig.from_text('Host n1\\n  Port 2222\\n')\n"
        "loaded = sys.modules.get('invoke') is not None\n"
        "print(parsed.lookup('n1')['port'], loaded, 'unittest.mock' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "2222 False False\n", "")
