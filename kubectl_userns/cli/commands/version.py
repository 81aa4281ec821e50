"""``kubectl userns version``: what a bug report needs - the plugin's version, the Python that
runs it and the versions of the libraries that decide its behaviour."""

from __future__ import annotations

import json
import platform
import sys
from enum import Enum
from typing import Annotated

import typer

from kubectl_userns import __version__

HELP = """Print the version of kubectl-userns, of the Python running it and of its libraries.

Paste the output into a bug report: the behaviour of the plugin depends on Typer and
Click, paramiko, the YAML and JSONPath libraries and cryptography as much as on its own code."""

EPILOG = """Examples:
  kubectl userns version
  kubectl userns version -o json"""

# the distributions whose versions change what the plugin does, by their PyPI names
LIBRARIES = (
    "typer",
    "click",
    "paramiko",
    "jsonpath-ng",
    "PyYAML",
    "cryptography",
    "urllib3",
)


class VersionFormat(str, Enum):
    text = "text"
    json = "json"
    yaml = "yaml"


def _installed(name: str) -> str | None:
    from importlib import metadata  # here: 20 ms to import, which only this command needs

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def version_info() -> dict[str, object]:
    """The facts, as plain data (one place for the text, json and yaml forms)."""
    return {
        "kubectlUserns": __version__,
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": f"{sys.platform}/{_arch()}",
        "libraries": {name: _installed(name) for name in LIBRARIES},
    }


def version(
    output: Annotated[
        VersionFormat,
        typer.Option("--output", "-o", help="Output format.", case_sensitive=False),
    ] = VersionFormat.text,
) -> None:
    info = version_info()
    if output is VersionFormat.json:
        typer.echo(json.dumps(info, indent=2))
        return
    if output is VersionFormat.yaml:
        import yaml

        typer.echo(yaml.safe_dump(info, sort_keys=False), nl=False)
        return
    py = info["python"]
    assert isinstance(py, dict)
    libraries = info["libraries"]
    assert isinstance(libraries, dict)
    lines = [
        f"kubectl-userns {__version__}",
        f"Python {py['version']} ({py['implementation']}, {py['executable']})",
        f"Platform {info['platform']}",
        # click is absent where Typer vendors its own copy (typer >= 0.22)
        *(f"{name} {found}" for name, found in libraries.items() if found),
    ]
    typer.echo("\n".join(lines))
