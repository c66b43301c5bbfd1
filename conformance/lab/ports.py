"""Choosing a free TCP port on the loopback interface for a lab server."""

from __future__ import annotations

import random
import socket

# Ports from 32768 up are Linux's ephemeral range: a busy machine may hand one
# of them to an outgoing connection between our check and the server's bind.
LOWEST_PORT = 20000
EPHEMERAL_START = 32768


def free_port(below: int = EPHEMERAL_START, *, tries: int = 200) -> int:
    """Return a port in [20000, below) that nothing on 127.0.0.1 is bound to now.

    The port is only free at the moment of the check, so a caller that loses a
    race for it should ask again (LabServer.start does).
    """
    if not LOWEST_PORT < below <= 65536:
        raise ValueError(f"below must be in ({LOWEST_PORT}, 65536], not {below}")
    # Random order, so that parallel test workers rarely pick the same port.
    rng = random.SystemRandom()
    for _ in range(tries):
        port = rng.randrange(LOWEST_PORT, below)
        if port_is_free(port):
            return port
    raise OSError(f"no free port on 127.0.0.1 in [{LOWEST_PORT}, {below}) after {tries} tries")


def port_is_free(port: int) -> bool:
    """True if a listening socket could bind 127.0.0.1:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # No SO_REUSEADDR: a port that still has TIME_WAIT connections counts as
        # taken, which is what a server without SO_REUSEADDR would see too.
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
