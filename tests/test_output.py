"""kubectl's output contracts through the real CLI against the sandbox: --no-headers, -o name,
-o jsonpath, -o custom-columns, column names and gaps, colour on a terminal only."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from kubectl_userns.sandbox.cluster import Sandbox
from tests.cli import VENV_BIN, Run, run_cli
from tests.conftest import needs_root

HEADER_WORD = re.compile(r"[A-Z]+(-[A-Z]+)*")
GREEN_PASS = "\033[32mPASS\033[0m"
RED_FAIL = "\033[31mFAIL\033[0m"

pytestmark = needs_root


def cli(sandbox: Sandbox, *args: str, env: Mapping[str, str] | None = None) -> Run:
    return run_cli(list(args), env={**sandbox.env(), **(env or {})})


def tables(stdout: str) -> list[list[str]]:
    """The blocks of a table output (split at blank lines), as lines."""
    return [block.splitlines() for block in stdout.split("\n\n") if block.strip()]


@pytest.mark.parametrize(
    "args",
    [
        ["inspect", "testpod", "-o", "wide"],
        ["inspect", "hostpod"],
        ["audit", "-A", "-o", "wide"],
        ["verify-node", "wk2", "-o", "wide"],
    ],
)
def test_headers_are_kubectl_words_and_columns_have_3_space_gaps(
    sandbox: Sandbox, args: list[str]
) -> None:
    run = cli(sandbox, *args)
    assert run.exit_code in (0, 1), run.stderr
    for block in tables(run.stdout)[:-1]:  # the last block is the summary sentence
        if not block[0].isupper():
            continue  # a note such as "Fixes:"
        header = block[0]
        names = header.split()
        assert all(HEADER_WORD.fullmatch(n) for n in names), names
        # each column starts where its header starts, after 3 or more spaces
        starts = [m.start() for m in re.finditer(r"\S+", header)]
        for line in block:
            assert line == line.rstrip()
            for start in starts[1:]:
                assert line[start - 3 : start] == "   ", (line, start)


def test_no_headers_prints_only_rows_without_blanks_in_cells(sandbox: Sandbox) -> None:
    run = cli(sandbox, "inspect", "hostpod", "--no-headers")
    assert run.exit_code == 1
    rows = run.stdout.splitlines()
    assert len(rows) == 1 and "" not in rows  # CRI-O's conmon is in system.slice by default
    # awk '{print $2}' gives the PIDs, $3 the user: every cell but COMMAND is one word
    fields = [row.split() for row in rows]
    assert [f[0] for f in fields] == ["shell"]
    assert all(f[1].isdigit() for f in fields)
    assert fields[0][2] == "0(HOST-ROOT)"
    assert fields[0][5:7] == ["0:0:4294967295", "0:0:4294967295"]
    assert fields[0][7:] == ["sleep", "infinity"]
    # the summary (and nothing else) on stderr, as kubectl's "No resources found"
    assert run.stderr == "default/hostpod: NOT ISOLATED - 2 of 2 checks failed on node wk1\n"

    audit = cli(sandbox, "audit", "-A", "--no-headers")
    assert audit.exit_code == 1
    assert [line.split() for line in audit.stdout.splitlines()] == [
        ["default", "hostpod", "wk1", "true", "host", "1", "HOST-USERNS"],
        ["default", "testpod", "wk2", "false", "4980736-5046271", "0", "ISOLATED"],
        ["default", "web", "wk1", "false", "5177344-5242879", "0", "ISOLATED"],
    ]
    assert audit.stderr.startswith("audited 3 pod(s) on 2 node(s)")

    node = cli(sandbox, "verify-node", "wk2", "--no-headers")
    assert node.exit_code == 0
    first = node.stdout.splitlines()[0].split()
    assert first[:3] == ["node-os", "PASS", "api"]
    assert "Fixes:" not in node.stdout and node.stderr.startswith("node wk2: ready")


def test_output_name(sandbox: Sandbox) -> None:
    assert cli(sandbox, "inspect", "testpod", "-o", "name").stdout == "pod/testpod\n"
    run = cli(sandbox, "audit", "-A", "-o", "name")
    assert (run.stdout, run.stderr, run.exit_code) == (
        "pod/hostpod\npod/testpod\npod/web\n",
        "",
        1,
    )
    node = cli(sandbox, "verify-node", "wk2", "-o", "name")
    assert (node.stdout, node.exit_code) == ("node/wk2\n", 0)


def test_output_jsonpath_in_kubectls_dialect(sandbox: Sandbox) -> None:
    report = json.loads(cli(sandbox, "audit", "-A", "-o", "json").stdout)
    run = cli(sandbox, "audit", "-A", "-o", "jsonpath={.pods[*].name}")
    assert (run.stdout, run.exit_code) == ("hostpod testpod web", 1)
    assert run.stdout.split() == [p["name"] for p in report["pods"]]
    template = '{range .pods[*]}{.namespace}/{.name}{"\\t"}{.verdict}{"\\n"}{end}'
    table = cli(sandbox, "audit", "-A", "-o", f"jsonpath={template}")
    assert table.stdout == (
        "default/hostpod\tHOST USERNS\ndefault/testpod\tISOLATED\ndefault/web\tISOLATED\n"
    )
    failing = cli(sandbox, "inspect", "hostpod", "-o", 'jsonpath={.checks[?(@.status=="FAIL")].id}')
    assert failing.stdout == "user-namespace-requested no-host-root"
    # a missing key prints nothing (kubectl get's --allow-missing-template-keys=true)
    assert cli(sandbox, "inspect", "testpod", "-o", "jsonpath=x{.nope}y").stdout == "xy"
    # maps print as JSON; text outside braces as it is
    mapping = cli(sandbox, "inspect", "testpod", "-o", "jsonpath=map: {.mapping}")
    assert mapping.stdout == 'map: {"uidMap":"0 4980736 65536","hostRange":[4980736,5046271]}'


def test_output_custom_columns(sandbox: Sandbox, tmp_path: Path) -> None:
    run = cli(
        sandbox, "audit", "-A", "-o", "custom-columns=POD:.name,RANGE:{.hostRange[*]},X:.nope"
    )
    assert run.exit_code == 1
    assert run.stdout.splitlines() == [
        "POD       RANGE             X",
        "hostpod   <none>            <none>",
        "testpod   4980736,5046271   <none>",
        "web       5177344,5242879   <none>",
    ]
    checks = cli(
        sandbox, "verify-node", "wk2", "--no-headers", "-o", "custom-columns=ID:id,S:.status"
    )
    assert checks.stdout.splitlines()[0].split() == ["node-os", "PASS"]
    spec = tmp_path / "columns"
    spec.write_text("NAME   RESULT\n.pod.name   .summary.result\n")
    from_file = cli(sandbox, "inspect", "hostpod", "-o", f"custom-columns-file={spec}")
    assert from_file.stdout == "NAME      RESULT\nhostpod   FAIL\n"


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("jsonpath", "error: -o jsonpath needs a template: -o jsonpath='{.pod.name}'.\n"),
        ("jsonpath={.a", "error: -o jsonpath: unclosed action in '{.a': '{' without '}'.\n"),
        ("jsonpath={range .a}x", "error: -o jsonpath: {range .a} lacks its {end}.\n"),
        ("jsonpath={end}", "error: -o jsonpath: {end} without a {range ...} before it.\n"),
        (
            "custom-columns=NAME",
            "error: -o custom-columns: unexpected spec 'NAME', expected "
            "<header>:<json-path-expr>.\n",
        ),
        ("name=x", "error: -o name takes no template (got -o name=x).\n"),
    ],
)
def test_bad_templates_are_usage_errors_before_any_network_call(output: str, message: str) -> None:
    run = run_cli(["inspect", "testpod", "-o", output], env={"KUBECONFIG": "/nonexistent"})
    assert (run.stdout, run.stderr, run.exit_code) == ("", message, 2)


def _on_a_terminal(args: Sequence[str], env: Mapping[str, str]) -> str:
    """What ``kubectl-userns ARGS`` writes to a pseudo-terminal (its stdout is a tty)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [str(VENV_BIN / "kubectl-userns"), *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_only(sandbox: Sandbox) -> None:
    env = {k: v for k, v in sandbox.env().items()}
    env.pop("NO_COLOR", None)
    base = {**env, "TERM": "xterm", "NO_COLOR": ""}
    on_tty = _on_a_terminal(["inspect", "hostpod"], base)
    assert RED_FAIL in on_tty
    assert re.search(r"user-namespace-requested   \033\[31mFAIL\033\[0m +spec", on_tty)
    assert "\033" not in _on_a_terminal(["inspect", "hostpod"], {**base, "NO_COLOR": "1"})
    assert "\033" not in _on_a_terminal(["inspect", "hostpod", "--color", "never"], base)
    # in a pipe: never, unless asked for with --color always
    piped = subprocess.run(
        [str(VENV_BIN / "kubectl-userns"), "inspect", "testpod"],
        env={**os.environ, **base},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "\033" not in piped.stdout and "   PASS   " in piped.stdout
    forced = cli(sandbox, "verify-node", "wk2", "--color", "always")
    assert GREEN_PASS in forced.stdout
    # the colour codes do not shift the columns
    plain = cli(sandbox, "verify-node", "wk2")
    assert (
        forced.stdout.replace("\033[32m", "").replace("\033[33m", "").replace("\033[0m", "")
        == plain.stdout
    )
    bad = cli(sandbox, "inspect", "testpod", "--color", "sometimes")
    assert (bad.exit_code, bad.stderr) == (
        2,
        "error: --color sometimes: use auto, always or never.\n",
    )
