"""pexpect's ``SocketSpawn`` with the defects of pexpect 4.9 mended (style.md).

pexpect is the IO layer the user fixed.  This subclass makes it fit a POP3
client: bytes only, CRLF line ends, reads copied to ``logfile_read``, an RST
reported as EOF, a ``close()`` that survives an RST, no sleep after every
read, and no system calls to name the socket.
"""

from __future__ import annotations

import errno
import socket
import ssl

from pexpect import EOF, TIMEOUT
from pexpect.socket_pexpect import SocketSpawn
from pexpect.spawnbase import SpawnBase

READ_CHUNK = 65536


class PopSpawn(SocketSpawn):  # type: ignore[misc]
    """``SocketSpawn`` with the defects of pexpect 4.9 mended."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        # What SocketSpawn.__init__ does, but its name: "<socket %s>" % sock
        # asks the kernel for both addresses (a quarter of a connection's
        # setup).  encoding=None: pexpect 4.9's encoding= path is broken for
        # sockets.
        self.args = None
        self.command = None
        SpawnBase.__init__(self, timeout, READ_CHUNK, None, None, encoding=None)
        self.socket = sock
        self.child_fd = sock.fileno()
        self.closed = False
        self.name = f"<socket fd {self.child_fd}>"
        self.use_poll = False
        # The default sleeps 100 us after every read: 7x slower round trips.
        self.delayafterread = None
        # Set when a TLS stream ended with a bare TCP close (no close_notify).
        self.ragged_eof = False
        self.linesep = b"\r\n"
        self._sock_timeout: float | None = -1.0  # unknown until the first read sets it

    def send(self, s: bytes) -> int:
        # SocketSpawn.send coerces, logs and encodes on every call; with
        # encoding=None all it needs to do is log and write the bytes.
        if self.logfile is not None or self.logfile_send is not None:
            self._log(s, "send")
        self.socket.sendall(s)
        return len(s)

    def sendline(self, s: bytes = b"") -> int:
        # SocketSpawn.sendline appends os.linesep, which is LF here.
        return int(self.send(s + b"\r\n"))

    def read_nonblocking(self, size: int = 1, timeout: float | None = -1) -> bytes:
        """One ``recv`` that waits at most ``timeout`` seconds.

        SocketSpawn sets the socket's timeout around every read and puts it
        back (four fcntl calls and a context manager per read: half of a NOOP
        round trip on loopback).  Here the socket keeps a timeout that is
        never longer than the caller's: a read may return TIMEOUT early, and
        the caller, which owns the deadline, reads again.
        """
        if timeout == -1:
            timeout = self.timeout
        sock = self.socket
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            # Decrypted bytes already buffered inside the SSL object: a wait on
            # the descriptor (select, or a recv timeout) would not see them.
            timeout = 0
        # The socket's timeout changes only when it no longer fits: a deadline
        # shrinks between reads, and a timeout of three quarters of it stays
        # valid for the next answers' fresh deadlines, so a steady exchange
        # sets it once.
        current = self._sock_timeout
        if timeout is None:
            if current is not None:
                self._set_timeout(None)
        elif current is None or not timeout / 2 <= current <= timeout:
            self._set_timeout(timeout * 0.75 if timeout > 0.004 else timeout)
        try:
            data: bytes = sock.recv(size)
        except TimeoutError as exc:
            raise TIMEOUT("Timeout exceeded.") from exc
        except (ConnectionResetError, BrokenPipeError) as exc:
            # A peer RST is an end of stream like any other for us.
            self.flag_eof = True
            raise EOF(f"connection reset: {exc}") from exc
        except ssl.SSLEOFError as exc:
            # The TCP connection ended without a TLS close_notify alert.
            self.flag_eof = True
            self.ragged_eof = True
            raise EOF(f"connection closed without a TLS close_notify: {exc}") from exc
        except ssl.SSLError as exc:
            # A broken TLS record or alert ends the stream just the same.
            self.flag_eof = True
            raise EOF(f"TLS error: {exc}") from exc
        if not data:
            self.flag_eof = True
            raise EOF("Socket closed")
        if self.logfile_read is not None:
            # SocketSpawn never writes what it reads to logfile_read.
            self.logfile_read.write(data)
        return data

    def use_socket(self, sock: socket.socket) -> None:
        """Carry on over another socket (the TLS layer after STLS)."""
        self.socket = sock
        self.child_fd = sock.fileno()
        self._sock_timeout = -1.0

    def _set_timeout(self, wanted: float | None) -> None:
        self.socket.settimeout(wanted)
        self._sock_timeout = wanted

    def close(self) -> None:
        if self.child_fd == -1:
            return
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError as exc:
            # ENOTCONN after an RST: the connection is already gone.
            if exc.errno not in (errno.ENOTCONN, errno.EBADF, errno.ECONNRESET):
                raise
        self.socket.close()
        self.child_fd = -1
        self.closed = True


def shutdown_write(sock: socket.socket) -> None:
    """Send a FIN; on a TLS socket keep the TLS state, so that what the server
    still sends can be decrypted (``SSLSocket.shutdown`` would drop it and
    read raw records from then on)."""
    socket.socket.shutdown(sock, socket.SHUT_WR)
