"""Shared fixtures: the sandbox cluster (real namespaces, cgroups, sshd; emulated API).

``sandbox`` is one default sandbox per test session (per xdist worker); ``make_sandbox`` gives a
module its own sandbox for nodes and pods it shapes itself. Teardown always runs, and the
session ends by checking that no sandbox process, cgroup or mount is left.
"""

from __future__ import annotations

import gc
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from kubectl_userns.sandbox.cluster import Sandbox, default_sandbox

pytest_plugins = ("tests.strict_skips", "pytester")

# Property tests draw the same examples on every run and machine (derandomize): a result may not
# depend on the run, and a failing example found while developing is kept as an @example.
# KUBECTL_USERNS_HYPOTHESIS=explore draws new ones, to look for more.
settings.register_profile("repeatable", derandomize=True, deadline=None, database=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(
    "explore" if os.environ.get("KUBECTL_USERNS_HYPOTHESIS") == "explore" else "repeatable"
)


@pytest.fixture(scope="session", autouse=True)
def kubectl_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The real kubectl keeps its discovery and OpenAPI cache in this session's directory, not in
    the user's ~/.kube/cache: a run neither reads what an earlier run (or sandbox on the same
    port) left there nor leaves a directory per sandbox behind (KUBECACHEDIR, as --cache-dir)."""
    before = os.environ.get("KUBECACHEDIR")
    os.environ["KUBECACHEDIR"] = str(tmp_path_factory.mktemp("kubectl-cache"))
    yield
    if before is None:
        os.environ.pop("KUBECACHEDIR", None)
    else:
        os.environ["KUBECACHEDIR"] = before


# A shell that starts the suite in the background (`./scripts/test &` in a script, nohup, some CI
# runners) hands it SIGINT ignored, and an ignored signal stays ignored across exec: the CLI
# processes the tests interrupt would never see their Ctrl-C, and wait out their deadlines. The
# suite restores the default, for itself and what it starts, whatever started it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The files that take longest, longest first (wall time in one run of the group at -n 4 on two
# quiet cores, bench/test_suite_speed.md). xdist hands a worker the next file when it finishes
# one: with the long files first the short ones fill the ends, and no worker starts a 15 s file
# while the others are idle (scripts/test passes --no-loadscope-reorder, without which xdist
# orders the files by their number of tests). The sort is stable over pytest-randomly's order:
# the other files, and the tests within every file, stay in random order. A slow file missing
# here costs time only.
LONG_FILES = (
    "test_podaccess",
    "test_deadlines",
    "test_ssh_config_paths",
    "test_output",
    "test_api_transport",
    "test_node_trust",
    "test_probe_framing",
    "test_completion",
    "test_reports_produced",
    "test_nodeaccess",
    "test_inspect",
    "test_sandbox",
    "test_runtimes",
    "test_plan",
    "test_verify_node",
    "test_audit",
    "test_new_pod",
    "test_convert",
    "test_kubectl_flags",
    "test_docs",
    "test_jsonpath",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection made (the modules of the program, the tests and their libraries) lives as
    long as the worker: frozen, the garbage collector stops walking it again and again (every full
    collection of the run, Hypothesis's gc.collect when it first seeds a test, pytest's five at
    the end of the session)."""
    gc.collect()
    gc.freeze()


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")


def leftovers(marker: str, cgroup_roots: list[str]) -> list[str]:
    """Processes and mounts on this host that mention ``marker``, and remaining cgroup roots."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(f"process {proc.name}: {cmdline[:120]}")
    found += [f"cgroup {root}" for root in cgroup_roots if Path(root).exists()]
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount {line}" for line in mounts.splitlines() if marker in line]
    return found


@pytest.fixture(scope="session")
def sandbox_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandboxes")


@pytest.fixture(scope="session")
def sandbox(sandbox_root: Path) -> Iterator[Sandbox]:
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root")
    cluster = default_sandbox(sandbox_root / "default")
    try:
        yield cluster
    finally:
        cluster.down()
        left = leftovers(str(cluster.state_dir), cluster.data["cgroup_roots"])
        assert not left, f"the sandbox left things behind: {left}"


@pytest.fixture(scope="module")
def make_sandbox(
    sandbox_root: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Sandbox]]:
    """A factory for sandboxes of the calling module; all are taken down with the module."""
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root")
    made: list[Sandbox] = []

    def make() -> Sandbox:
        name = f"{request.module.__name__.rsplit('.', 1)[-1]}-{len(made)}"
        cluster = Sandbox.create(sandbox_root / name)
        made.append(cluster)
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            cluster.down()


@pytest.fixture
def sandbox_env(sandbox: Sandbox) -> dict[str, str]:
    return sandbox.env()
