"""`kubectl userns convert` through the CLI, on real manifest files."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import yaml

from tests.cli import run_cli

DATA = Path(__file__).parent / "data" / "convert"


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
