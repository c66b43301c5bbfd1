"""``python -m tests.stress_shim ARGS``: ``pop3-conformance stress ARGS`` with deliveries.

Test-only: the target's provisioner gets the ``deliver`` of
:mod:`tests.delivering` until ``Provisioner.deliver`` lands from its branch.
Like ``python -m conformance.stress``, gevent patches before anything else
is imported.
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402
from typing import Any  # noqa: E402

from conformance import provision, target_flags  # noqa: E402
from conformance.cli import main  # noqa: E402
from tests.delivering import delivering  # noqa: E402

_original = target_flags.make_provisioner


def _delivering(spec: str, **kwargs: Any) -> provision.Provisioner:
    return delivering(_original(spec, **kwargs))


target_flags.make_provisioner = _delivering  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(main(["stress", *sys.argv[1:]]))
