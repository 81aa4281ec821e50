"""The console script's entry point. It imports the program inside the Ctrl-C handler: the
imports take a fifth of a second, and an interrupt then is one error line and exit 130 too,
not a traceback (cli/boundary.py handles an interrupt once a command runs)."""

import sys

INTERRUPTED = "error: interrupted; nothing was changed on any node.\n"


def main() -> None:
    try:
        from kubectl_userns.cli.app import main as run

        run()
    except KeyboardInterrupt:
        sys.stderr.write(INTERRUPTED)
        sys.exit(130)
