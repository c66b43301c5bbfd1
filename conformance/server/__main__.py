"""``python -m conformance.server``: run the reference POP3 server."""

from __future__ import annotations

import sys

from conformance.server.cli import main

if __name__ == "__main__":
    sys.exit(main())
