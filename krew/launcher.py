#!/usr/bin/env python3
"""Launcher of the krew archive: runs the bundled kubectl-userns on a Python 3 from PATH.

The archive holds this file (installed as ``kubectl-userns``) and ``lib/``, one directory with
kubectl-userns and every library it needs, compiled parts included for each supported Python
version. krew links ``~/.krew/bin/kubectl-userns`` to this file, so the real path of this file
leads to ``lib/``. Started through a link named ``kubectl_complete-userns`` (which krew does not
make; the user does, see docs/install.md), it answers kubectl's shell-completion requests.
Nothing is unpacked at run time and nothing is written outside krew's own directory except
Python's byte-code cache next to the sources.

scripts/build_krew.py fills in ``SUPPORTED``. This file must stay plain enough for any Python 3
to read, so that an old one can still print a clear error (no annotations, no newer syntax).
"""

import os
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


def main():
    here = os.path.dirname(os.path.realpath(__file__))
    versions = _versions()
    if tuple(sys.version_info[:2]) not in versions:
        other = None if os.environ.get(RETRY_ENV) else _other_python(versions)
        if other is not None:
            os.environ[RETRY_ENV] = "1"
            # the path it was started by, not its real path: a kubectl_complete-userns link
            # must keep its name
            os.execv(other, [other, sys.argv[0], *sys.argv[1:]])
        oldest, newest = SUPPORTED.split()[0], SUPPORTED.split()[-1]
        found = "{}.{}".format(*sys.version_info[:2])
        sys.stderr.write(
            f"error: kubectl userns needs Python {oldest} to {newest} on PATH (as python3 or "
            f"python3.X) but found only Python {found} ({sys.executable}); install a supported "
            "Python 3, or install the plugin with pipx instead of krew.\n"
        )
        sys.exit(EXIT_INCOMPLETE)
    os.environ.pop(RETRY_ENV, None)
    lib = os.path.join(here, "lib")
    if not os.path.isdir(os.path.join(lib, "kubectl_userns")):
        sys.stderr.write(
            f"error: the libraries of kubectl userns are missing from {lib}; reinstall the "
            "plugin with 'kubectl krew uninstall userns && kubectl krew install userns'.\n"
        )
        sys.exit(EXIT_INCOMPLETE)
    # Replace the script's directory (~/.krew/bin) with the bundled libraries.
    sys.path[0] = lib
    if os.path.basename(sys.argv[0]).startswith("kubectl_complete-"):
        # linked as kubectl_complete-userns: kubectl asks for shell completions
        from kubectl_userns.cli.completion import main as complete_main

        complete_main()
        return
    from kubectl_userns.cli.app import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
