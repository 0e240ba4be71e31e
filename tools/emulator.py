"""Starts the local AWS API emulator (the package in tools/emulator/).

Usage: python tools/emulator.py [--host 127.0.0.1] [--port 5000] [--exit-with-parent]
Prints "emulator listening on http://HOST:PORT" once ready (--port 0 picks a free port)
and runs until SIGTERM or SIGINT, or until its parent exits with --exit-with-parent.
"""

import emulator  # the package beside this file: a package wins over a same-named module

if __name__ == "__main__":
    emulator.main(description=__doc__.splitlines()[0])
