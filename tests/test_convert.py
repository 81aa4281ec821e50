"""`kubectl userns convert` through the CLI, on real manifest files."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_userns.errors import UsernsError
from kubectl_userns.manifests.convert import convert, pod_specs, render
from kubectl_userns.manifests.sources import parse
from tests import psa
from tests.cli import Run
from tests.cli import run_cli as _run_cli
from tests.schemas import assert_valid_everywhere

DATA = Path(__file__).parent / "data" / "convert"


def run_cli(args: list[str]) -> Run:
    """Run convert; every output it writes is checked against the 1.30-1.37 schemas and the
    Pod Security rules (issue 15 item 7) before the test looks at it."""
    run = _run_cli(args)
    if run.exit_code == 0 and run.stdout:
        check_output(run.stdout)
    return run


def added_and_removed(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))
    added = [d[1:] for d in diff if d.startswith("+") and not d.startswith("+++")]
    removed = [d[1:] for d in diff if d.startswith("-") and not d.startswith("---")]
    return added, removed


def test_multi_document_file_with_comments_changes_only_host_users_lines() -> None:
    source = (DATA / "app.yaml").read_text()
    run = run_cli(["convert", "-f", str(DATA / "app.yaml")])
    assert run.exit_code == 0, run.stderr
    added, removed = added_and_removed(source, run.stdout)
    assert removed == []
    assert added == ["      hostUsers: false", "          hostUsers: false"]
    assert run.stderr == "set hostUsers: false in 2 pod specs\n"
    docs = [d for d in yaml.safe_load_all(run.stdout) if d]
    assert [d["kind"] for d in docs] == ["Deployment", "Service", "CronJob", "Pod"]
    assert docs[0]["spec"]["template"]["spec"]["hostUsers"] is False
    assert docs[2]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["hostUsers"] is False
    assert "hostUsers" not in docs[1]["spec"]


def test_each_conflict_is_reported_with_its_path_and_nothing_is_written() -> None:
    run = run_cli(["convert", "-f", str(DATA / "conflicts.yaml")])
    assert (run.exit_code, run.stdout) == (1, "")
    prefix = "items[0].spec.template.spec"
    for level, path in [
        ("ERROR", f"{prefix}.hostNetwork"),
        ("ERROR", f"{prefix}.containers[0].volumeDevices"),
        ("ERROR", f"{prefix}.volumes[0].nfs"),
        ("WARN", f"{prefix}.volumes[1].hostPath"),
        ("WARN", f"{prefix}.containers[0].securityContext.privileged"),
        ("INFO", "items[1].spec.containers[0].securityContext.procMount"),
        ("WARN", "items[1].spec.hostUsers"),
    ]:
        obj = "DaemonSet/agent" if path.startswith(prefix) else "Pod/explicit"
        assert f"{level}: {DATA / 'conflicts.yaml'}: {obj} {path}: " in run.stderr, path
    assert run.stderr.endswith(
        "error: 3 conflict(s) would make the API or the runtime reject these objects with "
        "hostUsers: false; fix them or use --force. Nothing was written.\n"
    )


def test_force_writes_and_turns_explicit_true_into_false() -> None:
    source = (DATA / "conflicts.yaml").read_text()
    run = run_cli(["convert", "-f", str(DATA / "conflicts.yaml"), "--force"])
    assert run.exit_code == 0
    added, removed = added_and_removed(source, run.stdout)
    assert added == ["        hostUsers: false", "    hostUsers: false"]
    assert removed == ["    hostUsers: true"]


def test_directories_json_and_output_format(tmp_path: Path) -> None:
    tree = tmp_path / "manifests" / "nested"
    tree.mkdir(parents=True)
    shutil.copy(DATA / "pod.json", tree / "pod.json")
    shutil.copy(DATA / "app.yaml", tmp_path / "manifests" / "app.yaml")
    (tmp_path / "manifests" / "README.txt").write_text("not a manifest")
    run = run_cli(["convert", "-f", str(tmp_path / "manifests"), "-o", "json"])
    assert run.exit_code == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["kind"] == "List"
    assert [item["kind"] for item in data["items"]] == [
        "Deployment",
        "Service",
        "CronJob",
        "Pod",
        "Pod",
    ]
    assert data["items"][4]["spec"]["hostUsers"] is False
    single = run_cli(["convert", "-f", str(DATA / "pod.json")])
    assert json.loads(single.stdout)["spec"] == {
        "hostUsers": False,
        "containers": [{"name": "c", "image": "debian"}],
    }


def test_stdin() -> None:
    from typer.testing import CliRunner

    from kubectl_userns.cli.app import PROG, app

    result = CliRunner().invoke(
        app, ["convert", "-f", "-"], prog_name=PROG, input=(DATA / "app.yaml").read_text()
    )
    assert result.exit_code == 0
    assert result.stdout.count("hostUsers: false") == 3


def test_malformed_yaml_names_file_and_line() -> None:
    path = DATA / "broken.yaml.txt"
    run = run_cli(["convert", "-f", str(path)])
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == (
        f"error: {path}: not valid YAML at line 9 (expected ',' or ']', but got "
        "'<stream end>'); fix the file.\n"
    )


def test_missing_file(tmp_path: Path) -> None:
    run = run_cli(["convert", "-f", str(tmp_path / "nope.yaml")])
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == (
        f"error: {tmp_path / 'nope.yaml'}: no such file or directory; pass -f FILE, DIR or -.\n"
    )


# --- issue 15: a convert that never lies ----------------------------------------------------

POD = """apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
{fields}  containers:
  - name: c
    image: debian
"""


def kubectl_reads(text: str) -> list[Any]:
    """The objects as kubectl reads them: go-yaml v2 rules (the reader convert itself uses, in
    kubectl_userns.manifests.yamlread); JSON when the text starts with '{'."""
    return parse("<out>", text).objects


def host_users(text: str) -> list[Any]:
    return [spec.get("hostUsers", "<absent>") for o in kubectl_reads(text) for _, _, spec in
            pod_specs(o)]  # fmt: skip


def check_output(stdout: str) -> list[tuple[str, dict[tuple[int, int], tuple[bool, bool]]]]:
    """Issue 15 item 7: every object of a convert output is valid for the OpenAPI schemas of
    1.30-1.37; returns each pod spec's Pod Security verdicts (baseline, restricted) per version."""
    verdicts = []
    for obj in kubectl_reads(stdout):
        if not (isinstance(obj, dict) and "kind" in obj and "apiVersion" in obj):
            continue  # no Kubernetes object (kubectl would refuse it): nothing to validate
        assert_valid_everywhere(obj)
        for label, _, spec in pod_specs(obj):
            verdicts.append(
                (
                    label,
                    {
                        v: (
                            psa.evaluate(spec, "baseline", v).allowed,
                            psa.evaluate(spec, "restricted", v).allowed,
                        )
                        for v in psa.POLICY_VERSIONS
                    },
                )
            )
    return verdicts


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


TRUE_SPELLINGS = ["yes", "Yes", "YES", "on", "On", "ON", "y", "Y", "true", "True", "TRUE"]
FALSE_SPELLINGS = ["no", "No", "NO", "off", "Off", "OFF", "n", "N", "False", "FALSE"]


@pytest.mark.parametrize("spelling", TRUE_SPELLINGS)
def test_true_in_any_yaml_11_spelling_is_kept_without_force(tmp_path: Path, spelling: str) -> None:
    """Item 2: no second key above it (kubectl keeps the last, so the pod stayed in the host
    namespace while the tool said it converted it)."""
    source = POD.format(fields=f"  hostUsers: {spelling}\n")
    path = write(tmp_path, source)
    run = run_cli(["convert", "-f", str(path)])
    assert (run.stdout, run.exit_code) == (source, 0)
    assert run.stderr == (
        f"WARN: {path}: Pod/p spec.hostUsers: explicitly true; left as it is unless --force is "
        "given\nset hostUsers: false in 0 pod specs\n"
    )
    assert host_users(run.stdout) == [True]


@pytest.mark.parametrize("spelling", TRUE_SPELLINGS)
def test_force_replaces_true_in_place_in_any_spelling(tmp_path: Path, spelling: str) -> None:
    source = POD.format(fields=f"  hostUsers: {spelling}\n")
    run = run_cli(["convert", "-f", str(write(tmp_path, source)), "--force"])
    assert (run.stderr, run.exit_code) == ("set hostUsers: false in 1 pod spec\n", 0)
    assert run.stdout == source.replace(f"hostUsers: {spelling}", "hostUsers: false")
    assert host_users(run.stdout) == [False]
    assert yaml.safe_load(run.stdout)["spec"]["hostUsers"] is False  # PyYAML agrees
    check_output(run.stdout)


@pytest.mark.parametrize("spelling", FALSE_SPELLINGS)
def test_false_in_another_spelling_is_written_false(tmp_path: Path, spelling: str) -> None:
    source = POD.format(fields=f"  hostUsers: {spelling}\n")
    path = write(tmp_path, source)
    run = run_cli(["convert", "-f", str(path)])
    assert run.exit_code == 0
    assert run.stdout == source.replace(f"hostUsers: {spelling}", "hostUsers: false")
    assert run.stderr == (
        f"INFO: {path}: Pod/p spec.hostUsers: kubectl reads it as false, YAML 1.2 tools may not; "
        "written as false\nset hostUsers: false in 0 pod specs\n"
    )


@pytest.mark.parametrize("value", ["", " ~", " null", " Null", " NULL"])
def test_null_is_replaced_in_place(tmp_path: Path, value: str) -> None:
    source = POD.format(fields=f"  hostUsers:{value}\n")
    run = run_cli(["convert", "-f", str(write(tmp_path, source))])
    assert (run.stderr, run.exit_code) == ("set hostUsers: false in 1 pod spec\n", 0)
    assert run.stdout == source.replace(f"hostUsers:{value}", "hostUsers: false")
    assert host_users(run.stdout) == [False]


@pytest.mark.parametrize(
    ("value", "described"),
    [('"false"', "the string 'false'"), ("'true'", "the string 'true'"),
     ("maybe", "the string 'maybe'"), ("0", "int 0"), ("!!str yes", "the string 'yes'"),
     ("[false]", "list [False]")],
)  # fmt: skip
def test_a_value_that_is_no_boolean_is_a_conflict(
    tmp_path: Path, value: str, described: str
) -> None:
    source = POD.format(fields=f"  hostUsers: {value}\n")
    path = write(tmp_path, source)
    run = run_cli(["convert", "-f", str(path)])
    assert (run.stdout, run.exit_code) == ("", 1)
    assert run.stderr == (
        f"ERROR: {path}: Pod/p spec.hostUsers: is {described}, which the API rejects (it must "
        "be true or false); --force writes false\n"
        "error: 1 conflict(s) would make the API or the runtime reject these objects with "
        "hostUsers: false; fix them or use --force. Nothing was written.\n"
    )
    forced = run_cli(["convert", "-f", str(path), "--force"])
    assert forced.exit_code == 0
    assert forced.stdout == source.replace(f"hostUsers: {value}", "hostUsers: false")
    assert host_users(forced.stdout) == [False]


def test_duplicate_keys_kubectl_reads_the_last(tmp_path: Path) -> None:
    shadowed = POD.format(fields="  hostUsers: false\n  hostUsers: on\n")
    path = write(tmp_path, shadowed)
    run = run_cli(["convert", "-f", str(path)])
    assert (run.stdout, run.exit_code) == (shadowed, 0)
    assert "explicitly true; left as it is" in run.stderr
    forced = run_cli(["convert", "-f", str(path), "--force"])
    assert forced.stdout == POD.format(fields="  hostUsers: false\n  hostUsers: false\n")
    assert forced.stderr == (
        f"INFO: {path}: Pod/p spec.hostUsers: given 2 times (lines 6, 7; kubectl reads the "
        "last); all set\nset hostUsers: false in 1 pod spec\n"
    )
    already = write(tmp_path, POD.format(fields="  hostUsers: yes\n  hostUsers: false\n"), "b.yaml")
    run = run_cli(["convert", "-f", str(already)])
    assert run.stdout == POD.format(fields="  hostUsers: false\n  hostUsers: false\n")
    assert run.stderr.endswith("set hostUsers: false in 0 pod specs\n")


def test_flow_mappings_and_aliases(tmp_path: Path) -> None:
    source = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: Pod, metadata: {name: a}, spec: &s {containers: "
        "[{name: c, image: d}]}}\n"
        "- {apiVersion: v1, kind: Pod, metadata: {name: b}, spec: *s}\n"
    )
    run = run_cli(["convert", "-f", str(write(tmp_path, source))])
    assert (run.stderr, run.exit_code) == ("set hostUsers: false in 2 pod specs\n", 0)
    assert run.stdout == source.replace("&s {containers", "&s {hostUsers: false, containers")
    assert host_users(run.stdout) == [False, False]
    check_output(run.stdout)


def test_windows_pods_are_reported_not_edited(tmp_path: Path) -> None:
    """Item 3."""
    source = POD.format(fields="  os:\n    name: windows\n")
    path = write(tmp_path, source)
    run = run_cli(["convert", "-f", str(path)])
    assert (run.stdout, run.exit_code) == (source, 0)
    assert run.stderr == (
        f"WARN: {path}: Pod/p spec.os.name: a Windows pod cannot have hostUsers (the API rejects "
        "it for spec.os.name: windows); left as it is\nset hostUsers: false in 0 pod specs\n"
    )
    assert host_users(run.stdout) == ["<absent>"]
    check_output(run.stdout)


def test_host_network_names_the_alpha_gate_and_force_proceeds(tmp_path: Path) -> None:
    """Item 4."""
    source = POD.format(fields="  hostNetwork: true\n")
    path = write(tmp_path, source)
    run = run_cli(["convert", "-f", str(path)])
    assert (run.stdout, run.exit_code) == ("", 1)
    assert run.stderr.startswith(
        f"ERROR: {path}: Pod/p spec.hostNetwork: the API rejects it together with hostUsers: "
        "false, unless the cluster (1.35+) enables the alpha feature gate "
        "UserNamespacesHostNetworkSupport; --force writes hostUsers: false anyway\nerror: 1 "
    )
    forced = run_cli(["convert", "-f", str(path), "--force"])
    assert forced.exit_code == 0
    assert forced.stdout == POD.format(fields="  hostUsers: false\n  hostNetwork: true\n")
    assert forced.stderr.endswith("set hostUsers: false in 1 pod spec\n")
    # Pod Security baseline forbids hostNetwork at every version, gate or not
    ((_, verdicts),) = check_output(forced.stdout)
    assert {v: b for v, (b, _) in verdicts.items()} == dict.fromkeys(psa.POLICY_VERSIONS, False)


def test_unmasked_proc_mount_passes_baseline_from_1_35(tmp_path: Path) -> None:
    """convert output judged by the Pod Security rules per version: procMount Unmasked with
    hostUsers: false is baseline from policy v1.35, restricted never."""
    source = POD.format(fields="").replace(
        "    image: debian\n", "    image: debian\n    securityContext: {procMount: Unmasked}\n"
    )
    run = run_cli(["convert", "-f", str(write(tmp_path, source))])
    assert run.exit_code == 0
    assert "Pod Security baseline allows it for such pods from policy v1.35" in run.stderr
    ((_, verdicts),) = check_output(run.stdout)
    assert verdicts == {v: (v >= (1, 35), False) for v in psa.POLICY_VERSIONS}


def test_each_file_once(tmp_path: Path) -> None:
    """Item 5: -f a -f a, -f dir -f dir/a and a symbolic link are one file."""
    folder = tmp_path / "dir"
    folder.mkdir()
    path = write(folder, POD.format(fields=""), "a.yaml")
    (folder / "link.yaml").symlink_to(path)
    for args in (["-f", str(path), "-f", str(path)], ["-f", str(folder), "-f", str(path)]):
        run = run_cli(["convert", *args])
        assert (run.stderr, run.exit_code) == ("set hostUsers: false in 1 pod spec\n", 0)
        assert run.stdout == POD.format(fields="  hostUsers: false\n")


def test_unreadable_directory_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "dir" / "secret"
    folder.mkdir(parents=True)
    write(folder, POD.format(fields=""), "a.yaml")
    folder.chmod(0)
    try:
        # root reads any directory: drop the capabilities that let it (setpriv, util-linux)
        done = subprocess.run(
            ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
             str(Path(sys.executable).parent / "kubectl-userns"), "convert", "-f",
             str(tmp_path / "dir")],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
    finally:
        folder.chmod(0o755)
    assert (done.stdout, done.returncode) == ("", 2)
    assert done.stderr == f"error: {folder}: cannot read this directory (Permission denied).\n"


def test_fifo_is_read(tmp_path: Path) -> None:
    fifo = tmp_path / "in.yaml"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "w") as pipe:
            pipe.write(POD.format(fields=""))

    writer = threading.Thread(target=feed)
    writer.start()
    run = run_cli(["convert", "-f", str(fifo), "-f", str(fifo)])  # read once, not waited on twice
    writer.join()
    assert (run.stdout, run.stderr, run.exit_code) == (
        POD.format(fields="  hostUsers: false\n"),
        "set hostUsers: false in 1 pod spec\n",
        0,
    )


def test_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        run = run_cli(["convert", "-f", str(path)])
    assert (run.stdout, run.exit_code) == ("", 2)
    assert run.stderr == f"error: {path}: not a file, directory or pipe; pass -f FILE, DIR or -.\n"


def laughs(levels: int) -> str:
    lines = ['a0: &a0 "lol"']
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("output", [[], ["-o", "json"]])
def test_billion_laughs_is_refused_at_once(tmp_path: Path, output: list[str]) -> None:
    path = write(tmp_path, laughs(10))  # 10^9 strings when expanded
    run = run_cli(["convert", "-f", str(path), *output])
    assert (run.stdout, run.exit_code) == ("", 2)
    assert run.stderr == (
        f"error: {path}: its aliases expand to more than 100000 nodes (line 6); a YAML bomb is "
        "not read, expand them by hand.\n"
    )
    small = run_cli(["convert", "-f", str(write(tmp_path, laughs(4), "ok.yaml")), "-o", "json"])
    assert small.exit_code == 0 and len(json.loads(small.stdout)["a3"]) == 10


@pytest.mark.parametrize(
    ("text", "suffix"),
    [("x: " + "[" * 100_000, ".yaml"), ("- " * 5000 + "x\n", ".yaml"),
     ("x:\n " + "[ " * 5000, ".yaml"), ("x: " + "{a: " * 5000, ".yaml"),
     ("{\"a\": " * 100_000 + "1" + "}" * 100_000, ".json"), ('{"a": ' * 300 + "1" + "}" * 300,
                                                             ".json")],
)  # fmt: skip
def test_deep_nesting_is_one_error_line(tmp_path: Path, text: str, suffix: str) -> None:
    """Issue 14 item 10: no RecursionError traceback."""
    path = write(tmp_path, text, "deep" + suffix)
    run = run_cli(["convert", "-f", str(path)])
    assert (run.stdout, run.exit_code) == ("", 2)
    assert run.stderr.startswith(f"error: {path}: nested more than 200 levels deep")
    assert run.stderr.count("\n") == 1


def test_json_on_stdin_gives_json(tmp_path: Path) -> None:
    pod = json.loads((DATA / "pod.json").read_text())
    run = run_cli_input(["convert", "-f", "-"], json.dumps(pod) + json.dumps(pod))
    assert run.exit_code == 0
    data = json.loads(run.stdout)
    assert [item["spec"]["hostUsers"] for item in data["items"]] == [False, False]
    check_output(run.stdout)
    as_yaml = run_cli_input(["convert", "-f", "-", "-o", "yaml"], json.dumps(pod))
    assert as_yaml.stdout == (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: c\nspec:\n  hostUsers: false\n"
        "  containers:\n  - name: c\n    image: debian\n"
    ).replace("name: c\nspec", f"name: {pod['metadata']['name']}\nspec")


def test_json_numbers_out_of_range_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '{"apiVersion": "v1", "kind": "Pod", "x": 1e400}', "n.json")
    run = run_cli(["convert", "-f", str(path)])
    assert (run.stdout, run.exit_code) == ("", 2)
    assert (
        run.stderr
        == f"error: {path}: not valid JSON at line 1 (1e400 is out of range); fix the file.\n"
    )


def run_cli_input(args: list[str], stdin: str) -> Run:
    from typer.testing import CliRunner

    from kubectl_userns.cli.app import PROG, app

    result = CliRunner().invoke(app, args, prog_name=PROG, input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if result.exit_code == 0 and result.stdout:
        check_output(result.stdout)
    return Run(result.stdout, result.stderr, result.exit_code)


def test_existing_test_outputs_pass_the_schemas_and_psa() -> None:
    run = run_cli(["convert", "-f", str(DATA / "app.yaml")])
    verdicts = dict(check_output(run.stdout))
    # hostUsers: false alone: baseline at every version, restricted at none (no seccomp etc.)
    assert verdicts["Deployment/web"] == dict.fromkeys(psa.POLICY_VERSIONS, (True, False))
    forced = run_cli(["convert", "-f", str(DATA / "conflicts.yaml"), "--force"])
    verdicts = dict(check_output(forced.stdout))
    assert verdicts["Pod/explicit"] == {v: (v >= (1, 35), False) for v in psa.POLICY_VERSIONS}
    assert verdicts["DaemonSet/agent"] == dict.fromkeys(psa.POLICY_VERSIONS, (False, False))


def real_kubectl_reads(path: Path) -> list[Any]:
    """hostUsers of every pod as the real kubectl reads the file (kubectl label --local reads
    it with the same decoder as apply, and needs no cluster)."""
    done = subprocess.run(
        ["kubectl", "label", "--local", "-f", str(path), "read=1", "-o", "json"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    items, at, decoder = [], 0, json.JSONDecoder()
    while done.stdout[at:].strip():  # one JSON object per document, one after the other
        at += len(done.stdout[at:]) - len(done.stdout[at:].lstrip())
        item, at = decoder.raw_decode(done.stdout, at)
        items.append(item)
    return [item["spec"].get("hostUsers", "<absent>") for item in items]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_real_kubectl_reads_what_convert_reads_and_writes(tmp_path: Path) -> None:
    """Item 2 against the real kubectl: its reading of every spelling, null and duplicate keys
    is convert's, and after convert --force it reads hostUsers: false in every pod."""
    fields = [
        *(f"  hostUsers: {v}\n" for v in [*TRUE_SPELLINGS, *FALSE_SPELLINGS, "~", "", "null"]),
        "  hostUsers: false\n  hostUsers: on\n",
        "  hostUsers: yes\n  hostUsers: false\n",
        '  hostUsers: "false"\n',
        "",
    ]
    docs = [POD.format(fields=f).replace("name: p", f"name: p{i}") for i, f in enumerate(fields)]
    source = write(tmp_path, "---\n".join(docs))
    assert real_kubectl_reads(source) == host_users(source.read_text())
    run = run_cli(["convert", "-f", str(source), "--force"])
    assert run.exit_code == 0, run.stderr
    converted = write(tmp_path, run.stdout, "out.yaml")
    assert real_kubectl_reads(converted) == [False] * len(docs)


# --- property tests: any input gives a result or one named domain error ----------------------

YAMLISH = st.text(alphabet=st.sampled_from(list("{}[],:-?&*!|>'\"%@`#~<\n\t abyesonTruex01F._")),
                  max_size=200)  # fmt: skip
VALUES = st.sampled_from([*TRUE_SPELLINGS, *FALSE_SPELLINGS, "", "~", "null", '"false"',
                          "1", "[x]", "{a: b}", "&h true", "*h", "!!bool yes",
                          "|\n    true"])  # fmt: skip


def _convert_text(text: str, force: bool) -> tuple[str, list[str]] | None:
    """The output and the paths of the ERROR findings, or None for a named domain error."""
    try:
        sources = [parse("<in>", text)]
        result = convert(sources, force=force)
        if result.errors and not force:
            return None
        return render(result, None), [f.path for f in result.errors]
    except UsernsError as exc:
        assert exc.message.isprintable() and exc.message, exc.message
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(YAMLISH, st.text(max_size=100)), st.booleans())
def test_any_text_gives_a_result_or_a_named_error(text: str, force: bool) -> None:
    _convert_text(text, force)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                   max_size=3),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(JSON_VALUES, JSON_VALUES, st.booleans())
def test_any_json_pod_gives_json_with_host_users_false_or_a_named_error(
    host_users_value: Any, extra: Any, force: bool
) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"hostUsers": host_users_value, "x": extra, "containers": []}}  # fmt: skip
    converted = _convert_text(json.dumps(pod), force)
    if converted is None:
        return
    out, errors = converted
    spec = json.loads(out)["spec"]
    assert spec["hostUsers"] is False or (spec["hostUsers"] == host_users_value and (
        not force or errors))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(VALUES, max_size=3), st.booleans(), st.booleans())
def test_whatever_hostusers_holds_the_output_reads_false_or_is_reported(
    values: list[str], flow: bool, force: bool
) -> None:
    fields = "".join(f"  hostUsers: {v}\n" for v in values)
    text = POD.format(fields=fields)
    if flow:
        text = "apiVersion: v1\nkind: List\nitems:\n- " + text.replace("\n", "\n  ").rstrip() + "\n"
    converted = _convert_text(text, force)
    if converted is None:
        return
    out, errors = converted
    try:
        before = host_users(text)
    except UsernsError:
        return
    after = host_users(out)
    for old, new in zip(before, after, strict=True):
        if new is False:
            continue
        # not converted: only when told (true without --force) or reported as an error
        assert new == old, (text, out)
        assert (old is True and not force) or any(p.endswith("hostUsers") for p in errors), (
            text, out, errors)  # fmt: skip
