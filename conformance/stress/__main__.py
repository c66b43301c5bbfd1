"""``python -m conformance.stress ARGS``: ``pop3-conformance stress ARGS`` with gevent's
monkey-patching done first, as Locust needs (``pop3-conformance stress`` execs this)."""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from conformance.cli import main  # noqa: E402

sys.exit(main(["stress", *sys.argv[1:]]))
