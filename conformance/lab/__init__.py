"""A lab of real POP3 servers on loopback, started from shipped shell scripts.

    from conformance.lab import LAB_SERVERS
    ok, why = LAB_SERVERS["dovecot"].available()
    with LAB_SERVERS["dovecot"].start(tmp_dir) as server:
        ...  # server.host, server.port, server.accounts, server.seed_cmd()

Installing the servers is .ci/install-servers.sh's job, not this package's.
"""

from __future__ import annotations

from conformance.lab.catalogue import (
    COURIER,
    CYRUS,
    DOVECOT,
    LAB_SERVERS,
    MAILUTILS,
    POPA3D,
    SOLIDPOP3D,
)
from conformance.lab.ports import free_port
from conformance.lab.procs import LabProcess
from conformance.lab.servers import ACCOUNTS, LabError, LabInstance, LabServer

__all__ = [
    "ACCOUNTS",
    "COURIER",
    "CYRUS",
    "DOVECOT",
    "LAB_SERVERS",
    "MAILUTILS",
    "POPA3D",
    "SOLIDPOP3D",
    "LabError",
    "LabInstance",
    "LabProcess",
    "LabServer",
    "free_port",
]
