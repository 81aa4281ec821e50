"""Distribution: the krew archives and manifest of scripts/dist, and `pip install .`.

The archives are checked the way krew handles them (krew's manifest validation, its tar
extraction, its `files` moves and the `~/.krew/bin` symlink), then run through the real kubectl
with the system's python3 and no virtualenv on PATH.

One linux/amd64 build (all bundled Python versions) is made per test session, shared by xdist
workers. To check a full release build instead, point KUBECTL_USERNS_DIST at its directory
(`scripts/dist` writes dist/ with the archives and userns.yaml).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_userns import __version__
from tests.cli import Run

pytestmark = pytest.mark.packaging  # run apart from the rest (scripts/test)
ROOT = Path(__file__).resolve().parent.parent
DIST_ENV = "KUBECTL_USERNS_DIST"
PLUGIN = "userns"
SYSTEM_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
ALL_TARGETS = {("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64")}
# How each platform names a CPython extension module: <module>.cpython-3XY-<suffix>.so
EXTENSION_SUFFIX = {
    ("linux", "amd64"): "x86_64-linux-gnu",
    ("linux", "arm64"): "aarch64-linux-gnu",
    ("darwin", "amd64"): "darwin",
    ("darwin", "arm64"): "darwin",
}


# --- krew's rules, written down from krew's validation and installation code ----------------


# Names Windows reserves; krew refuses them as plugin names (pkg/index/validation/validate.go).
WINDOWS_FORBIDDEN = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10))}
WINDOWS_FORBIDDEN |= {f"lpt{i}" for i in range(1, 10)}
# The os/arch pairs krew-index's validate-krew-manifest checks selectors against
# (cmd/validate-krew-manifest/main.go allPlatforms), plus the arm64 ones krew ships for today.
KREW_PLATFORMS = [
    ("windows", "386"), ("windows", "amd64"), ("linux", "386"), ("linux", "amd64"),
    ("linux", "arm"), ("linux", "arm64"), ("darwin", "386"), ("darwin", "amd64"),
    ("darwin", "arm64"),
]  # fmt: skip


def _selector_matches(selector: Mapping[str, Any], os_name: str, arch: str) -> bool:
    """A Kubernetes label selector (matchLabels and In/NotIn/Exists expressions) on os, arch."""
    labels = {"os": os_name, "arch": arch}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if (op == "In" and labels.get(key) not in values) or (
            op == "NotIn" and labels.get(key) in values
        ):
            return False
        if (op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


def _long_lines(text: str, limit: int) -> list[str]:
    """Lines over ``limit`` characters that contain a space (validate-krew-manifest's rule)."""
    return [line for line in text.split("\n") if len(line) > limit and " " in line.strip()]


def krew_manifest_problems(manifest: Any, file_name: str) -> list[str]:
    """What krew's plugin validation (pkg/index/validation/validate.go), krew-index's CI
    (cmd/validate-krew-manifest/main.go) and krew's developer guide
    (site/content/docs/developer-guide/plugin-manifest.md) would reject in ``manifest``."""
    problems: list[str] = []
    if not isinstance(manifest, dict):
        return ["the manifest is not a mapping"]
    if manifest.get("apiVersion") != "krew.googlecontainertools.github.com/v1alpha2":
        problems.append(f"unsupported apiVersion {manifest.get('apiVersion')!r}")
    if manifest.get("kind") != "Plugin":
        problems.append(f"kind is {manifest.get('kind')!r}, not 'Plugin'")
    if not file_name.endswith(".yaml"):
        problems.append(f"manifest file {file_name!r} does not end in .yaml")
    expected_name = file_name.removesuffix(".yaml")
    name = (manifest.get("metadata") or {}).get("name")
    if not re.fullmatch(r"[\w-]+", expected_name) or expected_name.lower() in WINDOWS_FORBIDDEN:
        problems.append(f"file name {file_name!r} is not a safe plugin name")
    if name != expected_name:
        problems.append(f"plugin should be named {expected_name!r} (its file name), not {name!r}")
    spec = manifest.get("spec") or {}
    short = spec.get("shortDescription")
    if not isinstance(short, str) or not short:
        problems.append("no shortDescription")
    elif "\n" in short or "\r" in short or _long_lines(short, 70):
        problems.append("shortDescription is not one line of at most 70 characters")
    description = spec.get("description") or ""
    caveats = spec.get("caveats") or ""
    for field, text in (("description", description), ("caveats", caveats)):
        if _long_lines(text, 80):
            problems.append(f"{field} has lines over 80 characters")
    # the guide: no list of commands or options in the description (-h does that), and
    # caveats only for the steps a user must take, not documentation
    if re.search(r"kubectl \S+ [a-z-]+ |--[a-z]", description):
        problems.append("description lists commands or flags (the guide says: leave that to -h)")
    if len([line for line in caveats.splitlines() if line.strip()]) > 6:
        problems.append("caveats read as documentation (more than 6 lines)")
    version = spec.get("version")
    semver = r"v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"
    if not isinstance(version, str) or not re.fullmatch(semver, version):
        problems.append(f"version {version!r} is not a semantic version with a leading 'v'")
    platforms = spec.get("platforms")
    if not isinstance(platforms, list) or not platforms:
        return [*problems, "no platforms"]
    for i, platform in enumerate(platforms):
        where = f"platforms[{i}]"
        if not platform.get("uri"):
            problems.append(f"{where}: no uri")
        if not re.fullmatch(r"[a-f0-9]{64}", str(platform.get("sha256", ""))):
            problems.append(f"{where}: sha256 {platform.get('sha256')!r} is not 64 hex digits")
        if not platform.get("bin"):
            problems.append(f"{where}: no bin")
        files = platform.get("files")
        if not files:
            problems.append(f"{where}: no file operations (krew: can't have a plugin without)")
        for op in files or []:
            if not op.get("from") or not op.get("to"):
                problems.append(f"{where}: a files entry lacks from or to: {op}")
            elif os.path.normpath(op["to"]) != op["to"]:
                problems.append(f"{where}: files 'to' {op['to']!r} is not a clean path")
        if not any(op.get("from") == "LICENSE" for op in files or []):
            problems.append(f"{where}: the LICENSE is not extracted (krew-index checklist)")
        selector = platform.get("selector")
        if not isinstance(selector, dict) or not (
            selector.get("matchLabels") or selector.get("matchExpressions")
        ):
            problems.append(f"{where}: empty or missing selector")
            continue
        keys = set(selector.get("matchLabels") or {})
        keys |= {e.get("key") for e in selector.get("matchExpressions") or []}
        if keys - {"os", "arch"}:
            problems.append(f"{where}: selector keys {sorted(keys - {'os', 'arch'})} unsupported")
        elif not any(_selector_matches(selector, o, a) for o, a in KREW_PLATFORMS):
            problems.append(f"{where}: selector matches no platform krew supports")
    for os_name, arch in KREW_PLATFORMS:
        matching = [
            i
            for i, p in enumerate(platforms)
            if isinstance(p.get("selector"), dict)
            and _selector_matches(p["selector"], os_name, arch)
        ]
        if len(matching) > 1:
            problems.append(f"platforms {matching} overlap on {os_name}/{arch}")
    return problems


def krew_extract(archive: Path, dest: Path) -> None:
    """Unpack like krew: gzip'd tar (or zip), regular files and directories only, no '..' or
    absolute names (krew refuses anything else)."""
    with archive.open("rb") as f:
        magic = f.read(2)
    assert magic == b"\x1f\x8b", f"{archive.name} is not gzip: krew sniffs the type from the bytes"
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            if member.name == "pax_global_header":
                continue
            assert ".." not in member.name, f"krew refuses the entry {member.name!r}"
            assert not member.name.startswith(("/", "\\")), f"absolute entry {member.name!r}"
            target = dest / member.name
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True, mode=member.mode)
            elif member.isreg():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                with target.open("wb") as out:
                    shutil.copyfileobj(source, out)
                target.chmod(member.mode & 0o777)
            else:
                raise AssertionError(
                    f"krew cannot unpack {member.name!r} (tar type {member.type!r})"
                )


def krew_move(staging: Path, install_dir: Path, files: Sequence[Mapping[str, str]]) -> None:
    """Apply a platform's ``files`` as krew does: a path that exists moves directly (``to: .``
    keeps its name), anything else is a glob whose matches go into the ``to`` directory."""
    install_dir.mkdir(parents=True)
    for op in files:
        direct = staging / op["from"]
        if direct.exists():
            moves = [(direct, install_dir / (direct.name if op["to"] == "." else op["to"]))]
        else:
            matches = sorted(staging.glob(op["from"]))
            assert matches, f"no file in the archive matches {op['from']!r}"
            moves = [(m, install_dir / op["to"] / m.name) for m in matches]
        for source, target in moves:
            assert target.resolve().is_relative_to(install_dir.resolve()), f"{target} escapes"
            target.parent.mkdir(parents=True, exist_ok=True)
            source.rename(target)


@dataclass(frozen=True)
class KrewInstall:
    root: Path  # KREW_ROOT
    install_dir: Path  # store/<plugin>/<version>
    link: Path  # bin/kubectl-<plugin>


def krew_install(
    archive: Path, platform: Mapping[str, Any], version: str, root: Path
) -> KrewInstall:
    """Install one platform's archive under ``root`` the way `kubectl krew install` does."""
    staging = root / "staging"
    staging.mkdir(parents=True)
    krew_extract(archive, staging)
    install_dir = root / "store" / PLUGIN / version
    krew_move(staging, install_dir, platform.get("files") or [{"from": "*", "to": "."}])
    binary = install_dir / platform["bin"]
    assert binary.is_file(), f"bin {platform['bin']!r} is not in the archive after the files moves"
    link = root / "bin" / f"kubectl-{PLUGIN.replace('-', '_')}"
    link.parent.mkdir(parents=True)
    link.symlink_to(os.path.relpath(binary, link.parent))
    return KrewInstall(root, install_dir, link)


# --- the build ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    directory: Path
    manifest: dict[str, Any]
    full: bool  # a release build with every platform, not the session's linux/amd64 build


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    given = os.environ.get(DIST_ENV)
    if given:
        directory = Path(given).resolve()
        return Dist(directory, yaml.safe_load((directory / f"{PLUGIN}.yaml").read_text()), True)
    # one build for all xdist workers: their base temp dirs share a parent
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    directory = shared / "dist-linux-amd64"
    with (shared / "dist.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / f"{PLUGIN}.yaml").is_file():
            command = [sys.executable, str(ROOT / "scripts" / "build_krew.py")]
            command += ["--platform", "linux/amd64", "--out", str(directory)]
            command += ["--manifest", str(directory / f"{PLUGIN}.yaml")]
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"scripts/dist failed:\n{done.stdout}{done.stderr}"
    return Dist(directory, yaml.safe_load((directory / f"{PLUGIN}.yaml").read_text()), False)


def _platforms(dist: Dist) -> list[dict[str, Any]]:
    return list(dist.manifest["spec"]["platforms"])


def _labels(platform: Mapping[str, Any]) -> tuple[str, str]:
    labels = platform["selector"]["matchLabels"]
    return str(labels["os"]), str(labels["arch"])


def _archive(dist: Dist, platform: Mapping[str, Any]) -> Path:
    return dist.directory / str(platform["uri"]).rsplit("/", 1)[-1]


def _platform(dist: Dist, os_arch: tuple[str, str]) -> dict[str, Any]:
    for platform in _platforms(dist):
        if _labels(platform) == os_arch:
            return platform
    raise AssertionError(f"the manifest has no platform {os_arch}")


# --- the manifest ------------------------------------------------------------------------


def test_manifest_passes_krews_validation(dist: Dist) -> None:
    assert krew_manifest_problems(dist.manifest, f"{PLUGIN}.yaml") == []


def test_the_validation_catches_what_krew_rejects(dist: Dist) -> None:
    manifest = yaml.safe_load(yaml.safe_dump(dist.manifest))
    manifest["metadata"]["name"] = "user-ns"
    manifest["spec"]["version"] = __version__  # no leading v
    manifest["spec"]["platforms"][0]["sha256"] = "ABC"
    manifest["spec"]["platforms"][0]["selector"] = {"matchLabels": {"distro": "debian"}}
    problems = krew_manifest_problems(manifest, f"{PLUGIN}.yaml")
    assert len(problems) == 4, problems
    assert krew_manifest_problems(dist.manifest, "user-ns.yaml") == [
        "plugin should be named 'user-ns' (its file name), not 'userns'"
    ]


def test_the_validation_catches_what_krew_index_and_its_guide_reject(dist: Dist) -> None:
    manifest = yaml.safe_load(yaml.safe_dump(dist.manifest))
    spec = manifest["spec"]
    spec["platforms"].append(yaml.safe_load(yaml.safe_dump(spec["platforms"][0])))
    spec["platforms"][0]["files"] = [
        f for f in spec["platforms"][0]["files"] if f["from"] != "LICENSE"
    ]
    spec["description"] += "`kubectl userns inspect POD` checks one pod.\n"
    spec["caveats"] += "".join(f"Step {i} of a long how-to.\n" for i in range(6))
    problems = krew_manifest_problems(manifest, f"{PLUGIN}.yaml")
    assert any("overlap on linux/amd64" in p for p in problems), problems
    assert any("LICENSE is not extracted" in p for p in problems), problems
    assert any("description lists commands" in p for p in problems), problems
    assert any("caveats read as documentation" in p for p in problems), problems
    assert krew_manifest_problems(dist.manifest, "con.yaml")[0] == (
        "file name 'con.yaml' is not a safe plugin name"
    )


def test_manifest_describes_this_version_and_its_archives(dist: Dist) -> None:
    spec = dist.manifest["spec"]
    assert spec["version"] == f"v{__version__}"
    assert spec["homepage"].startswith("https://")
    assert "Python 3." in spec["caveats"] and "sudo" in spec["caveats"]
    labels = [_labels(p) for p in _platforms(dist)]
    assert len(labels) == len(set(labels)), "two platforms with the same os/arch"
    assert set(labels) == (ALL_TARGETS if dist.full else {("linux", "amd64")})
    for platform in _platforms(dist):
        os_name, arch = _labels(platform)
        archive = _archive(dist, platform)
        assert archive.name == f"kubectl-userns_v{__version__}_{os_name}_{arch}.tar.gz"
        assert platform["uri"].startswith("https://")
        assert f"/v{__version__}/" in platform["uri"]
        assert hashlib.sha256(archive.read_bytes()).hexdigest() == platform["sha256"]
        assert platform["bin"] == "kubectl-userns"


def test_manifest_is_generated_from_the_template(dist: Dist) -> None:
    text = (dist.directory / f"{PLUGIN}.yaml").read_text()
    assert text.startswith("# Generated by scripts/dist from krew/userns.yaml.in")
    assert "${" not in text
    template = (ROOT / "krew" / "userns.yaml.in").read_text()
    assert dist.manifest["spec"]["shortDescription"] in template


# --- the archives, installed the way krew does it ---------------------------------------


def _elf_or_macho_arch(path: Path) -> str:
    head = path.read_bytes()[:20]
    if head[:4] == b"\x7fELF":
        machine = int.from_bytes(head[18:20], "little")
        return {62: "linux/amd64", 183: "linux/arm64"}.get(machine, f"elf-{machine}")
    if head[:4] == b"\xcf\xfa\xed\xfe":
        cpu = int.from_bytes(head[4:8], "little")
        return {0x01000007: "darwin/amd64", 0x0100000C: "darwin/arm64"}.get(cpu, f"macho-{cpu}")
    if head[:4] == b"\xca\xfe\xba\xbe":
        return "darwin/universal2"
    return "unknown"


def _supported_pythons(launcher: Path) -> list[str]:
    found = re.search(r'^SUPPORTED ?= ?"([^"]*)"$', launcher.read_text(), re.MULTILINE)
    assert found, "the launcher does not say which Python versions it supports"
    return found.group(1).split()


def test_every_platform_installs_like_krew_with_its_own_native_code(
    dist: Dist, tmp_path: Path
) -> None:
    for platform in _platforms(dist):
        os_name, arch = _labels(platform)
        install = krew_install(
            _archive(dist, platform), platform, f"v{__version__}", tmp_path / f"{os_name}-{arch}"
        )
        launcher = install.link.resolve()
        assert launcher == (install.install_dir / "kubectl-userns").resolve()
        assert os.access(launcher, os.X_OK)
        assert launcher.read_text().startswith("#!/bin/sh\n")  # finds a Python by itself
        assert _supported_pythons(install.install_dir / "launcher.py") == _supported_pythons(
            launcher
        )
        lib = install.install_dir / "lib"
        assert (lib / "kubectl_userns" / "cli" / "app.py").is_file()
        pythons = _supported_pythons(launcher)
        assert pythons[0] == "3.10"
        for python in pythons:
            tag = "cpython-3" + python.split(".")[1]
            suffix = EXTENSION_SUFFIX[(os_name, arch)]
            module = lib / f"_cffi_backend.{tag}-{suffix}.so"
            assert module.is_file(), f"{os_name}/{arch} lacks cffi for Python {python}"
            assert _elf_or_macho_arch(module) in (f"{os_name}/{arch}", "darwin/universal2")
        rust = lib / "cryptography" / "hazmat" / "bindings" / "_rust.abi3.so"
        assert _elf_or_macho_arch(rust) in (f"{os_name}/{arch}", "darwin/universal2")


@pytest.fixture(scope="module")
def linux_install(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> KrewInstall:
    platform = _platform(dist, ("linux", "amd64"))
    root = tmp_path_factory.mktemp("krew") / ".krew"
    return krew_install(_archive(dist, platform), platform, f"v{__version__}", root)


def _clean_env(path: Sequence[str | Path], home: Path) -> dict[str, str]:
    """An environment with no virtualenv, no PYTHONPATH and only ``path`` on PATH."""
    return {"PATH": os.pathsep.join(map(str, path)), "HOME": str(home), "LANG": "C.UTF-8"}


def _run(
    argv: Sequence[str | Path], env: Mapping[str, str], cwd: Path, timeout: float = 120
) -> Run:
    done = subprocess.run(
        [str(a) for a in argv],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(done.stdout, done.stderr, done.returncode)


def _kubectl() -> str:
    kubectl = shutil.which("kubectl", path=os.pathsep.join(SYSTEM_PATH))
    assert kubectl, "kubectl is not installed in the system directories"
    return kubectl


def test_kubectl_runs_the_krew_install_with_the_system_python(
    linux_install: KrewInstall, tmp_path: Path
) -> None:
    env = _clean_env([linux_install.root / "bin", *SYSTEM_PATH], tmp_path)
    python3 = shutil.which("python3", path=env["PATH"])
    assert python3 and not Path(python3).resolve().is_relative_to(ROOT), python3
    # the system Python cannot import kubectl_userns by itself: what runs comes from the archive
    assert _run([python3, "-c", "import kubectl_userns"], env, tmp_path).exit_code == 1

    listed = _run([_kubectl(), "plugin", "list"], env, tmp_path)
    assert str(linux_install.link) in listed.stdout

    top = _run([_kubectl(), "userns", "--help"], env, tmp_path)
    assert top.exit_code == 0, top.stderr
    assert top.stdout.startswith("Usage: kubectl userns [OPTIONS] COMMAND [ARGS]...")
    for command in ("inspect", "verify-node", "new-pod", "convert"):
        assert re.search(rf"^\s+{command}\s", top.stdout, re.MULTILINE), command
    assert top.stderr == ""

    version = _run([_kubectl(), "userns", "--version"], env, tmp_path)
    assert (version.exit_code, version.stdout) == (0, f"kubectl-userns {__version__}\n")

    new_pod_help = _run([_kubectl(), "userns", "new-pod", "--help"], env, tmp_path)
    assert new_pod_help.exit_code == 0, new_pod_help.stderr
    assert new_pod_help.stdout.startswith("Usage: kubectl userns new-pod")
    assert "Examples:" in new_pod_help.stdout

    new_pod = _run([_kubectl(), "userns", "new-pod"], env, tmp_path)
    if new_pod.exit_code == 0:
        assert "hostUsers: false" in new_pod.stdout
    else:  # still the placeholder: a clean usage error, no traceback
        assert new_pod.exit_code == 2
        assert new_pod.stderr.startswith("error: ") and new_pod.stderr.count("\n") == 1


def _pythons_here() -> Iterator[tuple[str, Path]]:
    """CPython interpreters on this machine by version: the system's and pyenv's."""
    candidates = [Path("/usr/bin/python3")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(pyenv.glob("3.*/bin/python3"))
    seen = set()
    for candidate in candidates:
        if not candidate.is_file():
            continue
        done = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        version = done.stdout.strip()
        if done.returncode == 0 and version not in seen:
            seen.add(version)
            yield version, candidate


IMPORT_EVERYTHING = """
import sys
sys.path[:0] = [sys.argv[1]]
import paramiko, yaml, jsonpath_ng
import cryptography.hazmat.bindings._rust, nacl.bindings, bcrypt
import kubectl_userns.cli.app, kubectl_userns.access.api, kubectl_userns.access.node
# not in the bundle: the kubernetes client, aiohttp and pydantic (typer < 0.29) are no
# dependencies, libyaml's binding is pruned (scripts/build_krew.py PRUNED_PATHS); looked for
# in the bundle only, not in this Python's site
import importlib.machinery
for absent in ("kubernetes", "aiohttp", "pydantic", "pydantic_core"):
    assert importlib.machinery.PathFinder.find_spec(absent, [sys.argv[1]]) is None, absent
assert not yaml.__with_libyaml__
for name in ("_cffi_backend",):
    module = sys.modules[name]
    assert module.__file__.startswith(sys.argv[1]), module.__file__
    print(module.__file__.rsplit("/", 1)[-1])
"""


def test_the_bundle_imports_on_every_supported_python_here(linux_install: KrewInstall) -> None:
    supported = _supported_pythons(linux_install.link.resolve())
    lib = linux_install.install_dir / "lib"
    tried = []
    for version, python in _pythons_here():
        if version not in supported:
            continue
        done = subprocess.run(
            [python, "-I", "-B", "-c", IMPORT_EVERYTHING, str(lib)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"Python {version}: {done.stderr}"
        tag = f"cpython-3{version.split('.')[1]}-x86_64-linux-gnu.so"
        assert done.stdout.split() and all(line.endswith(tag) for line in done.stdout.split())
        tried.append(version)
    assert tried, "no supported Python found on this machine"


def test_the_launcher_moves_to_a_supported_python_or_says_what_to_install(
    linux_install: KrewInstall, tmp_path: Path
) -> None:
    here = dict(_pythons_here())
    supported = _supported_pythons(linux_install.link.resolve())
    old = sorted(v for v in here if v in ("3.8", "3.9"))
    good = [v for v in here if v in supported]
    if not old or not good:
        pytest.skip("machine: needs a Python older than 3.10 (pyenv) and a supported one")
    version = old[-1]
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "python3").symlink_to(here[version])
    (fake_bin / f"python{good[0]}").symlink_to(here[good[0]])

    moved = _run([linux_install.link, "--version"], _clean_env([fake_bin], tmp_path), tmp_path)
    assert (moved.exit_code, moved.stdout) == (0, f"kubectl-userns {__version__}\n"), moved.stderr

    (fake_bin / f"python{good[0]}").unlink()
    refused = _run([linux_install.link, "--version"], _clean_env([fake_bin], tmp_path), tmp_path)
    assert refused.exit_code == 3
    assert refused.stdout == ""
    assert refused.stderr.startswith(
        f"error: kubectl userns needs Python 3.10 to 3.14 on PATH (as python3 or python3.X) "
        f"but found only Python {version} "
    )
    assert refused.stderr.count("\n") == 1


def test_the_completion_link_of_the_install_notes_survives_krew_upgrade(
    linux_install: KrewInstall, tmp_path: Path
) -> None:
    """docs/install.md links kubectl_complete-userns to krew's own kubectl-userns link, by its
    relative name; `krew upgrade` (kubernetes-sigs/krew internal/installation/upgrade.go)
    installs the new version beside the old, points bin/kubectl-userns at it and removes the
    old version's directory, which a link made with readlink -f pointed into."""
    notes = (ROOT / "docs" / "install.md").read_text()
    assert "$ ln -s kubectl-userns ~/.krew/bin/kubectl_complete-userns\n" in notes
    assert "readlink" not in notes
    root = tmp_path / ".krew"
    store = root / "store" / PLUGIN
    old, new = store / "v0.0.1", store / "v0.0.2"
    store.mkdir(parents=True)
    # copies of the installed plugin as hard links: the same files, no data copied
    subprocess.run(["cp", "-al", str(linux_install.install_dir), str(old)], check=True)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    launcher = linux_install.link.resolve().relative_to(linux_install.install_dir)
    plugin_link = bin_dir / "kubectl-userns"
    plugin_link.symlink_to(os.path.relpath(old / launcher, bin_dir))
    (bin_dir / "kubectl_complete-userns").symlink_to("kubectl-userns")  # as documented
    resolved = bin_dir / "resolved-link"  # the way the notes documented before
    resolved.symlink_to(plugin_link.resolve())
    # krew upgrade
    subprocess.run(["cp", "-al", str(old), str(new)], check=True)
    plugin_link.unlink()
    plugin_link.symlink_to(os.path.relpath(new / launcher, bin_dir))
    shutil.rmtree(old)
    assert not resolved.exists()  # dangles
    done = _run(
        [bin_dir / "kubectl_complete-userns", "new-pod", "--kind", "d"],
        _clean_env(SYSTEM_PATH, tmp_path),
        tmp_path,
    )
    assert (done.exit_code, done.stderr) == (0, "")
    assert done.stdout == "deployment\ndaemonset\n:4\n"


def test_the_launcher_without_its_libraries_says_to_reinstall(
    linux_install: KrewInstall, tmp_path: Path
) -> None:
    alone = tmp_path / "kubectl-userns"
    shutil.copy2(linux_install.link.resolve(), alone)
    done = _run([alone, "--help"], _clean_env(SYSTEM_PATH, tmp_path), tmp_path)
    assert done.exit_code == 3
    assert done.stdout == ""
    assert done.stderr == (
        f"error: the libraries of kubectl userns are missing from {tmp_path / 'lib'}; reinstall "
        "the plugin with 'kubectl krew uninstall userns && kubectl krew install userns'.\n"
    )


def test_the_launcher_without_any_python_says_what_to_install(
    linux_install: KrewInstall, tmp_path: Path
) -> None:
    """No python3 at all: one error line naming the versions and pipx, not env's complaint."""
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _run([linux_install.link, "--help"], _clean_env([empty], tmp_path), tmp_path)
    assert (done.exit_code, done.stdout) == (3, "")
    assert done.stderr == (
        "error: kubectl userns needs Python 3.10 to 3.14 on PATH (as python3 or python3.X) and "
        "found none; install one, or install the plugin with pipx (pipx install "
        "kubectl-userns).\n"
    )


def test_the_launcher_runs_python_isolated(linux_install: KrewInstall, tmp_path: Path) -> None:
    """Packages in the user's site directory or on PYTHONPATH cannot shadow the bundled ones."""
    shadow = tmp_path / "shadow"
    user_sites = [
        tmp_path / ".local" / "lib" / f"python3.{m}" / "site-packages" for m in range(10, 15)
    ]
    for where in (shadow, *user_sites):
        for module in ("yaml", "typer"):
            package = where / module
            package.mkdir(parents=True)
            (package / "__init__.py").write_text("raise SystemExit('SHADOWED ' + __name__)\n")
    env = {**_clean_env(SYSTEM_PATH, tmp_path), "PYTHONPATH": str(shadow)}
    env["PYTHONUSERBASE"] = str(tmp_path / ".local")
    done = _run([linux_install.link, "new-pod"], env, tmp_path)
    assert (done.exit_code, done.stderr) == (0, ""), done.stderr
    assert "hostUsers: false" in done.stdout and "SHADOWED" not in done.stdout


def test_the_launcher_caches_byte_code_where_only_the_user_can_write(
    linux_install: KrewInstall, tmp_path: Path
) -> None:
    cache = linux_install.install_dir / "pycache"
    env = {**_clean_env(SYSTEM_PATH, tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    first = _run([linux_install.link, "new-pod"], env, tmp_path)
    assert first.exit_code == 0, first.stderr
    info = cache.stat()
    assert info.st_uid == os.geteuid() and info.st_mode & 0o777 == 0o700
    compiled = sorted(cache.rglob("*.pyc"))
    assert any("kubectl_userns" in str(p) for p in compiled), "the first run compiled nothing"
    assert not list((linux_install.install_dir / "lib").rglob("__pycache__"))
    second = _run([linux_install.link, "new-pod"], env, tmp_path)
    assert second.stdout == first.stdout
    assert sorted(cache.rglob("*.pyc")) == compiled  # loaded, not written again
    # a cache that others can write is not trusted: nothing is read from or written to it
    cache.chmod(0o777)
    try:
        before = {p: p.stat().st_mtime_ns for p in compiled}
        third = _run([linux_install.link, "new-pod"], env, tmp_path)
        assert third.stdout == first.stdout
        assert {p: p.stat().st_mtime_ns for p in compiled} == before
    finally:
        cache.chmod(0o700)


def test_the_sdist_and_wheel_are_ready_to_publish(dist: Dist) -> None:
    import email.parser
    import zipfile

    (wheel,) = dist.directory.glob(f"kubectl_userns-{__version__}-py3-none-any.whl")
    (sdist,) = dist.directory.glob(f"kubectl_userns-{__version__}.tar.gz")
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.BytesParser().parsebytes(zf.read(name))
        names = zf.namelist()
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Description-Content-Type"] == "text/markdown"
    urls = dict(str(u).split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert (
        urls["Homepage"].startswith("https://")
        and dist.manifest["spec"]["homepage"] == (urls["Homepage"])
    )
    assert any(
        "Programming Language :: Python :: 3.10" in str(c)
        for c in metadata.get_all("Classifier") or []
    )
    description = metadata.get_payload()
    assert isinstance(description, str) and "kubectl userns" in description
    assert not re.search(r"\]\((?!https?://|#)", description), "relative links break on PyPI"
    assert any(n.endswith("probe/inspect.sh") for n in names)
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    assert {"LICENSE", "README.md", "pyproject.toml", "kubectl_userns/probe/node.sh"} <= members
