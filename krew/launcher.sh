#!/bin/sh
# Launcher of the krew archive, installed as kubectl-userns: finds a Python 3 on PATH and runs
# the archive's launcher.py on it, isolated (-I: no user site-packages, no PYTHON* variables, no
# script directory on sys.path), so that nothing installed on the machine can shadow the bundled
# libraries. krew links ~/.krew/bin/kubectl-userns to this file; linked as
# kubectl_complete-userns it answers kubectl's shell-completion requests (launcher.py decides by
# the name it was started by, passed on as its first argument).
#
# POSIX sh with builtins only (it must work before any Python is known, and macOS has no
# readlink -f): Python itself resolves the links to find launcher.py next to the real file.
# scripts/build_krew.py fills in SUPPORTED.
SUPPORTED="3.10 3.11 3.12 3.13 3.14"

boot='import os, sys
here = os.path.dirname(os.path.realpath(sys.argv[1]))
launcher = os.path.join(here, "launcher.py")
if not os.path.isfile(launcher):
    sys.stderr.write("error: the libraries of kubectl userns are missing from %s; reinstall the plugin with %s.\n" % (os.path.join(here, "lib"), "'"'"'kubectl krew uninstall userns && kubectl krew install userns'"'"'"))
    sys.exit(3)
sys.argv[0] = launcher
with open(launcher) as source:
    code = compile(source.read(), launcher, "exec")
exec(code, {"__name__": "__main__", "__file__": launcher})'

# python3 first, then the supported python3.X from newest to oldest; launcher.py checks the
# version and moves to a supported python3.X itself when python3 is too old or too new
newest_first=
for version in $SUPPORTED; do newest_first="python$version $newest_first"; done
for name in python3 $newest_first; do
  if command -v "$name" >/dev/null 2>&1; then
    exec "$name" -I -c "$boot" "$0" "$@"
  fi
done
oldest=${SUPPORTED%% *}
newest=${SUPPORTED##* }
echo "error: kubectl userns needs Python $oldest to $newest on PATH (as python3 or python3.X) and found none; install one, or install the plugin with pipx (pipx install kubectl-userns)." >&2
exit 3
