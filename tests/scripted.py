"""A scripted TCP peer for transport tests: it plays a fixed behaviour.

``ScriptedServer(handler)`` accepts connections on 127.0.0.1 and runs
``handler(conn)`` for each in a thread.  Handlers are small functions that
send greetings, garbage, nothing, or endless output, or reset the socket.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType


class ScriptedServer:
    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(10)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        t: type[BaseException] | None,
        e: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def rst(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def run_scenario(
    tmp_path: Path,
    port: int,
    scenario: str,
    *extra: str,
    account: str | None = "alice:secret-pw",
) -> tuple[int, dict[str, object]]:
    """``pop3-conformance run`` of one scenario file against 127.0.0.1:``port``
    (1 s timeout); the exit code and results.json (empty if none was written)."""
    from conformance.cli import main

    suites = tmp_path / "suites"
    suites.mkdir(exist_ok=True)
    (suites / "t.pop3").write_text(scenario)
    report = tmp_path / "report"
    code = main(
        [
            "run",
            *("--suites", str(suites), "--host", "127.0.0.1", "--port", str(port)),
            *(["--account", account] if account else []),
            *("--report-dir", str(report), "--timeout", "1"),
            *extra,
        ]
    )
    written = report / "results.json"
    return code, json.loads(written.read_text()) if written.exists() else {}
