"""`kubectl userns new-pod`: manifests the API accepts, checked by the real kubectl and by the
API's own schema (the kubernetes package's models, generated from the API's OpenAPI document)."""

from __future__ import annotations

import copy
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
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kubectl_userns.manifests.yamlwrite import to_yaml
from kubectl_userns.sandbox.api.launch import start_apiserver, stop_apiserver
from kubectl_userns.sandbox.kubeconfig import write_kubeconfig
from tests import psa
from tests.cli import run_cli, run_process
from tests.psa import POLICY_VERSIONS, Version
from tests.schemas import SUPPORTED_MINORS, assert_valid_everywhere, schema_errors

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
RESTRICTED = """apiVersion: v1
kind: Pod
metadata:
  name: testpod
spec:
  hostUsers: false
  securityContext:
    # Pod Security restricted below policy v1.35 demands this even with hostUsers: false
    runAsNonRoot: true
    # a non-root UID the kubelet can check against runAsNonRoot (the image may run as root)
    runAsUser: 1000
    # restricted at every policy version: RuntimeDefault or Localhost
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: shell
    command: ["sleep", "infinity"]
    image: debian
    securityContext:
      # restricted at every policy version
      allowPrivilegeEscalation: false
      # restricted at every policy version: drop ALL (only NET_BIND_SERVICE may be added back)
      capabilities:
        drop: ["ALL"]
"""
KINDS = ["pod", "deployment", "statefulset", "daemonset", "job", "cronjob"]


def test_the_schema_check_rejects_unknown_fields_and_wrong_types() -> None:
    """assert_valid_everywhere is the manifests' schema check: the strict schemas of every
    supported minor reject a field the API does not know and a value of the wrong type."""
    bad = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x"},
        "spec": {"hostUsers": "no", "containers": [{"name": "a", "image": "b", "bogus": 1}]},
    }
    for version in SUPPORTED_MINORS:
        errors = schema_errors(bad, version)
        assert any("'bogus' was unexpected" in e for e in errors), (version, errors)
        assert any(e.startswith("spec.hostUsers: ") for e in errors), (version, errors)
    with pytest.raises(AssertionError, match=r"invalid for Kubernetes 1\.30"):
        assert_valid_everywhere(bad)


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


VARIANTS = [
    pytest.param([], id="plain"),
    pytest.param(["--restricted"], id="restricted"),
    *(
        pytest.param(["--restricted", "--pss-version", f"v1.{m}"], id=f"restricted-v1.{m}")
        for m in range(30, 38)
    ),
]


def expected_to_pass(args: list[str]) -> dict[Version, tuple[str, bool]]:
    """What each variant promises: (level, passes) at every policy version."""
    if not args:
        return {v: ("baseline", True) for v in POLICY_VERSIONS}
    if "--pss-version" not in args:
        return {v: ("restricted", True) for v in POLICY_VERSIONS}
    target = (1, int(args[-1].split(".")[1]))
    # a manifest for v1.35+ leaves runAsNonRoot out: it fails restricted below v1.35
    relaxed = target >= (1, 35)
    return {v: ("restricted", v >= (1, 35) or not relaxed) for v in POLICY_VERSIONS}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_and_variant_is_valid_at_every_version(kind: str, variant: list[str]) -> None:
    """Issue 15 items 1 and 7: the schema of every Kubernetes minor 1.30-1.37, and Pod Security
    (tests/psa.py, encoded from kubernetes/pod-security-admission) at every policy version."""
    args = ["new-pod", "web", "--kind", kind, "--image", "nginx", "-n", "shop", *variant]
    as_json = run_cli([*args, "-o", "json"])
    as_yaml = run_cli(args)
    assert (as_json.stderr, as_json.exit_code, as_yaml.stderr, as_yaml.exit_code) == ("", 0, "", 0)
    manifest = json.loads(as_json.stdout)
    assert yaml.safe_load(as_yaml.stdout) == manifest  # the YAML says the same, comments apart
    assert_valid_everywhere(manifest)
    spec = template_spec(manifest)
    assert spec["hostUsers"] is False
    assert manifest["metadata"]["namespace"] == "shop"
    for version, (level, passes) in expected_to_pass(variant).items():
        verdict = psa.evaluate(spec, level, version)
        assert verdict.allowed is passes, (version, level, verdict.failed)
    if variant:
        # every restricted field is needed at some policy version: without it the default
        # manifest fails restricted there
        for drop in ("runAsNonRoot", "seccompProfile"):
            if drop in spec["securityContext"]:
                reduced = copy.deepcopy(spec)
                del reduced["securityContext"][drop]
                assert not psa.evaluate(reduced, "restricted", (1, 34)).allowed, drop
        for drop in ("allowPrivilegeEscalation", "capabilities"):
            reduced = copy.deepcopy(spec)
            del reduced["containers"][0]["securityContext"][drop]
            assert not psa.evaluate(reduced, "restricted", (1, 37)).allowed, drop
    if kind != "pod":
        labels = manifest["metadata"]["labels"]
        if kind != "cronjob" and kind != "job":
            assert manifest["spec"]["selector"]["matchLabels"] == labels


def test_restricted_yaml_says_why_each_field_is_there() -> None:
    run = run_cli(["new-pod", "--restricted"])
    assert (run.stderr, run.exit_code) == ("", 0)
    assert run.stdout == RESTRICTED
    relaxed = run_cli(["new-pod", "--restricted", "--pss-version", "v1.35"])
    assert (relaxed.stderr, relaxed.exit_code) == ("", 0)
    spec = yaml.safe_load(relaxed.stdout)["spec"]
    assert spec["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert (
        "  # from policy v1.35 restricted allows root in a pod with hostUsers: false: no "
        "runAsNonRoot\n  hostUsers: false\n" in relaxed.stdout
    )


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
    assert_valid_everywhere(manifest)
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
            "error: NAME 'Web_1' is not a valid pod name: use at most 253 lower-case "
            "letters, digits, '-' and '.', each part between dots starting and ending with a "
            "letter or digit.\n",
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


LABEL_RULE = (
    "use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit."
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # the API's DNS-1123 rules, matched whole: a final newline is no longer let through
        (["testpod\n"], "NAME 'testpod\\n' is not a valid pod name"),
        (["-n", "shop\n"], f"--namespace 'shop\\n' is not a valid namespace name: {LABEL_RULE}"),
        (["-c", "shell\n"], f"--container 'shell\\n' is not a valid container name: {LABEL_RULE}"),
        (["-n", "a.b"], f"--namespace 'a.b' is not a valid namespace name: {LABEL_RULE}"),
        (["a" * 254], f"NAME '{'a' * 254}' is not a valid pod name"),
        (["x" * 64, "--kind", "job"], f"NAME '{'x' * 64}' is not a valid job name: use at most 63"),
        (
            ["x" * 53, "--kind", "cronjob"],
            f"NAME '{'x' * 53}' is not a valid cronjob name: use at most 52",
        ),
        (["web.shop"], "NAME 'web.shop' cannot also name the container (a container name has no"),
        (["--image", " debian"], "--image ' debian' is not an image"),
        (["--image", ""], "--image '' is not an image"),
        (["--pss-version", "v1.35"], "--pss-version only applies with --restricted"),
        (["--restricted", "--pss-version", "1.29"], "--pss-version 1.29 is outside the policy"),
        (
            ["--restricted", "--pss-version", "v2"],
            "--pss-version 'v2' is not a Pod Security policy",
        ),
        (["--restricted", "--pss-version", "latest"], "--pss-version latest means the API"),
    ],
)
def test_names_and_values_are_validated_as_the_api_does(args: list[str], message: str) -> None:
    """Issue 15 item 6: one error line, exit 2, nothing on stdout."""
    run = run_cli(["new-pod", *args])
    assert (run.stdout, run.exit_code) == ("", 2)
    assert run.stderr.startswith(f"error: {message}"), run.stderr
    assert run.stderr.endswith("\n") and run.stderr[:-1].isprintable()  # one printable line


def test_long_subdomain_pod_names_are_accepted() -> None:
    name = ".".join(["a" * 63] * 3) + "." + "b" * 61  # 253 characters
    run = run_cli(["new-pod", name, "-c", "shell"])
    assert (run.stderr, run.exit_code) == ("", 0)
    assert yaml.safe_load(run.stdout)["metadata"]["name"] == name


@pytest.mark.parametrize(
    "value", ["0x1F", "1_000", ".inf", "12:30", "yes", "Y", "off", "~", "null", "0o17", "1e3",
              "2001-12-14", "<<", "=", "-", "a: b", "#x", "@x", "`x", "%x", "!x", "&x", "*x",
              "x #y", "true", "NULL", "1.25", "+1", "-.5", "é", "a\u2028b", "x\x7f"]
)  # fmt: skip
def test_every_string_reads_back_as_a_string(value: str) -> None:
    """Issue 15 item 6: quoted when a YAML 1.1 reader (PyYAML here; kubectl's go-yaml v2 in
    test_convert) would take it for a number, boolean, null or syntax."""
    run = run_cli(["new-pod", "p", "--image", value, "--", value])
    assert (run.stderr, run.exit_code) == ("", 0)
    container = yaml.safe_load(run.stdout)["spec"]["containers"][0]
    assert (container["image"], container["command"]) == (value, [value])
    assert f"image: {value}\n" not in run.stdout or value.isalpha()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_real_kubectl_reads_every_value_as_a_string(tmp_path: Path) -> None:
    """Item 6 against the real kubectl (its YAML 1.1 reader took 0x1F for 31)."""
    values = ["0x1F", "1_000", ".inf", "12:30", "yes", "y", "0o17", "~", "2001-12-14", "1e3"]
    run = run_cli(["new-pod", "p", "--image", "0x1F", "--", *values])
    assert run.exit_code == 0, run.stderr
    path = tmp_path / "pod.yaml"
    path.write_text(run.stdout)
    done = subprocess.run(
        ["kubectl", "label", "--local", "-f", str(path), "read=1", "-o", "json"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    container = json.loads(done.stdout)["spec"]["containers"][0]
    assert (container["image"], container["command"]) == ("0x1F", values)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(st.characters(exclude_categories=("Cs",))), max_size=3), st.text())
@example(command=[], key="\u2028")  # a line separator that was written raw (found by Hypothesis)
def test_any_command_and_value_round_trips(command: list[str], key: str) -> None:
    """The writer's quoting: any string reads back as itself (PyYAML, YAML 1.1)."""
    data = {"a": {"command": command, "image": key, key or "k": [key]}}
    assert yaml.safe_load(to_yaml(data)) == data


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
    # the manifest in-process (the console script's own output is test_through_kubectl_plugin's)
    manifest = run_cli(["new-pod", f"x-{kind}", "--kind", kind], env=api)
    assert manifest.exit_code == 0, manifest.stderr
    # the emulator serves no OpenAPI documents, so kubectl's own schema check is off here;
    # assert_valid_everywhere below applies the API's schema instead
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
    assert_valid_everywhere(yaml.safe_load(manifest.stdout))


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_through_kubectl_plugin(api: dict[str, str]) -> None:
    run = run_process(["new-pod"], env=api, via_kubectl=True)
    assert (run.stdout, run.stderr, run.exit_code) == (CLASSIC, "", 0)
