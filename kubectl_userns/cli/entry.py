"""The console script's entry point. It imports the program inside the Ctrl-C handler: the
imports take a fifth of a second, and an interrupt then is one error line and exit 130 too,
not a traceback (cli/boundary.py handles an interrupt once a command runs)."""

import gc
import sys

INTERRUPTED = "error: interrupted; nothing was changed on any node.\n"


def main() -> None:
    try:
        # The imports make tens of thousands of objects that live as long as the process, and no
        # garbage: the collector waits until they are made (a tenth of their CPU otherwise), then
        # leaves them out of its later passes.
        gc.disable()
        try:
            from kubectl_userns.cli.app import main as run
        finally:
            gc.freeze()
            gc.enable()
        run()
    except KeyboardInterrupt:
        sys.stderr.write(INTERRUPTED)
        sys.exit(130)
