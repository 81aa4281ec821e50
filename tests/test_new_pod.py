"""`kubectl userns new-pod`: manifests the API accepts, checked by the real kubectl and by the
API's own schema (the kubernetes package's models, generated from the API's OpenAPI document)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_userns.sandbox.api.server import start_apiserver, stop_apiserver
from kubectl_userns.sandbox.kubeconfig import write_kubeconfig
from tests.cli import run_cli, run_process

CLASSIC = """apiVersion: v1
kind: Pod
metadata:
  name: testpod
spec:
  hostUsers: false
  containers:
  - name: shell
    command: ["sleep", "infinity"]
    image: debian
"""
KINDS = ["pod", "deployment", "statefulset", "daemonset", "job", "cronjob"]


def strict_validate(manifest: dict[str, Any]) -> None:
    """Validate against the API schema: unknown fields and wrong types are rejected."""
    from kubernetes.client import models

    name = {
        "Pod": "V1Pod",
        "Deployment": "V1Deployment",
        "StatefulSet": "V1StatefulSet",
        "DaemonSet": "V1DaemonSet",
        "Job": "V1Job",
        "CronJob": "V1CronJob",
    }[manifest["kind"]]
    getattr(models, name).model_validate(manifest)


def template_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest["spec"]
    if manifest["kind"] == "Pod":
        return spec  # type: ignore[no-any-return]
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]  # type: ignore[no-any-return]


def test_no_arguments_print_the_classic_example() -> None:
    run = run_cli(["new-pod"])
    assert (run.stdout, run.stderr, run.exit_code) == (CLASSIC, "", 0)
    assert yaml.safe_load(run.stdout) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "testpod"},
        "spec": {
            "hostUsers": False,
            "containers": [{"name": "shell", "command": ["sleep", "infinity"], "image": "debian"}],
        },
    }


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_host_users_false_in_its_pod_spec(kind: str) -> None:
    run = run_cli(
        [
            "new-pod",
            "web",
            "--kind",
            kind,
            "--image",
            "nginx",
            "--restricted",
            "-n",
            "shop",
            "-o",
            "json",
        ]
    )
    assert run.exit_code == 0, run.stderr
    manifest = json.loads(run.stdout)
    strict_validate(manifest)
    spec = template_spec(manifest)
    assert spec["hostUsers"] is False
    assert manifest["metadata"]["namespace"] == "shop"
    container = spec["containers"][0]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert spec["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert "runAsNonRoot" not in json.dumps(manifest)
    if kind != "pod":
        labels = manifest["metadata"]["labels"]
        if kind != "cronjob" and kind != "job":
            assert manifest["spec"]["selector"]["matchLabels"] == labels


def test_command_after_double_dash_and_workload_flags() -> None:
    run = run_cli(
        [
            "new-pod",
            "nightly",
            "--kind",
            "cronjob",
            "--schedule",
            "0 3 * * *",
            "--",
            "/bin/backup",
            "--all",
        ]
    )
    assert run.exit_code == 0, run.stderr
    manifest = yaml.safe_load(run.stdout)
    strict_validate(manifest)
    assert manifest["spec"]["schedule"] == "0 3 * * *"
    spec = template_spec(manifest)
    assert spec["containers"][0]["command"] == ["/bin/backup", "--all"]
    assert spec["restartPolicy"] == "OnFailure"
    replicas = run_cli(["new-pod", "web", "--kind", "statefulset", "--replicas", "3"])
    manifest = yaml.safe_load(replicas.stdout)
    assert (manifest["spec"]["replicas"], manifest["spec"]["serviceName"]) == (3, "web")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--replicas", "2"],
            "error: --replicas only applies to --kind deployment or statefulset, not pod.\n",
        ),
        (
            ["--kind", "job", "--schedule", "@daily"],
            "error: --schedule only applies to --kind cronjob, not job.\n",
        ),
        (
            ["Web_1"],
            "error: NAME 'Web_1' is not a valid name: use at most 63 lower-case "
            "letters, digits and '-', starting and ending with a letter or digit.\n",
        ),
        (
            ["x", "--kind", "cronjob", "--schedule", "every day"],
            "error: --schedule 'every day' is not a cron schedule: give five fields, such as "
            "'*/5 * * * *', or a macro such as @hourly.\n",
        ),
    ],
)
def test_bad_flags(args: list[str], message: str) -> None:
    run = run_cli(["new-pod", *args])
    assert (run.stdout, run.stderr, run.exit_code) == ("", message, 2)


def test_new_pod_does_not_import_kubernetes_or_paramiko() -> None:
    code = (
        "import sys\nfrom kubectl_userns.cli.app import main\n"
        "sys.argv=['kubectl-userns','new-pod']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('kubernetes', 'paramiko', 'yaml', 'ruamel', 'urllib3'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout == CLASSIC
    assert "HEAVY []" in done.stderr


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    state = tmp_path_factory.mktemp("api")
    server = start_apiserver(state, state / "store")
    try:
        write_kubeconfig(
            state / "kubeconfig", server=server.url, ca_path=server.ca_path, token=server.token
        )
        yield {"KUBECONFIG": str(state / "kubeconfig")}
    finally:
        stop_apiserver(server.pid)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
@pytest.mark.parametrize("kind", KINDS)
def test_real_kubectl_applies_every_kind(kind: str, api: dict[str, str], tmp_path: Path) -> None:
    manifest = run_process(["new-pod", f"x-{kind}", "--kind", kind], env=api)
    assert manifest.exit_code == 0, manifest.stderr
    # the emulator serves no OpenAPI documents, so kubectl's own schema check is off here;
    # strict_validate above applies the API's schema instead
    done = subprocess.run(
        ["kubectl", "apply", "--dry-run=client", "--validate=false", "-f", "-"],
        input=manifest.stdout,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **api},
    )
    assert done.returncode == 0, done.stderr
    resource = {"pod": "pod", "cronjob": "cronjob.batch", "job": "job.batch"}.get(
        kind, f"{kind}.apps"
    )
    assert done.stdout == f"{resource}/x-{kind} created (dry run)\n"
    strict_validate(yaml.safe_load(manifest.stdout))


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_through_kubectl_plugin(api: dict[str, str]) -> None:
    run = run_process(["new-pod"], env=api, via_kubectl=True)
    assert (run.stdout, run.stderr, run.exit_code) == (CLASSIC, "", 0)
