"""Installing from a checkout with pip and pipx: the console scripts land on PATH, where kubectl
finds the plugin. (Apart from tests/test_dist.py, which needs the krew build, so that the two
run side by side.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_dist import ROOT, SYSTEM_PATH, _clean_env, _kubectl, _run

pytestmark = pytest.mark.packaging  # run apart from the rest (scripts/test)

# --- pip install . ------------------------------------------------------------------------


def _source_copy(dest: Path) -> Path:
    """The project as `pip install .` sees it, copied so that the build leaves no build/ here."""
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(
        ROOT / "kubectl_userns",
        dest / "kubectl_userns",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return dest


def test_pip_install_gives_a_console_script_that_kubectl_finds(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    src = tmp_path / "src"
    src.mkdir()
    _source_copy(src)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    done = subprocess.run(
        [*pip, "install", "--quiet", "--no-compile", "--disable-pip-version-check", str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    script = venv / "bin" / "kubectl-userns"
    assert script.is_file()
    assert (venv / "bin" / "kubectl_complete-userns").is_file()  # kubectl's shell completion

    env = _clean_env([venv / "bin", *SYSTEM_PATH], tmp_path)
    listed = _run([_kubectl(), "plugin", "list"], env, tmp_path)
    assert str(script) in listed.stdout
    top = _run([_kubectl(), "userns", "--help"], env, tmp_path)
    assert top.exit_code == 0, top.stderr
    assert top.stdout.startswith("Usage: kubectl userns [OPTIONS] COMMAND [ARGS]...")


def test_pipx_install_gives_kubectl_userns(tmp_path: Path) -> None:
    pipx = shutil.which("pipx")
    if pipx is None:
        pytest.skip("pipx is not installed")
    src = tmp_path / "src"
    src.mkdir()
    _source_copy(src)
    env = {
        **_clean_env([Path(pipx).parent, *SYSTEM_PATH], tmp_path),
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
    }
    done = _run([pipx, "install", src], env, tmp_path, timeout=900)  # builds and downloads
    assert done.exit_code == 0, done.stderr
    env["PATH"] = os.pathsep.join([str(tmp_path / "bin"), *SYSTEM_PATH])
    top = _run([_kubectl(), "userns", "--help"], env, tmp_path)
    assert top.exit_code == 0, top.stderr
    assert top.stdout.startswith("Usage: kubectl userns")
