"""kubectl's flags on every API command, through the real CLI against the sandbox: its global
API flags (--cluster, --user, -s, --token, TLS, --as ..., -v), -n=NS, durations, flags before
the command, -A over -n; inspect of several pods; the grouped help."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kubectl_userns.errors import UsageError
from kubectl_userns.options import NO_TIMEOUT, parse_duration
from kubectl_userns.sandbox.certs import CLIENT_USER
from kubectl_userns.sandbox.cluster import Sandbox
from tests.cli import Run, run_cli, run_process
from tests.conftest import needs_root

NOWHERE = {"KUBECONFIG": "/nonexistent/kubeconfig"}


def cli(sandbox: Sandbox, *args: str, env: dict[str, str] | None = None) -> Run:
    return run_cli(list(args), env={**sandbox.env(), **(env or {})})


def _kubeconfig(sandbox: Sandbox) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(sandbox.kubeconfig.read_text())
    return data


def _server_ca_token(sandbox: Sandbox) -> tuple[str, str, str]:
    config = _kubeconfig(sandbox)
    cluster = config["clusters"][0]["cluster"]
    return cluster["server"], cluster["certificate-authority"], config["users"][0]["user"]["token"]


# --- durations --------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=10**5))
def test_durations_as_kubectl_reads_them(n: int) -> None:
    assert parse_duration(str(n), "--x") == n  # a bare integer is seconds
    assert parse_duration(f"{n}s", "--x") == n
    assert parse_duration(f"{n}m", "--x") == n * 60
    assert parse_duration(f"{n}ms", "--x") == pytest.approx(n / 1000)
    assert parse_duration(f"1h{n}m", "--x") == 3600 + n * 60


@given(st.text(max_size=12))
def test_any_duration_text_is_seconds_or_a_usage_error(text: str) -> None:
    try:
        seconds = parse_duration(text, "--request-timeout")
    except UsageError as exc:
        assert exc.message.startswith(f"--request-timeout {text}: not a duration")
    else:
        assert 0 < seconds <= NO_TIMEOUT


def test_zero_is_no_timeout() -> None:
    assert parse_duration("0", "--x") == parse_duration("0s", "--x") == NO_TIMEOUT


@needs_root
@pytest.mark.parametrize(
    "flags",
    [
        ["--request-timeout", "5s"],
        ["--request-timeout", "0"],
        ["--request-timeout=1m", "--ssh-timeout", "1m"],
        ["--ssh-timeout", "0"],
        ["--via", "pod", "--probe-timeout", "0"],
        ["--via", "pod", "--probe-timeout", "1m30s"],
    ],
)
def test_duration_flags(sandbox: Sandbox, flags: list[str]) -> None:
    run = cli(sandbox, "inspect", "testpod", *flags)
    assert (run.exit_code, run.stderr) == (0, ""), run.stderr


def test_a_bad_duration_is_named_before_any_network_call() -> None:
    run = run_cli(["inspect", "testpod", "--ssh-timeout", "5x"], env=NOWHERE)
    assert (run.stdout, run.exit_code) == ("", 2)
    assert run.stderr == (
        "error: --ssh-timeout 5x: not a duration; give seconds or a number with a unit, as "
        "kubectl does (e.g. 30, 5s, 2m, 1h30m; 0 for no timeout).\n"
    )


def test_ssh_timeout_is_an_ssh_flag_where_no_ssh_runs() -> None:
    """--ssh-timeout given where no SSH runs is named, as the other SSH flags are."""
    pod = run_cli(["inspect", "testpod", "--via", "pod", "--ssh-timeout", "5s"], env=NOWHERE)
    assert (pod.stdout, pod.exit_code) == ("", 2)
    assert pod.stderr.startswith("error: --via pod cannot be used with --ssh-timeout:")
    local = run_cli(["inspect", "testpod", "--local", "--ssh-timeout", "5s"], env=NOWHERE)
    assert (local.stdout, local.exit_code) == ("", 2)
    assert local.stderr.startswith("error: --local cannot be used with --ssh-timeout:")
    plan = run_cli(["plan", "-A", "--ssh-timeout", "5s"], env=NOWHERE)
    assert (plan.stdout, plan.exit_code) == ("", 2)
    assert plan.stderr.startswith("error: --ssh-timeout applies only with --verify")


# --- flag forms and positions ------------------------------------------------------------------


@needs_root
def test_equals_forms_of_short_flags(sandbox: Sandbox) -> None:
    run = cli(sandbox, "inspect", "testpod", "-n=default", "-o=json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["pod"]["namespace"] == "default"
    selected = cli(sandbox, "audit", "-l=app=web", "-o=name")
    assert (selected.stdout, selected.exit_code) == ("pod/web\n", 0)


@needs_root
def test_global_flags_before_the_command(sandbox: Sandbox) -> None:
    expected = cli(sandbox, "inspect", "testpod", "-o", "name")
    assert expected.stdout == "pod/testpod\n"
    config = str(sandbox.kubeconfig)
    before = cli(
        sandbox,
        "--kubeconfig",
        config,
        "--context=sandbox",
        "-n",
        "default",
        "inspect",
        "testpod",
        "-o",
        "name",
    )
    assert (before.stdout, before.stderr, before.exit_code) == (expected.stdout, "", 0)
    # through the real kubectl too, as a user types it
    via = run_process(
        ["--context", "sandbox", "inspect", "testpod", "-o", "name"],
        env=sandbox.env(),
        via_kubectl=shutil.which("kubectl") is not None,
    )
    assert (via.stdout, via.exit_code) == ("pod/testpod\n", 0), via.stderr
    # a command's own flag before the command is still a mistake
    wrong = cli(sandbox, "-c", "shell", "inspect", "testpod")
    assert wrong.exit_code == 2 and "No such option: -c" in wrong.stderr


@needs_root
def test_all_namespaces_wins_over_namespace(sandbox: Sandbox) -> None:
    every = cli(sandbox, "audit", "-A", "-o", "name")
    both = cli(sandbox, "audit", "-A", "-n", "kube-system", "-o", "name")
    assert (both.stdout, both.stderr) == (every.stdout, "")
    assert both.stdout.count("\n") == 3


# --- kubectl's API flags ---------------------------------------------------------------------


@needs_root
def test_plan_takes_the_api_flags(sandbox: Sandbox) -> None:
    """plan reads the API only: --server/--token/--certificate-authority without a kubeconfig,
    -n=NS, a duration, the flags before the command, and impersonation on its lists."""
    server, ca, token = _server_ca_token(sandbox)
    expected = cli(sandbox, "plan", "-A", "-o", "json")
    assert expected.exit_code in (0, 1), expected.stderr
    alone = run_cli(
        ["plan", "-A", "-o", "json", "-s", server, "--token", token,
         "--certificate-authority", ca, "--request-timeout=1m"],
        env={**sandbox.env(), **NOWHERE},
    )  # fmt: skip
    assert (alone.stdout, alone.stderr, alone.exit_code) == (
        expected.stdout,
        "",
        expected.exit_code,
    )
    before = cli(sandbox, "--context", "sandbox", "plan", "-n=default", "-o", "json")
    assert before.exit_code == expected.exit_code, before.stderr
    assert {w["namespace"] for w in json.loads(before.stdout)["workloads"]} == {"default"}
    start = _audit_length(sandbox)
    impersonated = cli(sandbox, "plan", "-A", "--as", "carol", "--as-group", "audit")
    assert impersonated.exit_code == expected.exit_code, impersonated.stderr
    events = _audit_events(sandbox, start)
    assert events and all(
        e["impersonatedUser"] == {"username": "carol", "groups": ["audit", "system:authenticated"]}
        for e in events
    )
    # the node flags still need --verify; the API flags do not
    refused = cli(sandbox, "plan", "-A", "--ssh-port", "2222")
    assert (refused.exit_code, refused.stderr) == (
        2,
        "error: --ssh-port applies only with --verify (the plan alone reads the API only); "
        "add --verify.\n",
    )


@needs_root
def test_server_token_and_certificate_authority_without_a_kubeconfig(sandbox: Sandbox) -> None:
    server, ca, token = _server_ca_token(sandbox)
    base = ["inspect", "testpod", "-o", "name", "-s", server, "--token", token]
    alone = {**sandbox.env(), **NOWHERE}  # SSH to the nodes as usual, no kubeconfig
    run = run_cli([*base, "--certificate-authority", ca], env=alone)
    assert (run.stdout, run.stderr, run.exit_code) == ("pod/testpod\n", "", 0)
    # kubectl's host:port form of --server means https
    bare = run_cli(
        [
            *base[:4],
            "--server",
            server.removeprefix("https://"),
            *base[6:],
            "--certificate-authority",
            ca,
        ],
        env=alone,
    )
    assert (bare.stdout, bare.exit_code) == ("pod/testpod\n", 0), bare.stderr
    # without a CA the server's certificate is unknown; --insecure-skip-tls-verify accepts it
    # and says nothing per request, as kubectl
    unknown = run_cli(base, env=alone)
    assert unknown.exit_code == 3
    assert unknown.stderr.startswith(
        f"error: the TLS certificate of the Kubernetes API at {server} "
    )
    insecure = run_cli([*base, "--insecure-skip-tls-verify"], env=alone)
    assert (insecure.stdout, insecure.stderr, insecure.exit_code) == ("pod/testpod\n", "", 0)
    bad_token = run_cli([*base[:-1], "nope", "--certificate-authority", ca], env=alone)
    assert bad_token.exit_code == 3 and "401 Unauthorized" in bad_token.stderr
    assert token not in bad_token.stderr + run.stderr + unknown.stderr
    # with a kubeconfig too, --server wins over its cluster
    elsewhere = cli(sandbox, "inspect", "testpod", "-s", "https://127.0.0.1:9")
    assert elsewhere.exit_code == 3
    assert elsewhere.stderr.startswith("error: the Kubernetes API at https://127.0.0.1:9 ")


@needs_root
def test_tls_server_name_is_the_name_checked(sandbox: Sandbox) -> None:
    # the sandbox's certificate names localhost and 127.0.0.1 only
    good = cli(sandbox, "inspect", "testpod", "-o", "name", "--tls-server-name", "localhost")
    assert (good.stdout, good.exit_code) == ("pod/testpod\n", 0), good.stderr
    wrong = cli(sandbox, "inspect", "testpod", "--tls-server-name", "kubernetes.default")
    assert (wrong.stdout, wrong.exit_code) == ("", 3)
    assert "kubernetes.default" in wrong.stderr or "certificate" in wrong.stderr


@needs_root
def test_client_certificate_and_key_authenticate(sandbox: Sandbox, tmp_path: Path) -> None:
    """No kubeconfig and no token: only the client certificate can authenticate, as the API
    server's x509 authenticator takes it (CN the user, O the groups; the audit log says who)."""
    server, ca, _ = _server_ca_token(sandbox)
    pki = Path(ca).parent
    cert, key = str(pki / "client.crt"), str(pki / "client.key")
    alone = {**sandbox.env(), **NOWHERE}
    base = ["inspect", "testpod", "-o", "name", "-s", server, "--certificate-authority", ca]
    start = _audit_length(sandbox)
    run = run_cli([*base, "--client-certificate", cert, "--client-key", key], env=alone)
    assert (run.stdout, run.stderr, run.exit_code) == ("pod/testpod\n", "", 0)
    users = {e["user"]["username"] for e in _audit_events(sandbox, start)}
    assert users == {CLIENT_USER}
    without = run_cli(base, env=alone)  # nothing to authenticate with
    assert (without.stdout, without.exit_code) == ("", 3)
    assert without.stderr == (
        "error: the Kubernetes API refused an anonymous request (401 Unauthorized) while "
        'reading pod "testpod" in namespace "default": this request has no credentials; give a '
        "token or a client certificate and key (--token, --client-certificate and "
        "--client-key), or use a kubeconfig user that has them.\n"
    )
    half = cli(sandbox, "inspect", "testpod", "--client-key", key)
    assert (half.exit_code, half.stderr) == (
        2,
        "error: --client-certificate and --client-key go together; give both.\n",
    )
    missing = cli(sandbox, "inspect", "testpod", "--client-certificate", str(tmp_path / "no"))
    assert missing.stderr == f"error: --client-certificate {tmp_path / 'no'}: no such file.\n"
    # a key that is not the certificate's: one error line, no traceback
    junk = tmp_path / "junk.key"
    junk.write_text("not a key\n")
    refused = run_cli([*base, "--client-certificate", cert, "--client-key", str(junk)], env=alone)
    assert (refused.stdout, refused.exit_code) == ("", 2), refused.stderr
    assert refused.stderr.startswith("error: ") and refused.stderr.count("\n") == 1


@needs_root
def test_cluster_and_user_from_the_kubeconfig(sandbox: Sandbox, tmp_path: Path) -> None:
    config = _kubeconfig(sandbox)
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "https://127.0.0.1:9"}})
    config["users"].append({"name": "nobody", "user": {"token": "wrong"}})
    config["contexts"].append(
        {"name": "broken", "context": {"cluster": "nowhere", "user": "nobody"}}
    )
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    env = {"KUBECONFIG": str(path)}
    broken = cli(sandbox, "inspect", "testpod", "--context", "broken", env=env)
    assert broken.exit_code == 3 and "127.0.0.1:9" in broken.stderr
    cluster_only = cli(
        sandbox, "inspect", "testpod", "--context", "broken", "--cluster", "sandbox", env=env
    )
    assert cluster_only.exit_code == 3 and "401 Unauthorized" in cluster_only.stderr
    assert "renew them, e.g. log in again or fix the token" in cluster_only.stderr
    # a user entry with nothing in it: the request goes out anonymous, and the error says so
    config["users"].append({"name": "empty", "user": {}})
    path.write_text(yaml.safe_dump(config))
    empty = cli(
        sandbox,
        "inspect",
        "testpod",
        "--context",
        "broken",
        "--cluster",
        "sandbox",
        "--user",
        "empty",
        env=env,
    )
    assert (empty.stdout, empty.exit_code) == ("", 3)
    assert empty.stderr.startswith(
        "error: the Kubernetes API refused an anonymous request (401 Unauthorized) while "
        'reading pod "testpod" in namespace "default": the user "empty" has no credentials; '
    )
    fixed = cli(
        sandbox,
        "inspect",
        "testpod",
        "-o",
        "name",
        "--context",
        "broken",
        "--cluster",
        "sandbox",
        "--user",
        "sandbox-admin",
        env=env,
    )
    assert (fixed.stdout, fixed.stderr, fixed.exit_code) == ("pod/testpod\n", "", 0)
    unknown = cli(sandbox, "inspect", "testpod", "--user", "ghost", env=env)
    assert (unknown.exit_code, unknown.stderr) == (
        2,
        'error: user "ghost" is not in the kubeconfig; pick one of its users with --user.\n',
    )


def _audit_events(sandbox: Sandbox, since: int) -> list[dict[str, Any]]:
    lines = (sandbox.state_dir / "api" / "audit.log").read_text().splitlines()[since:]
    return [json.loads(line) for line in lines]


def _audit_length(sandbox: Sandbox) -> int:
    log = sandbox.state_dir / "api" / "audit.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


@needs_root
def test_impersonation_reaches_every_request_and_the_probe_pod(sandbox: Sandbox) -> None:
    before = _audit_length(sandbox)
    run = cli(
        sandbox,
        "inspect",
        "testpod",
        "--via",
        "pod",
        "--as",
        "alice",
        "--as-group",
        "dev",
        "--as-group",
        "ops",
        "--as-uid",
        "1234",
    )
    assert run.exit_code == 0, run.stderr
    events = _audit_events(sandbox, before)
    assert any(e["verb"] == "create" and e["requestURI"].endswith("/pods") for e in events)
    assert any(e["verb"] == "delete" for e in events)
    for event in events:
        assert event["impersonatedUser"] == {
            "username": "alice",
            "groups": ["dev", "ops", "system:authenticated"],
            "uid": "1234",
        }, event
    # a service account without --as-group: the groups the API server gives it
    start = _audit_length(sandbox)
    robot = cli(
        sandbox, "inspect", "testpod", "-o", "name", "--as", "system:serviceaccount:shop:bot"
    )
    assert (robot.stdout, robot.exit_code) == ("pod/testpod\n", 0), robot.stderr
    assert {tuple(e["impersonatedUser"]["groups"]) for e in _audit_events(sandbox, start)} == {
        ("system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated")
    }
    alone = cli(sandbox, "inspect", "testpod", "--as-group", "dev")
    assert (alone.exit_code, alone.stdout) == (2, "")
    assert alone.stderr.startswith("error: --as-group and --as-uid need --as USER")


@needs_root
def test_forbidden_names_the_impersonated_user(sandbox: Sandbox) -> None:
    sandbox.store.set_forbidden(["/api/v1/namespaces/default/pods/testpod"])
    try:
        run = cli(sandbox, "inspect", "testpod", "--as", "bob")
    finally:
        sandbox.store.set_forbidden([])
    assert run.exit_code == 3
    assert 'User "bob" cannot get this resource' in run.stderr


@needs_root
def test_verbose_logs_each_request_and_no_credentials(sandbox: Sandbox) -> None:
    _, _, token = _server_ca_token(sandbox)
    quiet = cli(sandbox, "inspect", "testpod")
    run = cli(sandbox, "inspect", "testpod", "-v=6")
    assert run.exit_code == 0 and run.stdout.splitlines()[0] == quiet.stdout.splitlines()[0]
    lines = run.stderr.splitlines()
    assert lines and all(
        re.fullmatch(r"GET https://127\.0\.0\.1:\d+/api/v1/\S+ 200 in \d+ milliseconds", line)
        for line in lines
    ), lines
    assert any(line.split()[1].endswith("/namespaces/default/pods/testpod") for line in lines)
    assert token not in run.stderr
    assert cli(sandbox, "inspect", "testpod", "--v", "2").stderr == ""


def test_no_error_message_points_at_a_flag_that_does_not_exist() -> None:
    package = Path(__file__).resolve().parent.parent / "kubectl_userns"
    text = "\n".join(p.read_text() for p in package.rglob("*.py"))
    assert "with -v output" not in text


# --- inspect: several pods, -l ----------------------------------------------------------------


@needs_root
def test_inspect_several_pods_and_a_selector(sandbox: Sandbox) -> None:
    run = cli(sandbox, "inspect", "testpod", "hostpod", "pod/web")
    assert run.exit_code == 1  # the worst: hostpod fails
    lines = run.stdout.splitlines()
    assert lines[0].split()[:3] == ["POD", "CONTAINER", "PID"]
    assert {line.split()[0] for line in lines[1:] if line and line.split()[0] != "POD"} >= {
        "testpod",
        "hostpod",
        "web",
    }
    summaries = [line for line in lines if ": isolated" in line or ": NOT ISOLATED" in line]
    assert [s.split(":")[0] for s in summaries] == [
        "default/testpod",
        "default/hostpod",
        "default/web",
    ]
    data = json.loads(cli(sandbox, "inspect", "testpod", "web", "-o", "json").stdout)
    assert data["kind"] == "List"
    assert [r["pod"]["name"] for r in data["items"]] == ["testpod", "web"]
    # one report per pod for the template formats; kubectl's items dialect
    names = cli(sandbox, "inspect", "-l", "app=web", "-o", "jsonpath={.items[*].pod.name}")
    assert (names.stdout, names.exit_code) == ("web", 0)
    # a pod that cannot be inspected is one error line; the others are still reported
    mixed = cli(sandbox, "inspect", "ghost", "testpod", "-o", "name")
    assert mixed.stdout == "pod/testpod\n"
    assert mixed.stderr.startswith('error: pod "ghost" not found in namespace "default"')
    assert mixed.exit_code == 2
    none = cli(sandbox, "inspect", "-l", "app=nothing")
    assert (none.exit_code, none.stdout) == (2, "")
    assert none.stderr.startswith('error: no pod in namespace "default" matches -l app=nothing')
    both = cli(sandbox, "inspect", "testpod", "-l", "app=web")
    assert (both.exit_code, both.stderr) == (
        2,
        "error: give pod names or -l SELECTOR, not both (kubectl refuses both too).\n",
    )


# --- help --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["inspect", "audit", "verify-node", "plan"])
def test_help_shows_the_flag_groups_with_kubectls_last(command: str) -> None:
    run = run_cli([command, "--help"])
    assert run.exit_code == 0
    sections = re.findall(r"^(\S[^\n:]*):$", run.stdout, re.M)
    groups = [s for s in sections if s.endswith(")") or s.endswith("flags") or s == "Flags"]
    assert groups[-1] == "Kubernetes API flags (as in kubectl)", sections
    assert groups[:2] == ["Flags", "Output flags"], sections
    assert "Node access flags" in groups
    assert "SSH flags (--via ssh, the default)" in groups
    assert "Probe pod flags (--via pod)" in groups
    api = run.stdout.split("Kubernetes API flags (as in kubectl):")[1]
    for flag in (
        "--kubeconfig",
        "--context",
        "--cluster",
        "--user",
        "-s, --server",
        "--token",
        "--as ",
        "--as-group",
        "--as-uid",
        "--certificate-authority",
        "--client-certificate",
        "--client-key",
        "--insecure-skip-tls-verify",
        "--tls-server-name",
        "--request-timeout",
        "-v, --v",
    ):
        assert flag in api, flag
