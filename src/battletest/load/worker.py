"""Worker process entry point: ``python -m battletest.load.worker FD``.

The coordinator starts each worker as a plain subprocess in its own session (so Ctrl-C reaches
only the coordinator, which stops the workers gracefully) and talks to it over a
``multiprocessing.connection.Connection`` on the inherited descriptor ``FD``. Unlike
``multiprocessing``'s spawn start method, nothing re-imports the user's main script.
"""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection


def main(argv: list[str]) -> int:
    from battletest.load.runtime import worker_main

    pipe = Connection(int(argv[1]))
    try:
        config = pipe.recv()
    except EOFError:
        return 0
    worker_main(config, pipe)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
