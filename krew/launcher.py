"""Second half of the krew archive's launcher: runs the bundled kubectl-userns.

``kubectl-userns`` (krew/launcher.sh, the file krew links) finds a Python 3 on PATH and runs
this file with ``python3 -I launcher.py NAME ARGS...``, NAME being the name it was started by.
The archive holds both files next to ``lib/``, one directory with kubectl-userns and every
library it needs, compiled parts included for each supported Python version. Started as
``kubectl_complete-userns`` (a link the user makes, see docs/install.md) it answers kubectl's
shell-completion requests.

Nothing is unpacked at run time. Python's byte code goes to ``pycache/`` next to ``lib/`` (the
first run compiles, later runs load it), and only when that directory belongs to the user
running the plugin and nobody else can write it; otherwise nothing is written and the sources
are compiled in memory at every run.

scripts/build_krew.py fills in ``SUPPORTED``. This file must stay plain enough for any Python 3
to read, so that an old one can still print a clear error (no annotations, no newer syntax).
"""

import os
import stat
import sys

# Filled in by scripts/build_krew.py: the Python versions whose compiled libraries are bundled.
SUPPORTED = "3.10 3.11 3.12 3.13 3.14"

# Set while this launcher re-runs itself on another Python, so that it cannot loop.
RETRY_ENV = "KUBECTL_USERNS_LAUNCHER_RETRY"
EXIT_INCOMPLETE = 3


def _versions():
    return [tuple(int(part) for part in v.split(".")) for v in SUPPORTED.split()]


def _other_python(versions):
    """The newest supported ``python3.X`` on PATH, or None."""
    for major, minor in sorted(versions, reverse=True):
        name = f"python{major}.{minor}"
        for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
            candidate = os.path.join(directory or ".", name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    return None


def _fail(message):
    sys.stderr.write("error: " + message + "\n")
    sys.exit(EXIT_INCOMPLETE)


def _private_dir(path):
    """``path`` as a directory only the current user can write (made 0700 if missing), or
    None when it cannot be made or trusted: byte code loaded from a directory that someone
    else can write would be their code."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        return None
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return path


def main():
    here = os.path.dirname(os.path.realpath(__file__))
    # argv: this file, the name the plugin was started by, then the user's arguments
    name = sys.argv[1] if len(sys.argv) > 1 else "kubectl-userns"
    args = sys.argv[2:]
    versions = _versions()
    if tuple(sys.version_info[:2]) not in versions:
        other = None if os.environ.get(RETRY_ENV) else _other_python(versions)
        if other is not None:
            os.environ[RETRY_ENV] = "1"
            os.execv(other, [other, "-I", os.path.realpath(__file__), name, *args])
        oldest, newest = SUPPORTED.split()[0], SUPPORTED.split()[-1]
        found = "{}.{}".format(*sys.version_info[:2])
        _fail(
            f"kubectl userns needs Python {oldest} to {newest} on PATH (as python3 or "
            f"python3.X) but found only Python {found} ({sys.executable}); install a supported "
            "Python 3, or install the plugin with pipx (pipx install kubectl-userns)."
        )
    os.environ.pop(RETRY_ENV, None)
    lib = os.path.join(here, "lib")
    if not os.path.isdir(os.path.join(lib, "kubectl_userns")):
        _fail(
            f"the libraries of kubectl userns are missing from {lib}; reinstall the plugin with "
            "'kubectl krew uninstall userns && kubectl krew install userns'."
        )
    cache = _private_dir(os.path.join(here, "pycache"))
    if cache is None:
        sys.dont_write_bytecode = True
    else:
        sys.pycache_prefix = cache
    # -I left the script's directory off sys.path: the bundled libraries come first, alone
    sys.path.insert(0, lib)
    sys.argv = [name, *args]
    if os.path.basename(name).startswith("kubectl_complete-"):
        # linked as kubectl_complete-userns: kubectl asks for shell completions
        from kubectl_userns.cli.completion import main as complete_main

        complete_main()
        return
    from kubectl_userns.cli.entry import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
