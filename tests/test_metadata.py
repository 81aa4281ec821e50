"""Publishing metadata: pyproject.toml names the project's one home, and what is read outside
the repository (the README as PyPI's long description) links there absolutely."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
HOME = PROJECT["urls"]["Homepage"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_pyproject_names_the_home_and_what_an_index_shows() -> None:
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", HOME), HOME
    for label in ("Documentation", "Issues", "Changelog"):
        assert PROJECT["urls"][label].startswith(HOME + "/"), label
    assert PROJECT["keywords"] and PROJECT["authors"]
    assert PROJECT["license"] == "Apache-2.0" and (ROOT / "LICENSE").is_file()
    # one classifier per supported Python, from requires-python's floor to the newest bundled
    floor = int(re.fullmatch(r">=3\.(\d+)", PROJECT["requires-python"]).group(1))  # type: ignore[union-attr]
    versions = {
        int(m.group(1))
        for c in PROJECT["classifiers"]
        if (m := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c))
    }
    assert min(versions) == floor, versions
    assert versions == set(range(floor, max(versions) + 1)), versions
    for extra, tools in (("test", {"pytest"}), ("dev", {"ruff", "mypy", "uv"})):
        names = {re.split(r"[<>=\[ ]", d)[0] for d in PROJECT["optional-dependencies"][extra]}
        assert tools <= names, (extra, names)
    test_names = {re.split(r"[<>=\[ ]", d)[0] for d in PROJECT["optional-dependencies"]["test"]}
    assert not test_names & {"ruff", "mypy", "uv"}, "developer tools belong in the dev extra"


def test_readme_links_are_absolute_and_lead_to_files_that_exist() -> None:
    """PyPI shows README.md as the long description, where a relative link is broken."""
    own = HOME + "/blob/main/"
    for target in LINK.findall((ROOT / "README.md").read_text()):
        if target.startswith("#"):
            continue
        assert target.startswith(("https://", "http://")), (
            f"README.md links to {target!r}: write it as {own}{target} (PyPI breaks relative links)"
        )
        if target.startswith(own):
            path = target.removeprefix(own).split("#", 1)[0]
            assert (ROOT / path).exists(), f"README.md links to {path}, which does not exist"
