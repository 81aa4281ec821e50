"""The dependency floors in pyproject.toml are true: the package, installed with the lowest
versions it claims to accept (``uv pip install --resolution lowest-direct``), passes the CLI tests
that matter. A floor raised or lowered without this test passing is a guess (issue 18: PyYAML 6.0
did not build on Python 3.12, typer 0.12 made every command exit 0 without checking anything,
kubernetes 30-36 lacked ApiClient.param_serialize, before the API client of our own)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_install import _source_copy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.packaging

# The tests run again on the lowest versions: every command end to end against the sandbox.
CLI_TESTS = [
    "tests/test_reports_produced.py",
    "tests/test_cli_frame.py",
    "tests/test_new_pod.py",
    "tests/test_convert.py",
    "tests/test_inspect.py",
]


def _uv() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def _run(argv: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=900, check=False, **kwargs
    )  # type: ignore[call-overload]
    assert done.returncode == 0, f"{argv[:4]} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def lowest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with kubectl-userns at the lowest direct versions, and the test tools."""
    work = tmp_path_factory.mktemp("lowest")
    src = work / "src"
    src.mkdir()
    _source_copy(src)
    venv = work / "venv"
    python = venv / "bin" / "python"
    uv = _uv()
    _run([uv, "venv", "--quiet", "--python", sys.executable, venv])
    _run(
        [uv, "pip", "install", "--quiet", "--python", python, "--resolution", "lowest-direct", src]
    )
    # the test tools at today's versions, held to what the lowest resolution installed
    frozen = work / "lowest.txt"
    frozen.write_text(_run([uv, "pip", "freeze", "--python", python]).stdout)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    tools = project["optional-dependencies"]["test"]
    _run([uv, "pip", "install", "--quiet", "--python", python, "--constraints", frozen, *tools])
    return venv


def _floors() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = {}
    for requirement in project["dependencies"]:
        # a floor, and at most an upper bound beside it (typer <0.29: see pyproject.toml)
        match = re.fullmatch(
            r"([A-Za-z0-9_.-]+)>=([0-9][0-9.]*)(,<[0-9][0-9.]*)?", requirement.replace(" ", "")
        )
        assert match, f"dependency {requirement!r} has no plain >= floor"
        found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def test_the_lowest_resolution_installs_the_floors(lowest: Path) -> None:
    frozen = _run([_uv(), "pip", "freeze", "--python", lowest / "bin" / "python"]).stdout
    installed = {
        re.sub(r"[-_.]+", "-", name).lower(): version
        for name, version in re.findall(r"^([^=\s]+)==(\S+)$", frozen, re.MULTILINE)
    }
    for name, floor in _floors().items():
        assert installed.get(name) == floor or installed.get(name, "").startswith(floor + "."), (
            f"{name}: the floor is {floor} but the lowest resolution installed "
            f"{installed.get(name)} (no release at the floor itself?)"
        )


def test_the_cli_works_on_the_lowest_versions(lowest: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{lowest / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [lowest / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "no:xdist", "-p", "no:randomly", "-m", "not packaging", *CLI_TESTS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, f"on the lowest versions:\n{done.stdout[-4000:]}{done.stderr}"
    assert re.search(r"\d+ passed", summary) and "skipped" not in summary, summary
