"""Build the krew archives of kubectl-userns and fill in the krew manifest.

Run through ``scripts/dist`` (README "Releasing"). For each os/arch it writes
``dist/kubectl-userns_v<version>_<os>_<arch>.tar.gz`` and then ``krew/userns.yaml`` (plus a copy
in ``dist/``) from ``krew/userns.yaml.in``.

An archive holds the launcher ``kubectl-userns`` (krew/launcher.sh, POSIX sh), its Python half
``launcher.py`` and ``lib/``: kubectl-userns
and all its dependencies as an unpacked site-packages tree. Compiled dependencies come as wheels
from PyPI for the target os/arch, once per supported Python version (``abi3`` wheels serve them
all); their extension modules carry the Python version in their file names, so the versions live
side by side in one tree. Pure-Python files are shared. All Python versions use the same
dependency versions: the oldest Python's resolution pins the others.

The archives are reproducible: same sources and same resolved wheels give the same bytes.
"""

from __future__ import annotations

import argparse
import email.parser
import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "userns"
BIN = "kubectl-userns"
TEMPLATE = ROOT / "krew" / f"{PLUGIN}.yaml.in"
# the archive's executable (POSIX sh: finds a Python) and the Python half it runs with -I
LAUNCHER = ROOT / "krew" / "launcher.sh"
LAUNCHER_PY = ROOT / "krew" / "launcher.py"
LAUNCHER_PY_NAME = "launcher.py"
HOMEPAGE_ENV = "KUBECTL_USERNS_HOMEPAGE"
URL_BASE_ENV = "KUBECTL_USERNS_RELEASE_URL"
DEFAULT_URL_BASE = "{homepage}/releases/download/{tag}"
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
# Files other than the launcher and lib/ that go into each archive when the repository has them.
EXTRA_FILES = ("LICENSE",)
# Timestamp of every archive member (1980-01-01, the zip epoch) unless SOURCE_DATE_EPOCH is set.
DEFAULT_EPOCH = 315532800


@dataclass(frozen=True)
class Target:
    """One krew platform: krew's os/arch labels and uv's name for the wheels that fit it."""

    os: str
    arch: str
    uv_platform: str

    @property
    def name(self) -> str:
        return f"{self.os}/{self.arch}"


# glibc 2.28 (Debian 10, RHEL 8, Ubuntu 20.04 and newer) and macOS 11 (2020) or newer.
TARGETS = {
    t.name: t
    for t in (
        Target("linux", "amd64", "x86_64-manylinux_2_28"),
        Target("linux", "arm64", "aarch64-manylinux_2_28"),
        Target("darwin", "amd64", "x86_64-apple-darwin"),
        Target("darwin", "arm64", "aarch64-apple-darwin"),
    )
}
MACOS_TARGET = "11.0"


# What the archives leave out of the installed dependencies, because kubectl-userns never imports
# it (each line says why that is safe); tests/test_dist.py runs the commands from the bundle.
PRUNED_PATHS = (
    # PyYAML's optional libyaml binding, one copy per Python: yaml falls back to its pure Python
    # loader (yaml/__init__.py imports cyaml under try/except ImportError), and kubectl-userns
    # only calls safe_load/safe_dump on small documents.
    "yaml/_yaml.cpython-*",
)


def prune(site: Path) -> None:
    """Remove PRUNED_PATHS from ``site``, and their lines from the RECORD files."""
    removed: set[str] = set()
    for pattern in PRUNED_PATHS:
        removed |= {p.relative_to(site).as_posix() for p in site.glob(pattern)}
    for rel in sorted(removed, key=len, reverse=True):
        target = site / rel
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
    # a package directory left empty by the removals goes too
    for directory in sorted((d for d in site.rglob("*") if d.is_dir()), reverse=True):
        if not any(directory.iterdir()):
            directory.rmdir()
    for record in site.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines(keepends=True)
        kept = [
            line
            for line in lines
            if not any(line.startswith(f"{rel},") or line.startswith(f"{rel}/") for rel in removed)
        ]
        if kept != lines:
            record.write_text("".join(kept))


@dataclass(frozen=True)
class Archive:
    target: Target
    path: Path
    sha256: str
    bundled: tuple[str, ...]  # name==version of every bundled distribution


class BuildError(Exception):
    """A step of the build failed; the message says which and what to do."""


@dataclass(frozen=True)
class Project:
    """What the built wheel says about kubectl-userns (its metadata comes from pyproject.toml)."""

    wheel: Path
    version: str
    homepage: str | None


def read_project(wheel: Path) -> Project:
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        if len(names) != 1:
            raise BuildError(f"{wheel.name} has {len(names)} METADATA files, expected one")
        metadata = email.parser.BytesParser().parsebytes(zf.read(names[0]))
    version = str(metadata["Version"])
    if not re.fullmatch(r"\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?", version):
        raise BuildError(f"pyproject.toml has version {version!r}, not a semantic version X.Y.Z")
    homepage = None
    for value in metadata.get_all("Project-URL") or []:
        label, _, url = str(value).partition(",")
        if label.strip().lower() == "homepage" and url.strip():
            homepage = url.strip()
            break
    return Project(wheel, version, homepage)


def archive_name(version: str, target: Target) -> str:
    return f"{BIN}_v{version}_{target.os}_{target.arch}.tar.gz"


def _run(command: Sequence[str], what: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
    if done.returncode != 0:
        shown = "\n".join(
            line
            for line in (done.stdout + done.stderr).splitlines()
            if "is ignored: it is neither a file nor a directory" not in line
        )
        raise BuildError(f"{what} failed (exit {done.returncode}):\n{shown}")


def _pip(args: Sequence[str], what: str) -> None:
    _run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], what)


def uv_command() -> str:
    """uv resolves and installs for another platform and Python version, markers included
    (pip evaluates environment markers for the running interpreter only)."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise BuildError(
                "uv is not installed; install the dev extras (pip install -e '.[test,dev]')"
            ) from None
        return found


def source_copy(dest: Path) -> Path:
    """The project as a build sees it (pyproject, README, LICENSE and the package, no byte
    code), copied to ``dest`` so that building leaves no build/ or *.egg-info in the tree."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(
        ROOT / "kubectl_userns",
        dest / "kubectl_userns",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return dest


def build_project_wheel(work: Path) -> Path:
    """The wheel of kubectl-userns, built from a copy so that the work tree gets no build/."""
    src = source_copy(work / "src")
    out = work / "project"
    _pip(["wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(src)], "building the wheel")
    wheels = sorted(out.glob("kubectl_userns-*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"expected one kubectl_userns wheel in {out}, found {len(wheels)}")
    return wheels[0]


def build_python_dists(uv: str, work: Path, out_dir: Path) -> list[Path]:
    """The sdist and wheel to publish on PyPI, built by uv (PEP 517, isolated) from a copy of
    the sources, so that the work tree gets no build/ or *.egg-info."""
    src = source_copy(work / "pysrc")
    built = work / "pydist"
    _run(
        [uv, "build", "--quiet", "--out-dir", str(built), str(src)], "building the sdist and wheel"
    )
    dists = sorted(built.glob("kubectl_userns-*"))
    if len(dists) != 2:
        raise BuildError(f"expected one sdist and one wheel in {built}, found {len(dists)}")
    for dist in dists:
        shutil.copy2(dist, out_dir / dist.name)
    return [out_dir / d.name for d in dists]


def _uv_env(target: Target) -> dict[str, str] | None:
    return {"MACOSX_DEPLOYMENT_TARGET": MACOS_TARGET} if target.os == "darwin" else None


def lock_dependencies(uv: str, target: Target, oldest_python: str, work: Path) -> Path:
    """Pin one version of each dependency for ``target``: the newest with wheels for it under
    the oldest supported Python. Every Python version then installs these versions, so they can
    share the pure-Python files. (Targets may differ: a library can stop shipping wheels for one
    platform, as cryptography did for Intel macOS.)"""
    lock = work / f"{target.os}_{target.arch}.txt"
    _run(
        [
            uv, "pip", "compile", "--quiet", "--python-platform", target.uv_platform,
            "--python-version", oldest_python, "--only-binary", ":all:",
            "--no-header", "--no-annotate", "--output-file", str(lock),
            str(ROOT / "pyproject.toml"),
        ],
        f"resolving the dependencies for {target.name}",
        env=_uv_env(target),
    )  # fmt: skip
    return lock


def install_for(
    uv: str, target: Target, python: str, lock: Path, project_wheel: Path, dest: Path
) -> None:
    """Install kubectl-userns and its dependencies, held to the versions in ``lock``, as
    ``target`` and CPython ``python`` need them (wheels only; uv judges the environment markers
    for that platform and version, where pip would judge them for the running interpreter)."""
    _run(
        [
            uv, "pip", "install", "--quiet", "--python", sys.executable, "--target", str(dest),
            "--python-platform", target.uv_platform, "--python-version", python,
            "--only-binary", ":all:", "--link-mode", "copy", "--no-compile",
            "--constraints", str(lock), str(project_wheel),
        ],
        f"installing the wheels for {target.name}, Python {python}",
        env=_uv_env(target),
    )  # fmt: skip


def installed_versions(site: Path) -> tuple[str, ...]:
    """``name==version`` of every distribution in a site-packages tree."""
    found = []
    for info in sorted(site.glob("*.dist-info")):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        found.append(f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}")
    return tuple(found)


# Files an installer adds to a .dist-info that record where and how it installed: they name the
# build's temporary directory, so they would make every build's bytes differ.
INSTALLER_RECORDS = ("direct_url.json", "uv_cache.json")


def forget_install_paths(installed: Path) -> None:
    """Remove INSTALLER_RECORDS from every .dist-info, and their lines from RECORD."""
    for info in installed.glob("*.dist-info"):
        dropped = [name for name in INSTALLER_RECORDS if (info / name).is_file()]
        if not dropped:
            continue
        for name in dropped:
            (info / name).unlink()
        record = info / "RECORD"
        if record.is_file():
            prefixes = tuple(f"{info.name}/{name}," for name in dropped)
            lines = record.read_text().splitlines(keepends=True)
            record.write_text("".join(line for line in lines if not line.startswith(prefixes)))


def merge_into(installed: Path, site: Path) -> None:
    """Move an installed tree into ``site``; files already there win.

    The oldest Python version is merged first and provides every shared file; later versions
    add only their own extension modules (their file names carry the Python version). The
    ``bin/`` console scripts are left out: the launcher replaces them. Files are hard-linked
    (both trees are the build's own temporary files), copied where a link cannot be made.
    """
    for path in sorted(installed.rglob("*")):
        rel = path.relative_to(installed)
        if rel.parts[0] == "bin" or "__pycache__" in rel.parts:
            continue
        out = site / rel
        if path.is_symlink() or not (path.is_dir() or path.is_file()):
            raise BuildError(f"{path} is neither a regular file nor a directory")
        if path.is_dir():
            out.mkdir(parents=True, exist_ok=True)
        elif not out.exists():
            try:
                os.link(path, out)
            except OSError:
                shutil.copyfile(path, out)


def build_site(
    uv: str, project_wheel: Path, target: Target, pythons: Sequence[str], work: Path
) -> Path:
    """The merged site-packages tree for ``target``."""
    base = work / f"{target.os}_{target.arch}"
    site = base / "lib"
    site.mkdir(parents=True)
    lock = lock_dependencies(uv, target, pythons[0], base)
    for python in pythons:
        installed = base / f"py{python}"
        install_for(uv, target, python, lock, project_wheel, installed)
        forget_install_paths(installed)
        merge_into(installed, site)
    prune(site)
    return site


def launcher_text(path: Path, pythons: Sequence[str]) -> str:
    """A launcher file with its ``SUPPORTED`` line set to ``pythons``."""
    text = path.read_text()
    line = re.compile(r'^SUPPORTED *= *"[^"]*"$', re.MULTILINE)
    if len(line.findall(text)) != 1:
        raise BuildError(f'{path} must have exactly one line SUPPORTED = "..."')
    assign = "SUPPORTED=" if path.suffix == ".sh" else "SUPPORTED = "
    return line.sub(f'{assign}"{" ".join(pythons)}"', text)


def _tree_members(root: Path, prefix: str) -> Iterable[tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        yield f"{prefix}/{path.relative_to(root).as_posix()}", path


def write_archive(out: Path, launchers: tuple[str, str], site: Path, epoch: int) -> None:
    """A tar.gz that krew can unpack: only regular files and directories, relative names."""

    def info(name: str, mode: int, size: int = 0, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.size, ti.mtime = kind, mode, size, epoch
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        return ti

    texts = dict(zip((BIN, LAUNCHER_PY_NAME), launchers, strict=True))
    members: list[tuple[str, Path | None]] = [(BIN, None), (LAUNCHER_PY_NAME, None)]
    members += [(name, ROOT / name) for name in EXTRA_FILES if (ROOT / name).is_file()]
    members += [("lib", site), *_tree_members(site, "lib")]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in members:
            if path is None:
                data = texts[name].encode()
                mode = 0o755 if name == BIN else 0o644
                tar.addfile(info(name, mode, len(data)), io.BytesIO(data))
            elif path.is_dir():
                tar.addfile(info(name, 0o755, kind=tarfile.DIRTYPE))
            elif path.is_file() and not path.is_symlink():
                size = path.stat().st_size
                with path.open("rb") as f:
                    tar.addfile(info(name, 0o644, size), f)
            else:
                raise BuildError(f"{path} is neither a regular file nor a directory")
    with (
        out.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
    ):
        gz.write(buffer.getvalue())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def render_manifest(
    version: str, homepage: str, url_base: str, pythons: Sequence[str], archives: Sequence[Archive]
) -> str:
    if not archives:
        raise BuildError("no archive was built, so the manifest would list no platform")
    tag = f"v{version}"
    base = url_base.format(homepage=homepage.rstrip("/"), tag=tag, version=version).rstrip("/")
    entries = []
    for a in archives:
        extras = "".join(
            f"    - from: {name}\n      to: .\n" for name in EXTRA_FILES if (ROOT / name).is_file()
        )
        entries.append(
            "  - selector:\n"
            "      matchLabels:\n"
            f"        os: {a.target.os}\n"
            f"        arch: {a.target.arch}\n"
            f"    uri: {base}/{a.path.name}\n"
            f"    sha256: {a.sha256}\n"
            f"    bin: {BIN}\n"
            "    files:\n"
            f"    - from: {BIN}\n      to: .\n"
            f"    - from: {LAUNCHER_PY_NAME}\n      to: .\n"
            "    - from: lib\n      to: .\n"
            f"{extras}"
        )
    body = "\n".join(line for line in TEMPLATE.read_text().splitlines() if not line.startswith("#"))
    header = f"# Generated by scripts/dist from krew/{TEMPLATE.name} for {tag}: do not edit.\n"
    filled = Template(body + "\n").substitute(
        version=tag,
        homepage=homepage,
        python_range=f"{pythons[0]} to {pythons[-1]}",
        platforms="".join(entries).rstrip("\n"),
    )
    return header + filled


def build(
    targets: Sequence[Target],
    pythons: Sequence[str],
    out_dir: Path,
    manifest_paths: Sequence[Path],
    homepage: str | None,
    url_base: str,
    log: bool = True,
) -> list[Archive]:
    """Write one archive per target into ``out_dir`` and the manifest to ``manifest_paths``."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_EPOCH))
    launchers = (launcher_text(LAUNCHER, pythons), launcher_text(LAUNCHER_PY, pythons))
    out_dir.mkdir(parents=True, exist_ok=True)
    uv = uv_command()
    with tempfile.TemporaryDirectory(prefix="kubectl-userns-dist-") as tmp:
        work = Path(tmp)
        project = read_project(build_project_wheel(work))

        def build_target(target: Target) -> Archive:
            site = build_site(uv, project.wheel, target, pythons, work)
            path = out_dir / archive_name(project.version, target)
            write_archive(path, launchers, site, epoch)
            bundled = installed_versions(site)
            path.with_name(path.name.removesuffix(".tar.gz") + ".versions.txt").write_text(
                "".join(f"{line}\n" for line in bundled)
            )
            archive = Archive(target, path, sha256_of(path), bundled)
            if log:
                size = path.stat().st_size / 1e6
                print(f"{target.name}: {path} ({size:.1f} MB)", flush=True)
            return archive

        if log:
            print(f"bundling for Python {', '.join(pythons)}", flush=True)
        # the targets wait mostly on the package index, so they are built side by side
        with ThreadPoolExecutor(max_workers=len(targets)) as pool:
            archives = list(pool.map(build_target, targets))
        for python_dist in build_python_dists(uv, work, out_dir):
            if log:
                print(f"python: {python_dist}", flush=True)
    home = homepage or project.homepage
    if not home:
        raise BuildError(
            "pyproject.toml names no home: set [project.urls] Homepage (or give --homepage)"
        )
    manifest = render_manifest(
        project.version,
        home,
        url_base,
        pythons,
        archives,
    )
    for manifest_path in manifest_paths:
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        manifest_path.write_text(manifest)
        if log:
            print(f"manifest: {manifest_path}", flush=True)
    return archives


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/dist",
        description="Build the krew archives of kubectl-userns and fill in krew/userns.yaml.",
    )
    parser.add_argument(
        "--platform",
        action="append",
        choices=sorted(TARGETS),
        help="os/arch to build (repeatable; default: all of them)",
    )
    parser.add_argument(
        "--python",
        action="append",
        choices=PYTHONS,
        help="Python version to bundle compiled libraries for (repeatable; default: all)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="archive directory")
    parser.add_argument(
        "--manifest",
        type=Path,
        default=ROOT / "krew" / f"{PLUGIN}.yaml",
        help="where to write the manifest (a copy always goes into --out)",
    )
    parser.add_argument(
        "--homepage",
        default=os.environ.get(HOMEPAGE_ENV) or None,
        help=f"the plugin's homepage (env {HOMEPAGE_ENV}; default: the Homepage of pyproject's "
        "project.urls, the one place that names it)",
    )
    parser.add_argument(
        "--url-base",
        default=os.environ.get(URL_BASE_ENV) or DEFAULT_URL_BASE,
        help="where the archives are published, with {homepage}, {tag} and {version} filled "
        f"in (env {URL_BASE_ENV}; default: {DEFAULT_URL_BASE})",
    )
    args = parser.parse_args(argv)
    targets = [TARGETS[name] for name in (args.platform or sorted(TARGETS))]
    pythons = sorted(set(args.python or PYTHONS), key=lambda v: tuple(map(int, v.split("."))))
    out = args.out.resolve()
    try:
        build(
            targets,
            pythons,
            out,
            [args.manifest.resolve(), out / f"{PLUGIN}.yaml"],
            args.homepage,
            args.url_base,
        )
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
