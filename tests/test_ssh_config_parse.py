"""Property tests for the parsers of SSH config text: ``ssh -G`` output, ProxyJump specs, and
paramiko's parser (with Include) against ``ssh -G`` on the same generated configs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kubectl_userns.access.paramiko_config import expand_includes
from kubectl_userns.access.ssh_config import (
    EffectiveOptions,
    JumpHop,
    SSHConfigResolver,
    options_from_ssh_g,
    parse_jump_spec,
    parse_ssh_g,
)
from kubectl_userns.errors import UsageError

# timings on a shared 2-core machine say nothing about the parsers: no per-example deadline
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12)
VALUES = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40)


@settings(RELAXED, max_examples=50)
@given(st.lists(st.tuples(KEYS, VALUES), max_size=20))
def test_ssh_g_output_round_trips(pairs: list[tuple[str, str]]) -> None:
    text = "".join(f"{key} {value}\n" for key, value in pairs)
    parsed = parse_ssh_g(text)
    expected: dict[str, list[str]] = {}
    for key, value in pairs:
        expected.setdefault(key.lower(), []).append(value.strip())
    assert parsed == expected


@RELAXED
@given(st.text(max_size=400))
def test_any_ssh_g_output_gives_options_or_one_usage_error(text: str) -> None:
    try:
        found = options_from_ssh_g(parse_ssh_g(text), "node-a")
    except UsageError as exc:
        assert "\n" not in exc.message
    else:
        assert isinstance(found, EffectiveOptions)
        assert found.port >= 0


HOSTS = st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True)
USERS = st.from_regex(r"[a-z_][a-z0-9_.-]{0,10}", fullmatch=True)
HOPS = st.builds(
    JumpHop,
    HOSTS | st.sampled_from(["::1", "fe80::1", "10.0.0.1"]),
    st.none() | USERS,
    st.none() | st.integers(1, 65535),
)


@settings(RELAXED, max_examples=40)
@given(st.lists(HOPS, min_size=1, max_size=4), st.booleans())
def test_proxyjump_specs_round_trip(hops: list[JumpHop], uri: bool) -> None:
    spec = ",".join(("ssh://" if uri else "") + str(hop) for hop in hops)
    assert parse_jump_spec(spec) == tuple(hops)


@RELAXED
@given(st.text(max_size=80))
def test_any_proxyjump_spec_gives_hops_or_one_usage_error(spec: str) -> None:
    try:
        hops = parse_jump_spec(spec)
    except UsageError as exc:
        assert exc.message.startswith("ProxyJump ")
    else:
        for hop in hops:
            assert not hop.host.startswith("-")
            assert not set(hop.host) & set(" ;|&$`'\"%\\\n")


def test_a_hop_that_would_be_read_as_an_option_is_refused() -> None:
    for spec in ("-oProxyCommand=touch /tmp/x", "a,-x", "u@-x", "[-x]:22", "ssh://-x@h"):
        with pytest.raises(UsageError):
            parse_jump_spec(spec)


# --- paramiko's parser vs ssh -G ------------------------------------------------------------

NAMES = ["web1", "web2", "db.example", "10.1.2.3"]
PATTERNS = st.sampled_from(["web*", "web1", "db.*", "!web2", "*", "10.1.*", "db.example"])
SETTINGS = st.one_of(
    st.integers(1, 65535).map(lambda p: f"Port {p}"),
    st.sampled_from(["alice", "bob", "root"]).map(lambda u: f"User {u}"),
    st.sampled_from(["h1.example", "h2.example", "web2"]).map(lambda h: f"HostName {h}"),
)
HEADERS = st.one_of(
    st.lists(PATTERNS, min_size=1, max_size=3).map(lambda p: "Host " + " ".join(p)),
    PATTERNS.filter(lambda p: not p.startswith("!")).map(lambda p: f"Match host {p}"),
    PATTERNS.filter(lambda p: not p.startswith("!")).map(lambda p: f"Match originalhost {p}"),
    st.sampled_from(["alice", "bob", "root", "*"]).map(lambda u: f"Match user {u}"),
    st.just("Match all"),
    st.just("Match final"),
    PATTERNS.filter(lambda p: not p.startswith("!")).map(lambda p: f"Match final host {p}"),
)
BLOCKS = st.lists(st.tuples(HEADERS, st.lists(SETTINGS, max_size=3)), min_size=1, max_size=5).map(
    lambda blocks: "".join(h + "\n" + "".join(f"  {s}\n" for s in b) for h, b in blocks)
)


@pytest.mark.skipif(shutil.which("ssh") is None, reason="compares with ssh -G")
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(BLOCKS, st.sampled_from(NAMES), st.booleans())
# found by this test: paramiko read the config a second time, where Match host saw web2
@example(
    text="Match host web*\n  Port 1\nMatch all\n  HostName web2\n", name="db.example", include=False
)
def test_paramiko_parser_agrees_with_ssh_g(
    tmp_path: Path, text: str, name: str, include: bool
) -> None:
    config = tmp_path / "config"
    if include:  # the same text, reached through an Include glob
        (tmp_path / "part.conf").write_text(text)
        config.write_text(f"Include {tmp_path}/*.conf\n")
    else:
        config.write_text(text)
    ours = SSHConfigResolver(config, None).lookup(name, user=None)
    theirs = SSHConfigResolver(config, shutil.which("ssh")).lookup(name, user=None)
    assert (ours.hostname, ours.port, ours.user) == (theirs.hostname, theirs.port, theirs.user)


def test_include_inside_a_block_of_blocks_is_named(tmp_path: Path) -> None:
    (tmp_path / "inner.conf").write_text("Host other\n  Port 2\n")
    config = tmp_path / "config"
    config.write_text(f"Host web1\n  Include {tmp_path}/inner.conf\n")
    with pytest.raises(UsageError) as caught:
        expand_includes(config, user_file=True)
    assert "'Include" in caught.value.message and "Host web1" in caught.value.message


def test_ssh_g_is_run_with_an_argument_list_on_a_validated_name(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("")
    resolver = SSHConfigResolver(config, shutil.which("ssh") or "/usr/bin/ssh")
    for bad in ("-oProxyCommand=touch /tmp/x", "a b", "a;b", "$(id)", "x%h"):
        with pytest.raises(UsageError):
            resolver.lookup(bad)
